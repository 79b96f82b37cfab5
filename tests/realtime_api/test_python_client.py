"""Realtime with the official Python async client (`supabase` 2.34 / `realtime`, vsn 1.0.0):
broadcast, presence, postgres_changes with filters and row policies, private channels, tokens."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from conftest import RunningNode
from realtime import AsyncRealtimeChannel, RealtimeSubscribeStates
from supabase import AsyncClient, acreate_client

from .conftest import next_item, user_token, wait_until

pytestmark = pytest.mark.network

Opened = Callable[..., Any]


@pytest.fixture
async def client(node: RunningNode) -> AsyncIterator[Opened]:
    """Makes async clients (anon key, or a user's token); closes their sockets afterwards."""
    made: list[AsyncClient] = []

    async def make(token: str | None = None) -> AsyncClient:
        created = await acreate_client(node.url, node.key("anon"))
        if token is not None:
            await created.realtime.set_auth(token)
        made.append(created)
        return created

    yield make
    for created in made:
        await created.realtime.close()


def topic() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def subscribed(channel: AsyncRealtimeChannel) -> AsyncRealtimeChannel:
    states: list[Any] = []
    await channel.subscribe(lambda state, error: states.append((state, error)))
    assert states and states[-1][0] == RealtimeSubscribeStates.SUBSCRIBED, states
    return channel


async def test_broadcast_between_two_clients_with_self_and_ack(client: Opened) -> None:
    name = topic()
    a, b = await client(), await client()
    got_a: asyncio.Queue[Any] = asyncio.Queue()
    got_b: asyncio.Queue[Any] = asyncio.Queue()
    ch_b = b.channel(name).on_broadcast("ping", got_b.put_nowait)
    await subscribed(ch_b)
    ch_a = a.channel(name, {"config": {"broadcast": {"self": True, "ack": True}}})
    ch_a.on_broadcast("ping", got_a.put_nowait)
    await subscribed(ch_a)
    await ch_a.send_broadcast("ping", {"n": 1})
    assert (await next_item(got_b))["payload"] == {"n": 1}
    assert (await next_item(got_a))["payload"] == {"n": 1}  # self: true

    # b has self: false, so its own message reaches only a; an event b does not listen to
    # is not delivered to b's callback.
    await ch_b.send_broadcast("ping", {"n": 2})
    await ch_b.send_broadcast("other", {"n": 3})
    assert (await next_item(got_a))["payload"] == {"n": 2}
    await ch_a.send_broadcast("ping", {"n": 4})
    assert (await next_item(got_b))["payload"] == {"n": 4}  # not {"n": 2}: b did not get its own


async def test_presence_join_update_and_leave(client: Opened) -> None:
    name = topic()
    a, b = await client(), await client()
    joins: list[Any] = []
    leaves: list[Any] = []
    syncs: asyncio.Queue[None] = asyncio.Queue()
    ch_a = a.channel(name, {"config": {"presence": {"key": "alice", "enabled": True}}})
    ch_a.on_presence_join(lambda key, current, new: joins.append((key, new)))
    ch_a.on_presence_leave(lambda key, current, left: leaves.append((key, left)))
    ch_a.on_presence_sync(lambda: syncs.put_nowait(None))
    await subscribed(ch_a)
    ch_b = b.channel(name, {"config": {"presence": {"key": "bob", "enabled": True}}})
    await subscribed(ch_b)

    await ch_b.track({"status": "online"})
    await wait_until(lambda: "bob" in ch_a.presence_state())
    assert ch_a.presence_state()["bob"][0]["status"] == "online"
    await ch_b.track({"status": "away"})  # an update: joins the new meta, leaves the old
    await wait_until(lambda: ch_a.presence_state().get("bob", [{}])[0].get("status") == "away")
    await wait_until(lambda: len(joins) == 2 and len(leaves) == 1)
    assert leaves[0][1][0]["status"] == "online"
    await ch_b.untrack()
    await wait_until(lambda: "bob" not in ch_a.presence_state() and len(leaves) == 2)

    # A new member gets the whole state on join; a closed socket leaves.
    await ch_a.track({"status": "here"})
    c = await client()
    ch_c = c.channel(name, {"config": {"presence": {"key": "carol", "enabled": True}}})
    await subscribed(ch_c)
    await wait_until(lambda: "alice" in ch_c.presence_state())
    await ch_c.track({"status": "new"})
    await wait_until(lambda: "carol" in ch_a.presence_state())
    await c.realtime.close()
    await wait_until(lambda: "carol" not in ch_a.presence_state())


async def test_old_record_follows_the_replica_identity(client: Opened, node: RunningNode) -> None:
    """messages keeps the default replica identity: old records carry only the primary key."""
    a = await client(user_token())
    changes: asyncio.Queue[Any] = asyncio.Queue()
    ch = a.channel(topic())
    ch.on_postgres_changes("*", changes.put_nowait, table="messages", schema="public")
    await subscribed(ch)
    writer = await acreate_client(node.url, node.key("service_role"))
    row = (
        await writer.table("messages")
        .insert({"title": "t", "message": "long enough text"})
        .execute()
    ).data[0]
    await writer.table("messages").update({"title": "u"}).eq("id", row["id"]).execute()
    await writer.table("messages").delete().eq("id", row["id"]).execute()
    inserted, updated, deleted = [(await next_item(changes))["data"] for _ in range(3)]
    assert inserted["record"]["title"] == "t" and "old_record" not in inserted
    assert updated["record"]["title"] == "u"
    assert updated["old_record"] == {"id": row["id"]}
    assert deleted["old_record"] == {"id": row["id"]}


async def test_postgres_changes_each_event_type(client: Opened, node: RunningNode) -> None:
    a = await client(user_token())
    inserts: asyncio.Queue[Any] = asyncio.Queue()
    updates: asyncio.Queue[Any] = asyncio.Queue()
    deletes: asyncio.Queue[Any] = asyncio.Queue()
    every: asyncio.Queue[Any] = asyncio.Queue()
    ch = a.channel(topic())
    ch.on_postgres_changes("INSERT", inserts.put_nowait, table="todos", schema="public")
    ch.on_postgres_changes("UPDATE", updates.put_nowait, table="todos", schema="public")
    ch.on_postgres_changes("DELETE", deletes.put_nowait, table="todos", schema="public")
    ch.on_postgres_changes("*", every.put_nowait, table="todos", schema="public")
    await subscribed(ch)
    writer = await acreate_client(node.url, node.key("service_role"))
    row = (await writer.table("todos").insert({"description": "first"}).execute()).data[0]
    await writer.table("todos").update({"is_completed": True}).eq("id", row["id"]).execute()
    await writer.table("todos").delete().eq("id", row["id"]).execute()

    inserted = (await next_item(inserts))["data"]
    assert inserted["type"] == "INSERT" and inserted["record"]["id"] == row["id"]
    assert inserted["record"]["is_completed"] is False  # typed, not 0
    assert {"name": "is_completed", "type": "bool"} in inserted["columns"]
    assert inserted["commit_timestamp"].endswith("Z")
    updated = (await next_item(updates))["data"]
    assert updated["record"]["is_completed"] is True
    assert updated["old_record"]["id"] == row["id"]
    assert updated["old_record"]["is_completed"] is False
    deleted = (await next_item(deletes))["data"]
    # todos has row level security and replica identity full: a delete sends only the key.
    assert deleted["old_record"] == {"id": row["id"]} and "record" not in deleted
    kinds = [str((await next_item(every))["data"]["type"]) for _ in range(3)]
    assert [k.rsplit(".", 1)[-1].upper() for k in kinds] == ["INSERT", "UPDATE", "DELETE"]


@pytest.mark.parametrize(
    ("filter_text", "matching"),
    [
        ("priority=eq.2", [2]),
        ("priority=neq.2", [1, 3]),
        ("priority=lt.2", [1]),
        ("priority=lte.2", [1, 2]),
        ("priority=gt.2", [3]),
        ("priority=gte.2", [2, 3]),
        ("priority=in.(1,3)", [1, 3]),
        ("priority=gte.2,title=eq.b", [2]),  # conditions joined with "," must all hold
        ('title=in.("a,x",c)', [1, 3]),  # a quoted value may hold a comma
    ],
)
async def test_postgres_changes_filters(
    client: Opened, node: RunningNode, filter_text: str, matching: list[int]
) -> None:
    """Two bindings on one channel: one filtered, one not. Each change arrives once, with the
    ids of the bindings it matches, and the client calls back exactly those."""
    run = uuid.uuid4().hex[:8]
    a = await client()
    filtered: list[int] = []
    everything: list[int] = []
    ch = a.channel(topic())
    ch.on_postgres_changes(
        "INSERT",
        lambda change: filtered.append(change["data"]["record"]["priority"]),
        table="messages",
        schema="public",
        filter=filter_text,
    )
    ch.on_postgres_changes(
        "INSERT",
        lambda change: everything.append(change["data"]["record"]["priority"]),
        table="messages",
        schema="public",
        filter=f"message=eq.message of run {run}",
    )
    await subscribed(ch)
    writer = await acreate_client(node.url, node.key("service_role"))
    rows = [
        {"title": title, "message": f"message of run {run}", "priority": priority}
        for priority, title in ((1, "a,x"), (2, "b"), (3, "c"))
    ]
    await writer.table("messages").insert(rows).execute()
    await wait_until(lambda: len(everything) == 3)
    assert everything == [1, 2, 3]
    assert [p for p in filtered if p in (1, 2, 3)] == matching


async def test_a_policy_hides_other_users_rows(client: Opened, node: RunningNode) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    watcher = await client(user_token(alice))
    seen: list[Any] = []
    ch = watcher.channel(topic())
    ch.on_postgres_changes("INSERT", seen.append, table="notes", schema="public")
    await subscribed(ch)
    for owner, body in ((bob, "bob's secret"), (alice, "alice's note")):
        writer = await acreate_client(node.url, node.key("anon"))
        writer.postgrest.auth(user_token(owner))
        await writer.table("notes").insert({"body": body}).execute()
    # Changes arrive in log order: once alice's note is here, bob's would have been too.
    await wait_until(lambda: len(seen) >= 1)
    assert [s["data"]["record"]["body"] for s in seen] == ["alice's note"]

    # An anonymous subscriber sees no notes at all (no policy for anon), but sees todos.
    anon = await client()
    anon_seen: list[Any] = []
    ch_anon = anon.channel(topic())
    ch_anon.on_postgres_changes("INSERT", anon_seen.append, table="notes", schema="public")
    ch_anon.on_postgres_changes("INSERT", anon_seen.append, table="todos", schema="public")
    await subscribed(ch_anon)
    writer = await acreate_client(node.url, node.key("anon"))
    writer.postgrest.auth(user_token(alice))
    await writer.table("notes").insert({"body": "hidden from anon"}).execute()
    await writer.table("todos").insert({"description": "visible to anon"}).execute()
    await wait_until(lambda: len(anon_seen) >= 1)
    assert [s["data"]["table"] for s in anon_seen] == ["todos"]
