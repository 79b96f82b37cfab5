"""Channels over Server-Sent Events, for networks that block WebSocket.

`GET /realtime/v1/sse?channel=NAME&config=JSON&token=JWT` joins one channel (the config is a
`phx_join` config; the token defaults to the API key) and streams what a WebSocket member would
receive, one SSE event per Phoenix message: `event:` is the Phoenix event, `data:` the message
as a 1.0.0 JSON object, `id:` the log position of what it carries (the latest delivered for
messages that are not logged: replies, presence, system). The first event, `session`, names
the session: `POST /realtime/v1/sse/{session}` with `{"event", "payload"}` pushes a broadcast,
presence or access_token message on the channel (replies arrive on the stream with the ref).

Reconnecting with `Last-Event-ID` (EventSource sends it by itself; `last_event_id` in the query
works too) first sends what the channel logged since that id: broadcasts, and the row changes
its bindings and policies let through (rebuilt from the log; see realtime.changes), no further
back than `realtime_retention`. When more was missed than one catch-up sends, the stream ends
after a `system` message `resume_again`, and the client resumes from the last id it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

import orjson
from aiohttp import web

from performer_edge.errors import InvalidInput, NotFound, PerformerError, Unauthorized
from performer_edge.http.middleware import principal_of
from performer_edge.http.responses import read_json
from performer_edge.realtime.channels import RESUME_AGAIN, Delivery, Session, full_topic
from performer_edge.realtime.component import REALTIME, RealtimeComponent
from performer_edge.realtime.phoenix import Message, UserBroadcast, Vsn

KEEPALIVE_S = 15.0
GONE_POLL_S = 1.0
PUSHABLE = frozenset({"broadcast", "presence", "access_token"})


def register(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/sse", stream)
    app.router.add_post(f"{prefix}/sse/{{session}}", push)


async def stream(request: web.Request) -> web.StreamResponse:
    realtime = request.app[REALTIME]
    name, config, after = _subscription(request)
    principal = principal_of(request)
    token = request.query.get("token") or (principal.token if principal else None)
    session = Session(Vsn.V1, token, realtime.outbox_size)
    session.position = after or 0
    topic = full_topic(name)
    join = Message(topic, "phx_join", {"config": config}, "1", "1")
    try:
        await realtime.hub.join(session, join, resume_after=after)
    except PerformerError:
        realtime.hub.close_session(session)
        raise
    first = await session.next_delivery()
    if first is None or first.message.payload.get("status") != "ok":
        realtime.hub.close_session(session)
        reason = first.message.payload["response"].get("reason", "") if first else "closed"
        raise Unauthorized(reason, code="join_refused")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # no proxy buffering (nginx)
        }
    )
    await response.prepare(request)
    transport = request.transport
    if transport is not None:
        # A client that reads nothing blocks our writes: the server ends it by cutting it off.
        session.interrupt = transport.abort
    key = secrets.token_urlsafe(16)
    realtime.sse_sessions[key] = session
    watcher = asyncio.create_task(_close_when_gone(request, session))
    try:
        await _write(response, "session", {"session": key}, session.position)
        await _write_delivery(response, first, session)
        await _pump(response, session)
    except (ConnectionError, RuntimeError):
        pass  # the client went away; it resumes with Last-Event-ID
    finally:
        watcher.cancel()
        realtime.sse_sessions.pop(key, None)
        realtime.hub.close_session(session)
        session.close("closed")
    return response


async def push(request: web.Request) -> web.Response:
    """A client message for an SSE session's channel; 202, the reply comes on the stream."""
    realtime: RealtimeComponent = request.app[REALTIME]
    session = realtime.sse_sessions.get(request.match_info["session"])
    if session is None or not session.members:
        raise NotFound("no such realtime session (it ended: subscribe again)")
    body = await read_json(request)
    if not isinstance(body, dict) or body.get("event") not in PUSHABLE:
        raise InvalidInput('the body must be {"event": "broadcast"|"presence"|"access_token", ...}')
    payload = body.get("payload") or {}
    ref = body.get("ref")
    if not isinstance(payload, dict) or (ref is not None and not isinstance(ref, str)):
        raise InvalidInput("payload must be an object and ref a string")
    member = next(iter(session.members.values()))
    message = Message(member.topic, body["event"], payload, ref or secrets.token_hex(4))
    await realtime.hub.receive(session, message)
    return web.Response(status=202)


def _subscription(request: web.Request) -> tuple[str, dict[str, Any], int | None]:
    name = request.query.get("channel", "")
    if not name:
        raise InvalidInput("channel is required")
    try:
        config = orjson.loads(request.query.get("config") or "{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"config is not JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise InvalidInput("config must be a JSON object")
    last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if last is None or last == "":
        return name, config, None
    if not last.isdigit():
        raise InvalidInput("Last-Event-ID must be an event id from this stream")
    return name, config, int(last)


async def _close_when_gone(request: web.Request, session: Session) -> None:
    """End the session soon after its client disconnects. aiohttp does not cancel the handler
    (handler_cancellation is off) and a quiet stream would only find out at its next keepalive
    write, up to KEEPALIVE_S later: until then the client would still be present to others.
    Polled: aiohttp offers no disconnect event to wait on."""
    while (transport := request.transport) is not None and not transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(GONE_POLL_S)
    session.close("gone")


async def _pump(response: web.StreamResponse, session: Session) -> None:
    while True:
        try:
            delivery = await asyncio.wait_for(session.next_delivery(), KEEPALIVE_S)
        except TimeoutError:
            await response.write(b": keepalive\n\n")
            continue
        if delivery is None:
            break
        await _write_delivery(response, delivery, session)
    if session.closed == RESUME_AGAIN:
        await _write(
            response,
            "system",
            {"extension": "system", "message": RESUME_AGAIN, "status": "ok"},
            session.position,
        )
    elif session.closed not in ("closed", None):
        await _write(response, "error", {"reason": session.closed}, session.position)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await response.write_eof()


async def _write_delivery(
    response: web.StreamResponse, delivery: Delivery, session: Session
) -> None:
    message = delivery.message
    payload = message.payload
    if isinstance(payload, UserBroadcast):
        payload = payload.as_json_payload()
    data = {
        "topic": message.topic,
        "event": message.event,
        "payload": payload,
        "ref": message.ref,
    }
    position = delivery.position if delivery.position is not None else session.position
    await _write(response, message.event, data, position)


async def _write(response: web.StreamResponse, event: str, data: Any, position: int) -> None:
    body = orjson.dumps(data).decode()
    await response.write(f"id: {position}\nevent: {event}\ndata: {body}\n\n".encode())
