"""The event bus: commit order, filters, and dropping a slow subscriber with a resume point."""

from __future__ import annotations

import asyncio

import pytest

from performer_edge.core.bus import EventBus, SubscriptionDropped
from performer_edge.core.events import Event


def event(pos: int, kind: str = "app.x") -> Event:
    return Event(b"o" * 32, pos, pos, kind, "s", b"\xf6", b"s" * 64, pos)


async def test_subscribers_get_events_in_commit_order_with_filters() -> None:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    everything = bus.subscribe("all")
    only_b = bus.subscribe("b", accept=lambda e: e.kind == "app.b")
    bus.publish([event(1, "app.a"), event(2, "app.b")])
    bus.publish([event(3, "app.b")])
    got = [await asyncio.wait_for(everything.get(), 5) for _ in range(3)]
    assert [e.pos for e in got] == [1, 2, 3]
    got_b = [await asyncio.wait_for(only_b.get(), 5) for _ in range(2)]
    assert [e.pos for e in got_b] == [2, 3]


async def test_publish_from_another_thread() -> None:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    subscription = bus.subscribe("all")
    await asyncio.to_thread(bus.publish, [event(1)])
    assert (await asyncio.wait_for(subscription.get(), 5)).pos == 1


async def test_a_slow_subscriber_is_dropped_and_told_where_to_resume() -> None:
    bus = EventBus(queue_size=3)
    bus.attach(asyncio.get_running_loop())
    slow = bus.subscribe("slow")
    fast = bus.subscribe("fast", queue_size=100)
    bus.publish([event(i) for i in range(1, 11)])
    await asyncio.sleep(0)  # let the loop run the fan-out
    for _ in range(10):
        await asyncio.wait_for(fast.get(), 5)
    received = [(await slow.get()).pos for _ in range(3)]
    assert received == [1, 2, 3]
    with pytest.raises(SubscriptionDropped) as dropped:
        await slow.get()
    assert dropped.value.last_pos == 3
    assert "fell more than 3 events behind" in dropped.value.reason
    with pytest.raises(SubscriptionDropped):
        await slow.get()
    bus.publish([event(11)])
    assert (await asyncio.wait_for(fast.get(), 5)).pos == 11


async def test_close_wakes_waiting_subscribers() -> None:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    subscription = bus.subscribe("waiter")
    waiter = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)
    bus.close()
    with pytest.raises(SubscriptionDropped, match="shutting down"):
        await asyncio.wait_for(waiter, 5)


async def test_committed_events_reach_subscribers_in_commit_order(node) -> None:  # type: ignore[no-untyped-def]
    node.bus.attach(asyncio.get_running_loop())
    subscription = node.bus.subscribe("all")
    written = await asyncio.gather(*(node.append("app.n", "s", i) for i in range(50)))
    received = [await asyncio.wait_for(subscription.get(), 5) for _ in range(50)]
    assert [e.pos for e in received] == sorted(e.pos for e in written)
    assert {e.data for e in received} == set(range(50))
