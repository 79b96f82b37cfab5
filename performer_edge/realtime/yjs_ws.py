"""`/realtime/v1/yjs/{doc}`: a Yjs document over the y-websocket protocol.

Who may open a document is decided by policies on `realtime.messages` with extension `yjs`
and `realtime.topic()` the document name, as for private channels: SELECT to read (sync),
INSERT to write (updates); a reader's updates are refused with an auth `permission denied`
frame. The token is the `token` query parameter (y-websocket sends its `params` there), else
the API key. On connect the server sends sync step 1 and the known awareness states, answers
step 1 with step 2, and sends every logged update to every connection (including its sender:
applying it again is a no-op, as with y-websocket's own server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import apsw
from aiohttp import WSMsgType, web

from performer_edge.errors import Forbidden, InvalidInput, PerformerError, Unauthorized
from performer_edge.http.middleware import principal_of
from performer_edge.realtime.access import Caller, channel_allowed, verify_caller
from performer_edge.realtime.component import REALTIME, RealtimeComponent
from performer_edge.realtime.ydoc_store import EMPTY_UPDATE
from performer_edge.realtime.ydocs import DocRoom, YConnection
from performer_edge.realtime.yjs_protocol import (
    AwarenessFrame,
    QueryAwarenessFrame,
    SyncFrame,
    SyncStep,
    YjsFrameError,
    decode_frame,
    permission_denied_frame,
)
from performer_edge.rest.catalog import PolicyCommand

log = logging.getLogger("performer.realtime")

MAX_DOC_NAME = 255
MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_IN_FLIGHT = 256  # updates of one connection waiting for their commit
UNSUPPORTED_DATA = 1003


async def yjs_socket(request: web.Request) -> web.StreamResponse:
    realtime = request.app[REALTIME]
    name = request.match_info["doc"]
    if not name or len(name) > MAX_DOC_NAME:
        raise InvalidInput(f"a document name has 1 to {MAX_DOC_NAME} characters")
    principal = principal_of(request)
    token = request.query.get("token") or (principal.token if principal else None)
    if token is None:
        raise Unauthorized("No API key found in request", code="no_api_key")
    caller = verify_caller(realtime.hub.deps.tokens, token)
    may_read, may_write = await _access(realtime, caller, name)
    if not may_read:
        raise Forbidden(f"no policy lets this caller open document {name!r}", code="doc_forbidden")
    connection = YConnection(realtime.outbox_size)
    # Load before the upgrade: a document that cannot be loaded is an HTTP error, not a socket
    # that closes at once.
    room = await realtime.ydocs.join(name, connection)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, heartbeat=30.0)
    try:
        await ws.prepare(request)
    except BaseException:
        await realtime.ydocs.leave(room, connection)
        raise
    writer = asyncio.create_task(_write(ws, connection))
    connection.send(room.step1())
    awareness = room.awareness_frame()
    if awareness is not None:
        connection.send(awareness)
    in_flight: set[asyncio.Task[None]] = set()
    try:
        await _read(ws, realtime, room, connection, may_write, in_flight)
        if in_flight:
            await asyncio.wait(in_flight)
    finally:
        await realtime.ydocs.leave(room, connection)
        connection.close()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        if not ws.closed:
            await ws.close()
    return ws


async def _read(
    ws: web.WebSocketResponse,
    realtime: RealtimeComponent,
    room: DocRoom,
    connection: YConnection,
    may_write: bool,
    in_flight: set[asyncio.Task[None]],
) -> None:
    async for message in ws:
        if message.type != WSMsgType.BINARY or connection.closed:
            break
        try:
            frame = decode_frame(message.data)
            if isinstance(frame, SyncFrame):
                if frame.step is SyncStep.STEP1:
                    connection.send(room.step2(frame.payload))
                elif frame.payload != EMPTY_UPDATE:
                    if not may_write:
                        connection.send(permission_denied_frame("read-only document"))
                        continue
                    await _submit(realtime, room, frame.payload, in_flight)
            elif isinstance(frame, AwarenessFrame):
                room.relay_awareness(connection, frame.update)
            elif isinstance(frame, QueryAwarenessFrame):
                awareness = room.awareness_frame()
                if awareness is not None:
                    connection.send(awareness)
        except YjsFrameError as exc:
            await ws.close(code=UNSUPPORTED_DATA, message=str(exc)[:120].encode())
            return


async def _submit(
    realtime: RealtimeComponent, room: DocRoom, update: bytes, in_flight: set[asyncio.Task[None]]
) -> None:
    """Apply now and log without waiting for the commit (group commit batches a fast typist's
    updates), but never with more than MAX_IN_FLIGHT waiting."""
    room.apply(update)  # raises YjsFrameError before anything is logged
    if len(in_flight) >= MAX_IN_FLIGHT:
        await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
    task = asyncio.create_task(realtime.ydocs.append_update(room, update))
    in_flight.add(task)
    task.add_done_callback(in_flight.discard)
    task.add_done_callback(_log_failure)


async def _write(ws: web.WebSocketResponse, connection: YConnection) -> None:
    try:
        while (frame := await connection.queue.get()) is not None:
            await ws.send_bytes(frame)
    except (ConnectionError, RuntimeError) as exc:
        log.debug("yjs socket write failed: %s", exc)
    connection.close()
    if not ws.closed:
        await ws.close()


async def _access(realtime: RealtimeComponent, caller: Caller, name: str) -> tuple[bool, bool]:
    if caller.context.bypass_rls:
        return True, True
    hub = realtime.hub

    def check(conn: apsw.Connection) -> tuple[bool, bool]:
        catalog = hub.deps.catalog(conn)
        allowed = [
            channel_allowed(conn, catalog, caller.context, name, command, ("yjs",))
            for command in (PolicyCommand.SELECT, PolicyCommand.INSERT)
        ]
        return allowed[0], allowed[1]

    return await hub.deps.db.read(check)


def _log_failure(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if isinstance(error, PerformerError):
        log.warning("a Yjs update was not logged: %s", error)
    elif error is not None:
        log.error("a Yjs update was not logged", exc_info=error)
