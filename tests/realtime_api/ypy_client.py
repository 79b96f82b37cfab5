"""A Yjs client in Python: a pycrdt doc synced over a y-websocket connection with pycrdt's own
protocol helpers (an implementation independent of the node's codec)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from pycrdt import (
    Doc,
    Text,
    YMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)


class PyYClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get("t", type=Text)
        self.other: list[bytes] = []  # frames that are not sync (awareness, auth)
        self.synced = asyncio.Event()
        self._outgoing: list[bytes] = []
        self.doc.observe(lambda event: self._outgoing.append(event.update))
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, **params: str) -> PyYClient:
        ws = await http.ws_connect(url, params=params)
        client = cls(ws)
        await ws.send_bytes(create_sync_message(client.doc))
        return client

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.BINARY:
                break
            data = bytes(message.data)
            if data[0] != YMessageType.SYNC:
                self.other.append(data)
                continue
            reply = handle_sync_message(data[1:], self.doc)
            if reply is not None:
                await self.ws.send_bytes(reply)
            if data[1] == 1:  # sync step 2: we have what the server had
                self.synced.set()

    async def type(self, text: str, at: int | None = None) -> None:
        """Insert `text` one character per update, as a typist's client sends them."""
        position = len(self.text) if at is None else at
        for offset, char in enumerate(text):
            self.text.insert(position + offset, char)
            await self.flush()

    async def flush(self) -> None:
        while self._outgoing:
            await self.ws.send_bytes(create_update_message(self._outgoing.pop(0)))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.ws.close()
