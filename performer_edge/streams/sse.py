"""Subscribe to a stream over Server-Sent Events; `id:` is the version, so `Last-Event-ID`
resumes.

`GET /performer/v1/streams/{scope}/subscribe?from=K` (or the `Last-Event-ID` header, which
wins). Without either, the first event is `snapshot` (the newest stored snapshot, `id:` its
version) and the events after it follow. Each event is `event: event` with the event as JSON.
A subscriber that falls behind gets a `system` event `resume_again` and the stream ends
(see `follow`); so does one whose token expires (`token_expired`), within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
from aiohttp import web

from performer_edge.core.bus import SubscriptionDropped
from performer_edge.errors import InvalidInput
from performer_edge.realtime.sse import GONE_POLL_S
from performer_edge.rest.catalog import PolicyCommand
from performer_edge.streams.component import STREAMS
from performer_edge.streams.follow import follow, subscribe
from performer_edge.streams.requests import authorized, caller_expiry, version_param

KEEPALIVE_S = 15.0
RESUME_AGAIN = "resume_again"
TOKEN_EXPIRED = "token_expired"


async def subscribe_sse(request: web.Request) -> web.StreamResponse:
    component = request.app[STREAMS]
    streams = component.streams
    stream = await authorized(request, PolicyCommand.SELECT)
    after = _resume_from(request)
    expires = caller_expiry(request)
    subscription = subscribe(component.bus, streams, stream)
    task = asyncio.current_task()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # no proxy buffering (nginx)
        }
    )
    # While idle the stream looks at its transport this often (see realtime.sse.GONE_POLL_S).
    items = follow(streams, stream, subscription, after, idle_s=GONE_POLL_S)
    version = after or 0
    try:
        # The first item before answering: a version beyond the head is an HTTP error.
        first = await anext(items)
        await response.prepare(request)
        if task is not None:
            component.subscribers.add(task)
        item = first
        written = time.monotonic()
        while True:
            if expires is not None and time.time() >= expires:
                # As realtime closes a channel whose token ran out; the client resumes with a
                # fresh token and Last-Event-ID.
                await _write(response, "system", {"message": TOKEN_EXPIRED}, version)
                break
            if item is None:
                transport = request.transport
                if transport is None or transport.is_closing():
                    break  # the client went away: it resumes with Last-Event-ID
                if time.monotonic() - written >= KEEPALIVE_S:
                    await response.write(b": keepalive\n\n")
                    written = time.monotonic()
            else:
                await _write(response, item.kind, item.data, item.version)
                version, written = item.version, time.monotonic()
            try:
                item = await anext(items)
            except SubscriptionDropped:
                await _write(response, "system", {"message": RESUME_AGAIN}, version)
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await response.write_eof()
                break
    except (ConnectionError, RuntimeError):
        if not response.prepared:
            raise
        # The client went away: it resumes with Last-Event-ID.
    except asyncio.CancelledError:
        if not response.prepared:
            raise
        # The node is stopping (StreamsComponent ends every stream).
    finally:
        await items.aclose()
        subscription.close()
        if task is not None:
            component.subscribers.discard(task)
    return response


def _resume_from(request: web.Request) -> int | None:
    last = request.headers.get("Last-Event-ID")
    if last:
        if not last.isdigit():
            raise InvalidInput(
                "Last-Event-ID must be a version from this stream", code="invalid_version"
            )
        return int(last)
    return version_param(request, "from")


async def _write(response: web.StreamResponse, event: str, data: Any, version: int) -> None:
    body = orjson.dumps(data).decode()
    await response.write(f"id: {version}\nevent: {event}\ndata: {body}\n\n".encode())
