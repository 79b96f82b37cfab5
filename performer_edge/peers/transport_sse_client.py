"""The SSE transport, dialing side: read the peer's stream, upload our frames with POSTs.

When the stream drops while the session lives, `dial` reconnects at once with `Last-Event-ID`
(a few tries, `RESUMES`); if the peer answers with another session id, it could not resume and
this session ends (the dialer starts a new one). A stream silent for `READ_TIMEOUT_S` (the peer
sends a comment every few seconds) counts as dropped. An upload that fails ends the session:
the peer may have applied part of it, so only a new session knows where both stand.
"""

from __future__ import annotations

import asyncio
from typing import Final

import aiohttp

from performer_edge.peers import sse_wire
from performer_edge.peers.connection import LinkClosed, PeerConnection
from performer_edge.peers.manager import PeerManager
from performer_edge.peers.transport_sse import PUSH_PATH, STREAM_PATH
from sync.codec import MAX_FRAME

RESUMES: Final = 3
RESUME_DELAY_S: Final = 0.5
READ_TIMEOUT_S: Final = 20.0
UPLOAD_BYTES: Final = MAX_FRAME  # frames per POST, by size (a frame is never larger)
UPLOAD_TIMEOUT_S: Final = 60.0


class SyncRefused(Exception):
    """The peer answered the stream request with an error (not syncing, not found...)."""


class UploadLink:
    """Frames go up as POSTs numbered from 1; the stream that brings the peer's is attached."""

    transport = "sse"

    def __init__(self, http: aiohttp.ClientSession, base_url: str, session_id: str) -> None:
        self.http = http
        self.address = f"sse+{base_url}"
        self.session_id = session_id
        self.response: aiohttp.ClientResponse | None = None
        self._push_url = base_url + PUSH_PATH
        self._next = 1
        self._closed = False

    async def send(self, frames: list[bytes]) -> None:
        batch: list[bytes] = []
        size = 0
        for frame in frames:
            if batch and size + len(frame) > UPLOAD_BYTES:
                await self._upload(batch)
                batch, size = [], 0
            batch.append(frame)
            size += len(frame)
        if batch:
            await self._upload(batch)

    async def _upload(self, frames: list[bytes]) -> None:
        if self._closed:
            raise LinkClosed("the link is closed")
        params = {"session": self.session_id, "seq": str(self._next)}
        self._next += 1
        try:
            async with self.http.post(
                self._push_url,
                params=params,
                data=sse_wire.pack_frames(frames),
                headers={"Content-Type": "application/octet-stream"},
                timeout=aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_S),
            ) as response:
                if response.status >= 300:
                    text = (await response.text())[:300]
                    raise LinkClosed(f"the peer refused an upload ({response.status}): {text}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LinkClosed(f"an upload failed: {exc or type(exc).__name__}") from exc

    async def close(self) -> None:
        self._closed = True
        if self.response is not None:
            self.response.close()  # ends the stream read that is waiting


async def dial(http: aiohttp.ClientSession, base_url: str, manager: PeerManager) -> PeerConnection:
    """Sync with the peer at `base_url` (http[s]://HOST:PORT) until the session ends. Raises
    aiohttp.ClientError, OSError or SyncRefused when no session could be opened."""
    link: UploadLink | None = None
    connection: PeerConnection | None = None
    last_id = ""
    resumes = 0
    try:
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_id:
                headers["Last-Event-ID"] = last_id
            try:
                async with http.get(
                    base_url + STREAM_PATH,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=READ_TIMEOUT_S),
                ) as response:
                    if response.status != 200:
                        text = (await response.text())[:300]
                        raise SyncRefused(f"{base_url} answered {response.status}: {text}")
                    parser = sse_wire.EventParser()
                    async for chunk in response.content.iter_any():
                        for event in parser.feed(chunk):
                            if event.name == "session":
                                if link is None:
                                    link = UploadLink(http, base_url, event.data)
                                    connection = manager.open(link, "dialed")
                                elif event.data != link.session_id:
                                    assert connection is not None
                                    await connection.link_lost(
                                        "the peer could not resume the stream"
                                    )
                                    await connection.wait_finished()
                                    return connection
                                link.response = response
                                resumes = 0
                            elif connection is not None and event.event_id:
                                last_id = event.event_id
                                await connection.receive(sse_wire.frame_of(event))
                        if connection is not None and connection.finished:
                            return connection
            except sse_wire.WireError as exc:
                if connection is None:
                    raise SyncRefused(f"{base_url} sent a bad stream: {exc}") from exc
                await connection.refuse(f"a bad stream: {exc}")
            except (aiohttp.ClientError, TimeoutError, OSError):
                if connection is None:
                    raise
            if connection is None:
                raise SyncRefused(f"{base_url} closed the stream before naming a session")
            if connection.finished or resumes >= RESUMES:
                await connection.link_lost("the stream dropped and could not be resumed")
                await connection.wait_finished()
                return connection
            resumes += 1
            await asyncio.sleep(RESUME_DELAY_S * resumes)
    finally:  # also when the dialer is stopped: the session says BYE while it can
        if connection is not None:
            await connection.link_lost("the dialer stopped")
            await connection.wait_finished()
