"""Following a stream: the backlog from a version, then live events, with no gap and no
duplicate. Shared by the SSE subscription (`sse`) and `broadcast.stream` on realtime channels
(`channel`).

Theory of operation: the caller takes the bus subscription first (`subscribe`), then `follow`
reads the backlog from the log page by page, the last page up to the stream's head; a live
event at or below the log's position when that page was read is skipped (the backlog sent it,
or it was at or below the version asked for), so an event committed while the backlog was read
comes once.
Versions of live events are counted on: the subscription takes exactly the events the version
index takes (`families.indexed`), in commit order. A subscription that falls `bus_queue_size`
events behind raises `SubscriptionDropped` from the iterator; the follower resumes from the
last version it got.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from performer_edge.core.bus import EventBus, Subscription
from performer_edge.streams.reducers import StreamEvent
from performer_edge.streams.service import Stream, Streams

BACKLOG_PAGE = 500


@dataclass(frozen=True)
class Item:
    """One message of a follow: `snapshot` (`{"version", "state", "head"}`) or `event`."""

    kind: str
    data: Any
    version: int


def subscribe(bus: EventBus, streams: Streams, stream: Stream) -> Subscription:
    """The live side of a follow; take it before `follow` reads anything."""
    families = streams.families
    return bus.subscribe(
        f"stream {stream.scope}",
        accept=lambda e: e.scope == stream.scope and families.indexed(e) is not None,
    )


async def follow(
    streams: Streams,
    stream: Stream,
    subscription: Subscription,
    after: int | None,
    *,
    idle_s: float | None = None,
) -> AsyncGenerator[Item | None, None]:
    """From version `after` (None: the newest stored snapshot first). Yields None after
    `idle_s` seconds without an event, for keepalives."""
    if after is None:
        found = await streams.state_at(stream, None, 0)
        after = found.version
        state = stream.family.reducer.state_json(found.state)
        yield Item("snapshot", {"version": after, "state": state, "head": found.head}, after)
    version = after
    page = await streams.events_from(stream, after, BACKLOG_PAGE)
    while True:
        for item in page.events:
            yield Item("event", stream.event_json(item), item.version)
            version = item.version
        if not page.more:
            break
        page = await streams.events_from(stream, version, BACKLOG_PAGE)
    # The last page read the stream up to its head as of the log's position then: any live
    # event at or below that position was sent, or was at or below `after`.
    sent_pos = page.log_pos
    while True:
        try:
            event = await asyncio.wait_for(subscription.get(), idle_s)
        except TimeoutError:
            yield None
            continue
        if event.pos <= sent_pos:
            continue  # the backlog sent it
        version += 1
        yield Item("event", stream.event_json(StreamEvent(version, event)), version)
