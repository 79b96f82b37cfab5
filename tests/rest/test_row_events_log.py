"""Row events through the real log, as a node runs them: local writes via `LogWriter.append`,
a peer's via `LogWriter.ingest`, both through a `Projections` registry; then replay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_row_events_support import ITEMS_DDL, KEYS, open_db, snapshot

from performer_edge.core.db import Database, WriteTx
from performer_edge.core.events import Event
from performer_edge.core.identity import NodeIdentity
from performer_edge.core.log import LogWriter, iter_all, read_missing, version_vector
from performer_edge.core.projections import Projections
from performer_edge.core.replay import replay
from performer_edge.core.schema import CORE_MIGRATIONS, LOG_HORIZON_SCHEMA
from performer_edge.rest.row_constraints import ROW_HIDDEN_SCHEMA
from performer_edge.rest.row_events import RowChange, RowStore
from performer_edge.rest.row_format import RowOp
from performer_edge.rest.row_tables import ROW_EVENTS_SCHEMA


class RowNode:
    """A database, log writer and row store wired as `performer_edge.node` wires capabilities."""

    def __init__(self, path: Path, identity: NodeIdentity) -> None:
        self.rows = RowStore()
        self.rows.table("items", ["id"], ["a", "b", "c"])
        self.projections = Projections()
        self.projections.register(self.rows.projection)
        self.published: list[Event] = []
        self.db = Database(
            path,
            migrations=(
                *CORE_MIGRATIONS,
                LOG_HORIZON_SCHEMA,
                ROW_EVENTS_SCHEMA,
                ROW_HIDDEN_SCHEMA,
                ITEMS_DDL,
            ),
            on_commit=self.published.extend,
        )
        self.log = self.db.run_exclusive(
            lambda c: LogWriter.open(c, identity, self.projections, max_skew_ms=60_000)
        )

    def write(self, plan: Any) -> RowChange:
        """Plan with `plan(rows, conn)` and append, in one write request."""

        def request(tx: WriteTx) -> RowChange:
            return self.rows.append(tx, self.log, plan(self.rows, tx.conn))[1]

        return self.db.write_sync(request)

    def receive_from(self, other: RowNode) -> int:
        theirs = other.db.read_sync(lambda c: read_missing(c, self.db.read_sync(version_vector)))
        return sum(self.db.write_sync(lambda tx, e=e: self.log.ingest(tx, e)) for e in theirs)

    def state(self) -> dict[str, list[tuple[Any, ...]]]:
        return self.db.read_sync(snapshot)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[RowNode, RowNode]]:
    pair = (
        RowNode(tmp_path / "a.db", NodeIdentity(KEYS[0])),
        RowNode(tmp_path / "b.db", NodeIdentity(KEYS[1])),
    )
    yield pair
    for node in pair:
        node.db.close()


def offline_writes(a: RowNode, b: RowNode) -> None:
    """Both nodes start from the same row, then edit it (and others) without syncing."""
    a.write(lambda s, c: s.plan_insert(c, "items", {"id": 1, "a": "first", "b": 1}))
    assert b.receive_from(a) >= 1
    a.write(lambda s, c: s.plan_update(c, "items", {"id": 1}, {"a": "from a"}))
    b.write(lambda s, c: s.plan_update(c, "items", {"id": 1}, {"a": "from b", "c": b"\x01"}))
    b.write(lambda s, c: s.plan_insert(c, "items", {"id": 2, "a": 2.5}))
    a.write(lambda s, c: s.plan_insert(c, "items", {"id": 3, "a": None}))
    a.write(lambda s, c: s.plan_delete(c, "items", {"id": 3}))


def test_local_writes_return_their_change_and_peers_converge(
    nodes: tuple[RowNode, RowNode],
) -> None:
    a, b = nodes
    inserted = a.write(lambda s, c: s.plan_insert(c, "items", {"id": 9, "b": "x"}))
    assert inserted == RowChange(
        "items", RowOp.INSERT, None, {"id": 9, "a": None, "b": "x", "c": None}
    )
    offline_writes(a, b)
    b.receive_from(a)
    a.receive_from(b)
    assert a.state() == b.state()
    table = a.state()["table"]
    assert [row[0] for row in table] == [1, 2, 9]
    assert table[0][1] in {"from a", "from b"} and table[0][3] == b"\x01"
    assert len(a.state()["conflicts"]) == 1  # the losing "a" of the concurrent updates


def test_ingest_gives_the_same_state_as_applying_directly(nodes: tuple[RowNode, RowNode]) -> None:
    a, b = nodes
    offline_writes(a, b)
    b.receive_from(a)
    a.receive_from(b)
    events = b.db.read_sync(lambda c: list(iter_all(c)))
    for order in (events, events[::-1]):
        conn, store = open_db(), RowStore()
        store.table("items", ["id"], ["a", "b", "c"])
        for event in order:
            store.apply(conn, event)
        assert snapshot(conn) == b.state()


def test_replay_rebuilds_the_same_tables(nodes: tuple[RowNode, RowNode]) -> None:
    a, b = nodes
    offline_writes(a, b)
    a.receive_from(b)
    before = a.state()
    report = a.db.run_exclusive(lambda c: replay(c, a.projections))
    assert report.events == 6 and "rows" in report.projections
    assert a.state() == before


def test_a_failed_request_leaves_no_event_and_no_row(nodes: tuple[RowNode, RowNode]) -> None:
    a, _ = nodes

    def request(tx: WriteTx) -> None:
        a.rows.append(tx, a.log, a.rows.plan_insert(tx.conn, "items", {"id": 1}))
        raise RuntimeError("the request failed after writing")

    with pytest.raises(RuntimeError):
        a.db.write_sync(request)
    assert a.state() == {"table": [], "state": [], "conflicts": [], "hidden": []}
    assert a.write(lambda s, c: s.plan_insert(c, "items", {"id": 1})).op is RowOp.INSERT


def test_committed_row_events_carry_their_change_for_realtime(
    nodes: tuple[RowNode, RowNode],
) -> None:
    """What the bus hands postgres_changes: every committed row event with old and new records,
    for local writes and for a peer's events alike; a superseded event's change is NONE."""
    a, b = nodes
    offline_writes(a, b)
    changes = [(e.kind, e.effect.op, e.effect.old_record, e.effect.new_record) for e in a.published]
    assert changes[0][1:] == (RowOp.INSERT, None, {"id": 1, "a": "first", "b": 1, "c": None})
    assert changes[1][1:] == (
        RowOp.UPDATE,
        {"id": 1, "a": "first", "b": 1, "c": None},
        {"id": 1, "a": "from a", "b": 1, "c": None},
    )
    assert [op for _, op, _, _ in changes[2:]] == [RowOp.INSERT, RowOp.DELETE]
    assert changes[3][2] == {"id": 3, "a": None, "b": None, "c": None}

    received = len(b.published)
    b.receive_from(a)
    from_a = b.published[received:]
    assert [e.key for e in from_a] == [e.key for e in a.published[1:]]
    assert all(isinstance(e.effect, RowChange) for e in from_a)
    assert [e.effect.op for e in from_a[1:]] == [RowOp.INSERT, RowOp.DELETE]
