"""The WebSocket transport: one sync message per binary frame, at most `MAX_FRAME` bytes.

`GET /performer/v1/sync` accepts a peer (routes.py registers it); `dial` connects to one. Both
ends run the same read loop. WebSocket pings (`HEARTBEAT_S`) notice a dead TCP connection even
when the session is quiet; the session's own `dead_after` notices a peer that answers pings but
says nothing. A text frame or an oversized one is the peer's fault and ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from performer_edge.errors import InvalidInput
from performer_edge.peers.connection import LinkClosed, PeerConnection
from performer_edge.peers.manager import PeerManager
from sync.codec import MAX_FRAME

SYNC_PATH: Final = "/performer/v1/sync"
SUBPROTOCOL: Final = "performer-sync.1"
HEARTBEAT_S: Final = 10.0  # a ping every 10 s; no pong within 5 s closes the connection

AnyWebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


class WebSocketLink:
    transport = "websocket"

    def __init__(self, socket: AnyWebSocket, address: str) -> None:
        self.socket = socket
        self.address = address

    async def send(self, frames: list[bytes]) -> None:
        try:
            for frame in frames:
                await self.socket.send_bytes(frame)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise LinkClosed(f"sending failed: {exc or type(exc).__name__}") from exc

    async def close(self) -> None:
        # Already gone is as good as closed.
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await self.socket.close()


async def accept(request: web.Request, manager: PeerManager) -> web.WebSocketResponse:
    """Serve one peer that connected to us, until its session ends."""
    socket = web.WebSocketResponse(
        max_msg_size=MAX_FRAME, heartbeat=HEARTBEAT_S, protocols=(SUBPROTOCOL,)
    )
    if not socket.can_prepare(request).ok:
        raise InvalidInput(
            f"{SYNC_PATH} speaks WebSocket (the SSE transport is at {SYNC_PATH}/stream)",
            code="sync_websocket_expected",
        )
    await socket.prepare(request)
    address = f"{request.remote}"
    connection = manager.open(WebSocketLink(socket, address), "accepted")
    session = asyncio.ensure_future(run(socket, connection))
    try:
        await asyncio.shield(session)
    except asyncio.CancelledError:
        # aiohttp cancels the handler when the peer hangs up. The session must still read what
        # is left (an oversized frame is refused and counted as the peer's fault) and end.
        _finishing.add(session)
        session.add_done_callback(_finishing.discard)
        raise
    return socket


_finishing: set[asyncio.Future[None]] = set()  # sessions whose handler was cancelled


async def dial(http: aiohttp.ClientSession, url: str, manager: PeerManager) -> PeerConnection:
    """Connect to the peer at `url` (its sync endpoint) and sync until the session ends.
    Raises aiohttp.ClientError or OSError when the connection cannot be made."""
    async with http.ws_connect(
        url,
        max_msg_size=MAX_FRAME,
        heartbeat=HEARTBEAT_S,
        protocols=(SUBPROTOCOL,),
        timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
    ) as socket:
        connection = manager.open(WebSocketLink(socket, url), "dialed")
        await run(socket, connection)
        return connection


async def run(socket: AnyWebSocket, connection: PeerConnection) -> None:
    """Read frames into the session until the socket closes, then wait for the session's end."""
    reason = "the peer closed the connection"
    try:
        while not connection.finished:
            message = await socket.receive()
            if message.type is WSMsgType.BINARY:
                await connection.receive(message.data)
                continue
            if message.type is WSMsgType.TEXT:
                await connection.refuse("a text frame: sync messages travel in binary frames")
            elif message.type is WSMsgType.ERROR:
                code = getattr(message.data, "code", None)
                if code == WSCloseCode.MESSAGE_TOO_BIG:
                    await connection.refuse(f"a frame over the limit of {MAX_FRAME} bytes")
                reason = f"the connection failed: {message.data}"
            elif socket.close_code == WSCloseCode.MESSAGE_TOO_BIG:
                # aiohttp may close on an oversized frame before it reports the error
                await connection.refuse(f"a frame over the limit of {MAX_FRAME} bytes")
                reason = "the connection closed: a frame over the limit"
            elif socket.close_code not in (None, WSCloseCode.OK, WSCloseCode.GOING_AWAY):
                reason = f"the connection closed with code {socket.close_code}"
            break
    except asyncio.CancelledError:
        reason = "this node stopped dialing"
        raise
    finally:  # also when the dialer is stopped: the session says BYE while it can
        await connection.link_lost(reason)
        await connection.wait_finished()
