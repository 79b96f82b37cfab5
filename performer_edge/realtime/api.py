"""`/realtime/v1` routes: the WebSocket, the HTTP broadcast endpoints and the SSE transport.

HTTP broadcast (supabase-wire.md §4.6): `POST /api/broadcast` with `{"messages": [...]}`, and
`POST /api/broadcast/{topic}/events/{event}` with the payload as the body (JSON, or raw bytes
as `application/octet-stream`); both answer 202 once the broadcasts are logged.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from performer_edge.errors import Forbidden, InvalidInput, Unauthorized
from performer_edge.http.middleware import principal_of
from performer_edge.http.responses import read_json
from performer_edge.realtime import sse, ws, yjs_ws
from performer_edge.realtime.access import Caller, verify_caller
from performer_edge.realtime.channels import full_topic
from performer_edge.realtime.component import REALTIME, RealtimeComponent
from performer_edge.realtime.hub import broadcast_record

PREFIX = "/realtime/v1"
MAX_MESSAGES = 100


def register(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/websocket", ws.websocket)
    app.router.add_post(f"{PREFIX}/api/broadcast", broadcast_messages)
    app.router.add_post(f"{PREFIX}/api/broadcast/{{topic}}/events/{{event}}", broadcast_event)
    sse.register(app, PREFIX)
    app.router.add_get(f"{PREFIX}/yjs/{{doc:.+}}", yjs_ws.yjs_socket)


def caller_of(request: web.Request) -> Caller:
    principal = principal_of(request)
    if principal is None or principal.token is None:
        raise Unauthorized("No API key found in request", code="no_api_key")
    return verify_caller(request.app[REALTIME].hub.deps.tokens, principal.token)


async def broadcast_messages(request: web.Request) -> web.Response:
    realtime = request.app[REALTIME]
    caller = caller_of(request)
    body = await read_json(request)
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise InvalidInput(f'the body must be {{"messages": [...]}} with 1 to {MAX_MESSAGES}')
    records = []
    for item in messages:
        topic, event, private = _message_fields(item)
        await _check_sender(realtime, caller, topic, private)
        records.append(broadcast_record(topic, event, item.get("payload"), private=private))
    await realtime.hub.publish_many(records)
    return web.Response(status=202)


async def broadcast_event(request: web.Request) -> web.Response:
    realtime = request.app[REALTIME]
    caller = caller_of(request)
    topic = request.match_info["topic"]
    event = request.match_info["event"]
    private = request.query.get("private", "false").lower() == "true"
    if request.content_type == "application/octet-stream":
        await _send(realtime, caller, topic, event, None, private, await request.read())
    else:
        await _send(realtime, caller, topic, event, await read_json(request), private, None)
    return web.Response(status=202)


def _message_fields(item: object) -> tuple[str, str, bool]:
    if not isinstance(item, dict):
        raise InvalidInput("each message must be an object")
    topic, event, private = item.get("topic"), item.get("event"), item.get("private", False)
    if not isinstance(topic, str) or not topic or not isinstance(event, str) or not event:
        raise InvalidInput("each message needs a topic and an event")
    if not isinstance(private, bool):
        raise InvalidInput("private must be a boolean")
    return topic, event, private


async def _send(
    realtime: RealtimeComponent,
    caller: Caller,
    topic: str,
    event: str,
    payload: Any,
    private: bool,
    binary: bytes | None,
) -> None:
    await _check_sender(realtime, caller, topic, private)
    await realtime.hub.publish(
        broadcast_record(topic, event, payload, private=private, binary=binary)
    )


async def _check_sender(
    realtime: RealtimeComponent, caller: Caller, topic: str, private: bool
) -> None:
    if not await realtime.hub.sender_allowed(caller, full_topic(topic), private):
        raise Forbidden(
            f"You do not have permissions to write to this Channel topic: {topic}",
            code="channel_forbidden",
        )
