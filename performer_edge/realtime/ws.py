"""`/realtime/v1/websocket`: Phoenix channels over WebSocket, a thin adapter over the hub.

One reader loop decodes frames and hands them to the hub in order; one writer task drains the
session's outbox. A frame that is not Phoenix closes the socket with a reason (1003); a client
silent for longer than `IDLE_TIMEOUT_S` (no heartbeat) is closed; a client too slow to drain
its outbox is closed with 4000 and `slow_client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from performer_edge.errors import InvalidInput
from performer_edge.http.middleware import principal_of
from performer_edge.realtime.channels import CLIENT_ENDED, SLOW_CLIENT, Delivery, Session
from performer_edge.realtime.component import REALTIME
from performer_edge.realtime.phoenix import (
    FrameError,
    Message,
    UserBroadcast,
    Vsn,
    decode_binary,
    decode_text,
    encode,
    encode_broadcast_binary,
    parse_vsn,
)

log = logging.getLogger("performer.realtime")

IDLE_TIMEOUT_S = 60.0  # clients heartbeat every 25 s (supabase-wire.md §4.1)
MAX_FRAME_BYTES = 4 * 1024 * 1024
UNSUPPORTED_DATA = 1003
SLOW_CLIENT_CODE = 4000
CLOSE_WAIT_S = 2.0
GOING_AWAY = 1001


async def websocket(request: web.Request) -> web.StreamResponse:
    realtime = request.app[REALTIME]
    try:
        vsn = parse_vsn(request.query.get("vsn"))
    except FrameError as exc:
        raise InvalidInput(str(exc), code="unsupported_vsn") from exc
    principal = principal_of(request)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, autoping=True)
    await ws.prepare(request)
    session = Session(vsn, principal.token if principal else None, realtime.outbox_size)
    realtime.sessions.add(session)
    realtime.memory.opened()
    writer = asyncio.create_task(_write(ws, session, request.transport))

    def interrupt() -> None:
        writer.cancel()

    session.interrupt = interrupt
    try:
        await _read(ws, session, realtime.hub.receive)
    finally:
        realtime.sessions.discard(session)
        realtime.hub.close_session(session)
        session.close("closed")
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        if not ws.closed:
            await ws.close()
        realtime.memory.closed()
    return ws


Receive = Callable[[Session, Message], Awaitable[None]]


async def _read(ws: web.WebSocketResponse, session: Session, receive: Receive) -> None:
    while not ws.closed and session.closed is None:
        try:
            frame = await ws.receive(timeout=IDLE_TIMEOUT_S)
        except TimeoutError:
            await ws.close(code=1000, message=b"idle: no heartbeat")
            return
        try:
            if frame.type == WSMsgType.TEXT:
                message: Message = decode_text(session.vsn, frame.data)
            elif frame.type == WSMsgType.BINARY:
                message = decode_binary(frame.data)
            else:
                return  # close, closing or error
        except FrameError as exc:
            await ws.close(code=UNSUPPORTED_DATA, message=str(exc)[:120].encode())
            return
        await receive(session, message)


async def _write(
    ws: web.WebSocketResponse, session: Session, transport: asyncio.Transport | None
) -> None:
    try:
        while (delivery := await session.next_delivery()) is not None:
            await _send(ws, session.vsn, delivery)
    except asyncio.CancelledError:
        if session.closed != SLOW_CLIENT:
            raise  # not the session's own interrupt: a real cancellation
    except (ConnectionError, RuntimeError) as exc:
        log.debug("realtime socket write failed: %s", exc)
        session.close("gone")
    if session.closed not in CLIENT_ENDED and not ws.closed:
        # The server ended it (a slow client, shutdown): say why and close, which ends the
        # reader; a client that takes nothing more does not get to hold the socket open.
        code = SLOW_CLIENT_CODE if session.closed == SLOW_CLIENT else GOING_AWAY
        try:
            await asyncio.wait_for(
                ws.close(code=code, message=(session.closed or "").encode()[:120]), CLOSE_WAIT_S
            )
        except TimeoutError:
            if transport is not None:
                transport.abort()


async def _send(ws: web.WebSocketResponse, vsn: Vsn, delivery: Delivery) -> None:
    message = delivery.message
    payload = message.payload
    if isinstance(payload, UserBroadcast):
        if vsn is Vsn.V2:
            await ws.send_bytes(encode_broadcast_binary(payload))
            return
        message = Message(
            message.topic, message.event, payload.as_json_payload(), None, message.join_ref
        )
    await ws.send_str(encode(vsn, message))
