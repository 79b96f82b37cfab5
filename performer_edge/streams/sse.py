"""Subscribe to a stream over Server-Sent Events: the backlog from a version, then live events,
with no gap and no duplicate; `id:` is the event's version, so `Last-Event-ID` resumes.

`GET /performer/v1/streams/{scope}/subscribe?from=K` (or the `Last-Event-ID` header, which
wins). Without either, the first event is `snapshot` (the newest stored snapshot, `id:` its
version) and the events after it follow. Each event is `event: event` with the event as JSON.

Theory of operation: the bus subscription is taken first, then the backlog is read from the log
page by page; a live event at or below the last position the backlog sent is skipped, so an
event committed while the backlog was read is sent once. Versions of live events are counted
on: the subscription takes exactly the events the version index takes (`families.indexed`),
in commit order. A subscriber that falls `bus_queue_size` events behind gets a `system` event
`resume_again` and the stream ends; it resumes from the last id it got.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiohttp import web

from performer_edge.core.bus import Subscription, SubscriptionDropped
from performer_edge.errors import InvalidInput
from performer_edge.rest.catalog import PolicyCommand
from performer_edge.streams.component import STREAMS
from performer_edge.streams.reducers import StreamEvent
from performer_edge.streams.requests import authorized, event_json, version_param
from performer_edge.streams.service import Stream

KEEPALIVE_S = 15.0
BACKLOG_PAGE = 500
RESUME_AGAIN = "resume_again"


async def subscribe(request: web.Request) -> web.StreamResponse:
    component = request.app[STREAMS]
    streams = component.streams
    stream = await authorized(request, PolicyCommand.SELECT)
    after = _resume_from(request)
    families = streams.families
    subscription = component.bus.subscribe(
        f"stream {stream.scope}",
        accept=lambda e: e.scope == stream.scope and families.indexed(e) is not None,
    )
    task = asyncio.current_task()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # no proxy buffering (nginx)
        }
    )
    try:
        first: dict[str, Any] | None = None
        if after is None:
            found = await streams.state_at(stream, None, 0)
            after = found.version
            first = {
                "version": found.version,
                "state": stream.family.reducer.state_json(found.state),
                "head": found.head,
            }
        # Read before answering: a version beyond the head is an HTTP error, not a stream.
        page = await streams.events_from(stream, after, BACKLOG_PAGE)
        await response.prepare(request)
        if task is not None:
            component.subscribers.add(task)
        if first is not None:
            await _write(response, "snapshot", first, after)
        version, sent_pos = after, 0
        while True:
            for item in page.events:
                await _write(response, "event", event_json(stream, item), item.version)
                version, sent_pos = item.version, item.event.pos
            if not page.more:
                break
            page = await streams.events_from(stream, version, BACKLOG_PAGE)
        await _live(response, stream, subscription, version, sent_pos)
    except (ConnectionError, RuntimeError):
        if not response.prepared:
            raise
        # The client went away: it resumes with Last-Event-ID.
    except asyncio.CancelledError:
        if not response.prepared:
            raise
        # The node is stopping (StreamsComponent ends every stream).
    finally:
        subscription.close()
        if task is not None:
            component.subscribers.discard(task)
    return response


async def _live(
    response: web.StreamResponse,
    stream: Stream,
    subscription: Subscription,
    version: int,
    sent_pos: int,
) -> None:
    while True:
        try:
            event = await asyncio.wait_for(subscription.get(), KEEPALIVE_S)
        except TimeoutError:
            await response.write(b": keepalive\n\n")
            continue
        except SubscriptionDropped:
            await _write(response, "system", {"message": RESUME_AGAIN}, version)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await response.write_eof()
            return
        if event.pos <= sent_pos:
            continue  # the backlog sent it
        version += 1
        item = StreamEvent(version, event)
        await _write(response, "event", event_json(stream, item), version)


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
