"""The SSE transport, server side, for networks that block WebSocket (sse_wire.py: the format).

`GET /performer/v1/sync/stream` opens a session and streams what it sends as server-sent
events; the peer's frames come up in `POST /performer/v1/sync/push?session=ID&seq=N`, N
counting from 1, applied strictly in order (an upload out of order is refused with 409 and
nothing of it applied). A dropped stream resumes with `Last-Event-ID`: the session keeps its
last `REPLAY_FRAMES` frames (at most `REPLAY_BYTES`) and replays those after the id; a resume
from further back, or for a session that ended, gets a new session. While no stream is attached
the session goes on (its frames wait in the replay buffer); a peer that never comes back is
dropped by the session's dead-peer timeout. The session id is an unguessable token: only the
peer that read the stream can upload to it, and the sync handshake authenticates the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from typing import Final

from aiohttp import web

from performer_edge.errors import Conflict, InvalidInput, NotFound, TooLarge
from performer_edge.http.responses import json_response
from performer_edge.peers import sse_wire
from performer_edge.peers.connection import LinkClosed, PeerConnection
from performer_edge.peers.manager import PeerManager
from sync.codec import MAX_FRAME

STREAM_PATH: Final = "/performer/v1/sync/stream"
PUSH_PATH: Final = "/performer/v1/sync/push"
REPLAY_FRAMES: Final = 1024
REPLAY_BYTES: Final = 16 * 1024 * 1024
MAX_PUSH: Final = 2 * MAX_FRAME + 1024  # one upload; the dialer sends at most one MAX_FRAME
KEEPALIVE_S: Final = 5.0  # a comment line this often, so a dead stream is noticed
STREAM_ERRORS: Final = (ConnectionError, RuntimeError)


class StreamLink:
    """The server end of one SSE session: the current stream (if any) and the replay buffer."""

    transport = "sse"

    def __init__(self, session_id: str, address: str, registry: dict[str, StreamLink]) -> None:
        self.session_id = session_id
        self.address = address
        self.connection: PeerConnection | None = None
        self.next_push = 1
        self.push_lock = asyncio.Lock()
        self._registry = registry
        self._sent: deque[tuple[int, bytes]] = deque()
        self._sent_bytes = 0
        self._next = 1
        self._stream: web.StreamResponse | None = None
        self._attached = asyncio.Event()  # set means: the current attachment is over
        self._closed = False

    def can_resume(self, after: int) -> bool:
        """Whether every frame after `after` is still held."""
        oldest = self._sent[0][0] if self._sent else self._next
        return not self._closed and oldest <= after + 1 <= self._next

    async def send(self, frames: list[bytes]) -> None:
        if self._closed:
            raise LinkClosed("the stream is closed")
        for frame in frames:
            number = self._next
            self._next += 1
            self._sent.append((number, frame))
            self._sent_bytes += len(frame)
            while len(self._sent) > REPLAY_FRAMES or self._sent_bytes > REPLAY_BYTES:
                self._sent_bytes -= len(self._sent.popleft()[1])
            await self._write(sse_wire.frame_event(self.session_id, number, frame))

    async def attach(self, stream: web.StreamResponse, after: int) -> None:
        """Serve `stream`: the session's name, the frames after `after`, then live frames,
        until the stream fails, another stream replaces it or the session ends."""
        self._detach()
        done = self._attached = asyncio.Event()
        await stream.write(sse_wire.session_event(self.session_id))
        written = after
        while pending := [(n, f) for n, f in self._sent if n > written]:
            for number, frame in pending:
                await stream.write(sse_wire.frame_event(self.session_id, number, frame))
                written = number
        self._stream = stream  # no await since the last look: no frame can slip between
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), KEEPALIVE_S)
            except TimeoutError:
                await self._write(sse_wire.KEEPALIVE)

    async def close(self) -> None:
        self._closed = True
        self._registry.pop(self.session_id, None)
        self._detach()

    async def _write(self, data: bytes) -> None:
        stream = self._stream
        if stream is None:
            return  # detached: the frame waits in the replay buffer
        try:
            await stream.write(data)
        except STREAM_ERRORS:
            if stream is self._stream:
                self._detach()

    def _detach(self) -> None:
        self._stream = None
        self._attached.set()


class SseEndpoints:
    """The two routes, over the node's sessions that use this transport."""

    def __init__(self, manager: PeerManager) -> None:
        self.manager = manager
        self.links: dict[str, StreamLink] = {}

    async def stream(self, request: web.Request) -> web.StreamResponse:
        link, after = await self._resumable(request.headers.get("Last-Event-ID", ""))
        if link is None:
            link = StreamLink(secrets.token_urlsafe(18), f"{request.remote}", self.links)
            self.links[link.session_id] = link
            link.connection = self.manager.open(link, "accepted")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx: pass events on as they come
            }
        )
        await response.prepare(request)
        with contextlib.suppress(*STREAM_ERRORS):  # gone; it may resume with Last-Event-ID
            await link.attach(response, after)
        return response

    async def _resumable(self, last_event_id: str) -> tuple[StreamLink | None, int]:
        """The session to resume and the last frame the peer read, or (None, 0)."""
        parsed = sse_wire.parse_event_id(last_event_id) if last_event_id else None
        if parsed is None:
            return None, 0
        session_id, after = parsed
        link = self.links.get(session_id)
        if link is None or link.connection is None:
            return None, 0
        if not link.can_resume(after):
            await link.connection.close(f"cannot resume after frame {after}: no longer held")
            return None, 0
        return link, after

    async def push(self, request: web.Request) -> web.Response:
        session_id = request.query.get("session", "")
        link = self.links.get(session_id)
        if link is None or link.connection is None:
            raise NotFound(
                "no sync session with this id (it ended, or never began): open a new stream",
                code="sync_session_unknown",
            )
        seq = _sequence(request.query.get("seq", ""))
        body = await _read_body(request)
        connection = link.connection
        try:
            frames = sse_wire.unpack_frames(body)
        except sse_wire.WireError as exc:
            await connection.refuse(f"a bad upload: {exc}")
            raise InvalidInput(f"a bad upload: {exc}", code="sync_push_malformed") from exc
        async with link.push_lock:
            if seq != link.next_push:
                raise Conflict(
                    f"upload {seq} is out of order: expected {link.next_push}",
                    code="sync_push_out_of_order",
                )
            link.next_push += 1
            for frame in frames:
                await connection.receive(frame)
        return json_response({"accepted": len(frames), "next_seq": link.next_push})


def _sequence(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
        raise InvalidInput(
            "query parameter seq must be the upload's number, counting from 1",
            code="sync_push_malformed",
        )
    return int(raw)


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_PUSH:
        raise TooLarge(f"an upload is at most {MAX_PUSH} bytes", code="payload_too_large")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_PUSH:
            raise TooLarge(f"an upload is at most {MAX_PUSH} bytes", code="payload_too_large")
    return bytes(body)
