"""The in-process event bus: committed events fanned out to subscribers in commit order.

Overflow policy: each subscription has a bounded queue. The writer never waits for a
subscriber; when a subscriber's queue is full it is dropped, and its next `get()` raises
`SubscriptionDropped` carrying the last position it received, so it can resume from the log
(`core.log.read_after`) and subscribe again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Final

from performer_edge.core.events import Event

log = logging.getLogger("performer.bus")

EventFilter = Callable[[Event], bool]


class SubscriptionDropped(Exception):
    """The subscription fell too far behind (or the bus closed); resume from the log."""

    def __init__(self, reason: str, last_pos: int) -> None:
        super().__init__(f"{reason} (last position received: {last_pos})")
        self.reason = reason
        self.last_pos = last_pos


class Subscription:
    """An async iterator over committed events. Create it with `EventBus.subscribe`."""

    def __init__(
        self, bus: EventBus, name: str, accept: EventFilter | None, maxsize: int, last_pos: int
    ) -> None:
        self.name = name
        self.accept = accept
        self.last_pos = last_pos
        self.dropped: str | None = None
        self.maxsize = maxsize
        self._bus = bus
        # Unbounded underneath: the bound is enforced in `_offer`, so the drop marker always fits.
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    async def get(self) -> Event:
        """The next event, in commit order. Raises SubscriptionDropped once dropped."""
        if self.dropped is not None and self._queue.empty():
            raise SubscriptionDropped(self.dropped, self.last_pos)
        item = await self._queue.get()
        if item is None:
            raise SubscriptionDropped(self.dropped or "closed", self.last_pos)
        self.last_pos = item.pos
        return item

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._bus._remove(self)

    def _offer(self, event: Event) -> bool:
        if self._queue.qsize() >= self.maxsize:
            return False
        self._queue.put_nowait(event)
        return True

    def _drop(self, reason: str) -> None:
        # The reader still gets every event queued before the drop, then the marker: its
        # `last_pos` is exact, so resuming from the log after it loses nothing.
        self.dropped = reason
        self._queue.put_nowait(None)


class EventBus:
    """Delivers committed events on one asyncio loop. `publish` may be called from any thread."""

    DEFAULT_QUEUE: Final = 1024

    def __init__(self, queue_size: int = DEFAULT_QUEUE) -> None:
        self.queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._subscriptions: list[Subscription] = []
        self.last_pos = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident() if loop.is_running() else None

    def subscribe(
        self,
        name: str,
        *,
        accept: EventFilter | None = None,
        queue_size: int | None = None,
    ) -> Subscription:
        """Subscribe from now on. Call from the bus's loop. `accept` filters events."""
        subscription = Subscription(
            self, name, accept, queue_size or self.queue_size, self.last_pos
        )
        self._subscriptions.append(subscription)
        return subscription

    def publish(self, events: Iterable[Event]) -> None:
        """Hand committed events to the loop; never blocks and never waits for subscribers."""
        batch = list(events)
        if not batch:
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._fan_out(batch)  # already on the loop (the writer's settle callback)
            return
        try:
            loop.call_soon_threadsafe(self._fan_out, batch)
        except RuntimeError:
            log.debug("loop closed; %d events not published (they are in the log)", len(batch))

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription._drop("the node is shutting down")
        self._subscriptions.clear()

    def _fan_out(self, batch: list[Event]) -> None:
        self.last_pos = batch[-1].pos
        overflowed: list[Subscription] = []
        for subscription in self._subscriptions:
            for event in batch:
                if subscription.accept is not None and not subscription.accept(event):
                    continue
                if not subscription._offer(event):
                    overflowed.append(subscription)
                    break
        for subscription in overflowed:
            self._remove(subscription)
            subscription._drop(
                f"subscriber {subscription.name!r} fell more than "
                f"{subscription.maxsize} events behind"
            )
            log.warning("dropped slow subscriber %s", subscription.name)

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
