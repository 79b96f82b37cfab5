"""A bare Phoenix client over aiohttp, to check frames byte for byte (vsn 1.0.0 and 2.0.0)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp

from .conftest import WAIT_S


class RawSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, vsn: str) -> None:
        self.ws = ws
        self.vsn = vsn
        self.refs = itertools.count(1)

    @classmethod
    async def open(
        cls, session: aiohttp.ClientSession, url: str, key: str, vsn: str = "1.0.0"
    ) -> RawSocket:
        ws_url = url.replace("http://", "ws://") + "/realtime/v1/websocket"
        ws = await session.ws_connect(ws_url, params={"apikey": key, "vsn": vsn})
        return cls(ws, vsn)

    async def push(self, topic: str, event: str, payload: Any, join_ref: str | None = None) -> str:
        ref = str(next(self.refs))
        if self.vsn == "2.0.0":
            await self.ws.send_str(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            frame = {"topic": topic, "event": event, "payload": payload, "ref": ref}
            await self.ws.send_str(json.dumps({**frame, "join_ref": join_ref}))
        return ref

    async def join(self, topic: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
        ref = await self.push(topic, "phx_join", {"config": config, **extra})
        reply = await self.reply_to(ref)
        return reply

    async def receive(self, within: float = WAIT_S) -> Any:
        """The next message: a dict (JSON frames of either vsn, normalized) or raw bytes."""
        frame = await self.ws.receive(timeout=within)
        if frame.type == aiohttp.WSMsgType.BINARY:
            return bytes(frame.data)
        if frame.type != aiohttp.WSMsgType.TEXT:
            return frame
        data = json.loads(frame.data)
        if isinstance(data, list):
            join_ref, ref, topic, event, payload = data
            return {
                "join_ref": join_ref,
                "ref": ref,
                "topic": topic,
                "event": event,
                "payload": payload,
            }
        return data

    async def next_event(self, event: str, within: float = WAIT_S) -> Any:
        async def find() -> Any:
            while True:
                message = await self.receive(within)
                if isinstance(message, dict) and message.get("event") == event:
                    return message

        return await asyncio.wait_for(find(), within)

    async def reply_to(self, ref: str, within: float = WAIT_S) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                message = await self.receive(within)
                if isinstance(message, dict) and message.get("ref") == ref:
                    assert message["event"] == "phx_reply", message
                    return dict(message["payload"])

        return await asyncio.wait_for(find(), within)
