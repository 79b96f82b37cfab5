"""Streams below HTTP, on a real node's database: the reducers, versions kept through log
compaction and replay, and the schema step's backfill indexing what the projection does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from performer_edge.config import Settings
from performer_edge.core.replay import replay
from performer_edge.errors import NotFound
from performer_edge.node import Node
from performer_edge.streams.follow import follow, subscribe
from performer_edge.streams.reducers import merge_patch
from performer_edge.streams.service import Streams
from performer_edge.streams.store import BACKFILL

# RFC 7396, Appendix A: (target, patch, result).
RFC_7396_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_7396_EXAMPLES)
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    opened = Node.open(Settings(data=tmp_path / "data"))
    yield opened
    opened.close()


def streams_of(node: Node) -> Streams:
    return node.streams.streams


async def append_ops(node: Node, scope: str, values: range) -> None:
    await node.append_many([("app.stream", scope, {"op": "append", "value": n}) for n in values])


async def test_versions_survive_compaction_and_replay(node: Node) -> None:
    streams = streams_of(node)
    stream = streams.resolve("actor:kept")
    await append_ops(node, "actor:kept", range(20))
    await node.append_many([("app.other", "app:noise", {"op": "set", "value": 1})] * 5)
    assert await streams.snapshot(stream, None, "request") == (20, list(range(20)))
    node.snapshots.compact()  # every event so far leaves the log
    latest = await streams.state_at(stream, None, 10)
    assert (latest.version, latest.state, latest.events) == (20, list(range(20)), [])
    with pytest.raises(NotFound) as gone:
        await streams.state_at(stream, 5, 10)
    assert gone.value.error_code == "stream_history_compacted"
    await append_ops(node, "actor:kept", range(20, 23))
    page = await streams.events_from(stream, 20, 10)
    assert [item.version for item in page.events] == [21, 22, 23]
    node.db.run_exclusive(
        lambda conn: replay(
            conn,
            node.projections,
            migrations=node.db.migrations,
            prepare=node.db.prepare,
            local_tables=node.snapshots.local_tables,
        )
    )
    node.db.run_exclusive(node.log.reload)
    after = await streams.state_at(stream, 23, 10)
    assert (after.version, after.head, after.state) == (23, 23, list(range(23)))
    with pytest.raises(NotFound):
        await streams.events_from(stream, 19, 10)


async def test_the_backfill_indexes_what_the_projection_indexes(node: Node) -> None:
    await node.append_many(
        [
            ("app.stream", "actor:one", {"op": "set", "value": 1}),
            ("app.note", "app:two", {"n": 1}),
            ("app.note", "", {"n": 2}),  # no stream: no family for scope ""
            ("app.note", "ACTOR:upper", {"n": 3}),  # prefixes are case-sensitive
            ("app.note", "actor:", {"n": 4}),  # a prefix alone names no stream
            ("ydoc.update", "ydoc:d", {"u": b"\x00\x00"}),
            ("realtime.broadcast", "realtime:room", {"event": "e", "payload": {}}),
            ("realtime.broadcast", "actor:one", {"event": "e"}),  # not an actor stream's kind
            ("app.stream", "actor:one", {"op": "set", "value": 2}),
        ]
    )

    def index(conn: apsw.Connection) -> list[tuple[Any, ...]]:
        return conn.execute(
            "SELECT i.scope, i.version, e.pos FROM stream_index i "
            "JOIN events e ON e.origin = i.origin AND e.seq = i.seq ORDER BY e.pos"
        ).fetchall()

    projected = node.db.read_sync(index)
    assert [(s, v) for s, v, _ in projected] == [
        ("actor:one", 1),
        ("app:two", 1),
        ("ydoc:d", 1),
        ("realtime:room", 1),
        ("actor:one", 2),
    ]

    def backfill(conn: apsw.Connection) -> list[tuple[Any, ...]]:
        conn.execute("DELETE FROM stream_index")
        conn.execute(BACKFILL)
        return index(conn)

    assert node.db.run_exclusive(backfill) == projected


async def test_a_follow_from_the_newest_version_skips_what_the_bus_still_holds(node: Node) -> None:
    """An event committed after the subscription but before the backlog is read, and already
    covered by the version asked for, must not come again (as the next version)."""
    node.bus.attach(asyncio.get_running_loop())
    streams = streams_of(node)
    stream = streams.resolve("actor:race")
    await append_ops(node, "actor:race", range(2))
    subscription = subscribe(node.bus, streams, stream)
    try:
        await append_ops(node, "actor:race", range(2, 3))  # version 3, now queued on the bus
        assert subscription.pending() == 1
        items = follow(streams, stream, subscription, 3)  # the client already has version 3
        first = asyncio.create_task(anext(items))
        for _ in range(500):  # until the follow reads the bus: the backlog is behind it
            if subscription.pending() == 0 or first.done():
                break
            await asyncio.sleep(0.01)
        await append_ops(node, "actor:race", range(3, 4))
        item = await asyncio.wait_for(first, 5)
        assert item is not None and (item.version, item.data["data"]["value"]) == (4, 3)
        await items.aclose()
    finally:
        subscription.close()
