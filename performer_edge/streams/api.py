"""`/performer/v1/streams/{scope}`: a scope's events as a versioned stream (the actor sync API).

GET the stream (head, snapshots), a snapshot at a version plus the events after it (paged),
the events after a version; POST events (actor and app streams) and snapshots; subscribe over
SSE (`sse`). Each call is authorised by the caller's policies on `realtime.messages` for the
scope's family (SELECT to read, INSERT to append), as private channels and Yjs documents are;
service_role passes.
"""

from __future__ import annotations

from aiohttp import web

from performer_edge.errors import InvalidInput
from performer_edge.http.responses import json_response, read_json
from performer_edge.rest.catalog import PolicyCommand
from performer_edge.streams import sse
from performer_edge.streams.component import STREAMS
from performer_edge.streams.reducers import StreamEvent
from performer_edge.streams.requests import (
    authorized,
    page_param,
    scope_of,
    version_param,
)

PREFIX = "/performer/v1/streams"


def register(app: web.Application) -> None:
    route = f"{PREFIX}/{{scope:.+}}"
    app.router.add_get(f"{route}/snapshot", get_snapshot)
    app.router.add_post(f"{route}/snapshots", post_snapshot)
    app.router.add_get(f"{route}/events", get_events)
    app.router.add_post(f"{route}/events", post_events)
    app.router.add_get(f"{route}/subscribe", sse.subscribe_sse)
    app.router.add_get(route, get_stream)  # last: its pattern would swallow the others


async def get_stream(request: web.Request) -> web.Response:
    stream = await authorized(request, PolicyCommand.SELECT)
    return json_response(await request.app[STREAMS].streams.describe(stream))


async def get_snapshot(request: web.Request) -> web.Response:
    stream = await authorized(request, PolicyCommand.SELECT)
    at = version_param(request, "at")
    limit = page_param(request)
    found = await request.app[STREAMS].streams.state_at(stream, at, limit)
    reducer = stream.family.reducer
    return json_response(
        {
            "scope": stream.scope,
            "version": found.version,
            "state": reducer.state_json(found.state),
            "head": found.head,
            "events": [stream.event_json(item) for item in found.events],
            "next": found.events[-1].version if found.more else None,
        }
    )


async def get_events(request: web.Request) -> web.Response:
    stream = await authorized(request, PolicyCommand.SELECT)
    after = version_param(request, "from") or 0
    page = await request.app[STREAMS].streams.events_from(stream, after, page_param(request))
    return json_response(
        {
            "scope": stream.scope,
            "from": after,
            "head": page.head,
            "events": [stream.event_json(item) for item in page.events],
            "next": page.events[-1].version if page.more else None,
        }
    )


async def post_events(request: web.Request) -> web.Response:
    streams = request.app[STREAMS].streams
    stream = streams.resolve(scope_of(request))
    items = streams.parse_append(stream, await read_json(request))
    await authorized(request, PolicyCommand.INSERT, stream)
    expect = version_param(request, "expect")
    head, events = await streams.append(stream, items, expect)
    first = head - len(events) + 1
    body = {
        "scope": stream.scope,
        "head": head,
        "events": [
            stream.event_json(StreamEvent(first + n, event)) for n, event in enumerate(events)
        ],
    }
    return json_response(body, status=201)


async def post_snapshot(request: web.Request) -> web.Response:
    """Make a snapshot now: at the head, or at `{"at": k}` (a writer's call: it costs a fold)."""
    stream = await authorized(request, PolicyCommand.INSERT)
    raw = await request.read()
    at: int | None = None
    if raw.strip():
        body = await read_json(request)
        value = body.get("at") if isinstance(body, dict) else None
        if not isinstance(body, dict) or set(body) - {"at"}:
            raise InvalidInput('the body is {"at": VERSION} or empty', code="invalid_json")
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidInput("at must be an integer version", code="invalid_version")
        at = value
    version, state = await request.app[STREAMS].streams.snapshot(stream, at, "request")
    payload = {
        "scope": stream.scope,
        "version": version,
        "state": stream.family.reducer.state_json(state),
    }
    return json_response(payload, status=201)
