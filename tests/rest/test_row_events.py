"""Row events: merge scenarios applied in every order, visible changes, and local planning rules.

A scenario is a short history of writes on nodes 0-2. Each write is planned with the real
`RowStore.plan_*` on a database holding only the earlier writes its node had seen (`saw`), then
signed by that node. Every permutation of the resulting events must give the expected table and
conflicts, and the same shadow state.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from test_row_events_support import (
    ORIGINS,
    Writers,
    items_store,
    open_db,
    sign_write,
    snapshot,
)

from performer_edge.core.events import Event
from performer_edge.errors import Conflict, IntegrityError, InvalidInput, NotFound
from performer_edge.rest.row_events import RowChange, RowStore
from performer_edge.rest.row_format import RowOp, RowWrite
from performer_edge.rest.row_tables import read_conflicts

# Node 1 and node 2 write at equal HLCs in some scenarios; the greater origin bytes must win.
HIGH, LOW = (1, 2) if ORIGINS[1] > ORIGINS[2] else (2, 1)


@dataclass(frozen=True)
class Step:
    node: int
    tick: int
    op: str  # insert | update | delete
    values: dict[str, Any] = field(default_factory=dict)
    saw: tuple[int, ...] = ()  # indices of earlier steps the node had applied when it wrote
    pk: int = 1


def build_events(steps: list[Step]) -> list[Event]:
    writers = Writers()
    events: list[Event] = []
    for step in steps:
        conn, store = open_db(), items_store()
        for index in step.saw:
            store.apply(conn, events[index])
        key = {"id": step.pk}
        if step.op == "insert":
            write = store.plan_insert(conn, "items", {**key, **step.values})
        elif step.op == "update":
            write = store.plan_update(conn, "items", key, step.values)
        else:
            write = store.plan_delete(conn, "items", key)
        events.append(writers.sign(step.node, step.tick, write))
    return events


def conflict_summary(conn: Any) -> list[tuple[str, int, Any]]:
    return sorted((c.column, ORIGINS.index(c.loser.origin), c.value) for c in read_conflicts(conn))


SCENARIOS: dict[str, tuple[list[Step], list[tuple[Any, ...]], list[tuple[str, int, Any]]]] = {
    "update by another node that saw the insert (also arriving first)": (
        [Step(0, 1, "insert", {"a": 1, "b": "x"}), Step(1, 2, "update", {"a": 2}, saw=(0,))],
        [(1, 2, "x", None)],
        [],
    ),
    "delete, then an older update arriving late cannot resurrect": (
        [
            Step(0, 1, "insert", {"a": 1}),
            Step(1, 2, "update", {"a": 2}, saw=(0,)),
            Step(0, 3, "delete", saw=(0, 1)),
        ],
        [],
        [],
    ),
    "delete concurrent with an older update: the update's existence is the lost write": (
        [
            Step(0, 1, "insert", {"a": 1}),
            Step(1, 2, "update", {"a": 2}, saw=(0,)),
            Step(0, 3, "delete", saw=(0,)),
        ],
        [],
        [("", 1, 1)],
    ),
    "update newer than a concurrent delete brings the row back; the delete is kept": (
        [
            Step(0, 1, "insert", {"a": 1, "b": "keep"}),
            Step(0, 2, "delete", saw=(0,)),
            Step(1, 3, "update", {"a": 2}, saw=(0,)),
        ],
        [(1, 2, "keep", None)],
        [("", 0, 0)],
    ),
    "concurrent inserts of one key at equal HLCs: greater origin wins per column": (
        [
            Step(HIGH, 1, "insert", {"a": "high", "b": 7}),
            Step(LOW, 1, "insert", {"a": "low", "b": 7, "c": 1.5}),
        ],
        [(1, "high", 7, None)],
        [("a", LOW, "low"), ("c", LOW, 1.5)],
    ),
    "values Python calls equal but SQLite keeps apart (1 / 1.0, 0.0 / -0.0) still conflict": (
        [
            Step(HIGH, 1, "insert", {"a": 1, "b": 0.0, "c": "same"}),
            Step(LOW, 1, "insert", {"a": 1.0, "b": -0.0, "c": "same"}),
        ],
        [(1, 1, 0.0, "same")],
        [("a", LOW, 1.0), ("b", LOW, -0.0)],
    ),
    "re-insert after delete resurrects with the new values only": (
        [
            Step(0, 1, "insert", {"a": 1, "b": "old", "c": b"\x00"}),
            Step(1, 2, "delete", saw=(0,)),
            Step(2, 3, "insert", {"a": 9}, saw=(0, 1)),
        ],
        [(1, 9, None, None)],
        [],
    ),
    "insert older than a concurrent delete stays deleted": (
        [
            Step(0, 1, "insert", {"a": 1}),
            Step(1, 3, "delete", saw=(0,)),
            Step(2, 2, "insert", {"a": 5}),
        ],
        [],
        [("", 2, 1), ("a", 0, 1)],  # column a: the later insert won, the first one lost
    ),
    "a later write that saw a conflict resolves it": (
        [
            Step(1, 1, "insert", {"a": "one"}),
            Step(2, 2, "insert", {"a": "two"}),
            Step(0, 3, "update", {"a": "three"}, saw=(0, 1)),
        ],
        [(1, "three", None, None)],
        [],
    ),
    "every SQLite type and NULL round-trips, including overwriting with NULL": (
        [
            Step(0, 1, "insert", {"a": 2**63 - 1, "b": -0.0, "c": b"\x00\xff"}),
            Step(1, 2, "update", {"a": None, "b": "text \u00e9\u2603"}, saw=(0,)),
            Step(2, 3, "update", {"c": -(2**63)}, saw=(0, 1)),
            Step(0, 4, "insert", {"a": 1.25}, pk=2),
        ],
        [(1, None, "text \u00e9\u2603", -(2**63)), (2, 1.25, None, None)],
        [],
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_order_gives_the_expected_table_conflicts_and_state(name: str) -> None:
    steps, expected_rows, expected_conflicts = SCENARIOS[name]
    events = build_events(steps)
    results = []
    for order in itertools.permutations(events):
        conn, store = open_db(), items_store()
        for event in (*order, order[0]):  # a repeat at the end changes nothing
            store.apply(conn, event)
        assert conn.execute("SELECT * FROM items ORDER BY id").fetchall() == expected_rows
        assert conflict_summary(conn) == sorted(expected_conflicts)
        results.append(snapshot(conn))
    assert all(result == results[0] for result in results)


def test_changes_report_rows_as_readers_saw_them() -> None:
    conn, store, writers = open_db(), items_store(), Writers()

    def apply(node: int, tick: int, write: RowWrite) -> RowChange:
        return store.apply(conn, writers.sign(node, tick, write))

    event = writers.sign(0, 1, store.plan_insert(conn, "items", {"id": 1, "a": 1}))
    assert store.apply(conn, event) == RowChange(
        "items", RowOp.INSERT, None, {"id": 1, "a": 1, "b": None, "c": None}
    )
    assert store.apply(conn, event) == RowChange("items", RowOp.NONE)
    same = apply(0, 2, store.plan_update(conn, "items", {"id": 1}, {"a": 1}))
    assert same.op is RowOp.UPDATE and same.old_record == same.new_record  # as Postgres reports
    changed = apply(0, 3, store.plan_update(conn, "items", {"id": 1}, {"b": "x"}))
    assert changed.old_record == {"id": 1, "a": 1, "b": None, "c": None}
    assert changed.new_record == {"id": 1, "a": 1, "b": "x", "c": None}
    stale = RowWrite(RowOp.UPDATE, "items", {"id": 1}, {"b": "older"})
    assert apply(1, 2, stale) == RowChange("items", RowOp.NONE)  # lost: kept as a conflict only
    assert conflict_summary(conn) == [("b", 1, "older")]
    gone = apply(0, 4, store.plan_delete(conn, "items", {"id": 1}))
    assert gone == RowChange("items", RowOp.DELETE, {"id": 1, "a": 1, "b": "x", "c": None}, None)


def test_a_dropped_column_is_ignored_and_a_late_table_is_materialized() -> None:
    conn, writers = open_db(), Writers()
    early = RowStore()  # a peer's rows arrive before the migration creating their table
    insert = RowWrite(RowOp.INSERT, "items", {"id": 1}, {"a": 1, "b": 2, "gone": "x"})
    assert early.apply(conn, writers.sign(1, 1, insert)).op is RowOp.NONE
    assert conn.execute("SELECT count(*) FROM items").fetchall() == [(0,)]
    early.table("items", ["id"], ["a", "b", "c"])
    assert early.materialize_table(conn, "items") == 1
    assert conn.execute("SELECT * FROM items").fetchall() == [(1, 1, 2, None)]
    conn.execute("ALTER TABLE items DROP COLUMN b")
    early.table("items", ["id"], ["a", "c"])
    change = early.apply(
        conn, writers.sign(1, 2, RowWrite(RowOp.UPDATE, "items", {"id": 1}, {"b": 3}))
    )
    assert change.old_record == change.new_record == {"id": 1, "a": 1, "c": None}


def test_identifiers_are_quoted_whatever_they_contain() -> None:
    ddl = 'CREATE TABLE "select ""odd"" table"("order" TEXT PRIMARY KEY, "we""ird col", "x-y")'
    conn, store = open_db(":memory:", ddl), RowStore()
    table = 'select "odd" table'
    store.table(table, ["order"], ['we"ird col', "x-y"])
    write = store.plan_insert(conn, table, {"order": "k", 'we"ird col': 1, "x-y": 2})
    change = store.apply(conn, sign_write(0, 1, 1, write))
    assert change.new_record == {"order": "k", 'we"ird col': 1, "x-y": 2}
    delete = store.plan_delete(conn, table, {"order": "k"})
    assert store.apply(conn, sign_write(0, 2, 2, delete)).op is RowOp.DELETE


@pytest.mark.parametrize(
    ("plan", "error", "code"),
    [
        (lambda s, c: s.plan_insert(c, "items", {"id": 1}), Conflict, "duplicate_key"),
        (lambda s, c: s.plan_insert(c, "nope", {"id": 2}), NotFound, "unknown_table"),
        (lambda s, c: s.plan_insert(c, "items", {"a": 1}), InvalidInput, "missing_key"),
        (lambda s, c: s.plan_insert(c, "items", {"id": 2, "z": 1}), InvalidInput, "unknown_column"),
        (
            lambda s, c: s.plan_insert(c, "items", {"id": 2, "a": [1]}),
            InvalidInput,
            "invalid_value",
        ),
        (lambda s, c: s.plan_insert(c, "items", {"id": 2, "a": float("nan")}), InvalidInput, None),
        (lambda s, c: s.plan_insert(c, "items", {"id": 2, "a": 2**63}), InvalidInput, None),
        (lambda s, c: s.plan_update(c, "items", {"id": 2}, {"a": 1}), NotFound, "row_not_found"),
        (lambda s, c: s.plan_update(c, "items", {"id": 1}, {"id": 3}), InvalidInput, None),
        (lambda s, c: s.plan_delete(c, "items", {"id": 2}), NotFound, "row_not_found"),
    ],
)
def test_local_writes_are_checked_before_they_become_events(
    plan: Any, error: type[Exception], code: str | None
) -> None:
    conn, store = open_db(), items_store()
    store.apply(conn, sign_write(0, 1, 1, store.plan_insert(conn, "items", {"id": 1})))
    with pytest.raises(error) as raised:
        plan(store, conn)
    assert code is None or getattr(raised.value, "error_code", None) == code


def test_planning_normalizes_booleans_and_allows_repeating_the_key() -> None:
    conn, store = open_db(), items_store()
    write = store.plan_insert(conn, "items", {"id": 1, "a": True, "b": False})
    assert write.values == {"a": 1, "b": 0, "c": None}
    store.apply(conn, sign_write(0, 1, 1, write))
    update = store.plan_update(conn, "items", {"id": 1}, {"id": 1, "c": "x"})
    assert update.values == {"c": "x"}


@pytest.mark.parametrize(
    "name", ["", "events", "Row_State", "sqlite_master", "bad\x00name", "x" * 64]
)
def test_unusable_table_names_are_refused_at_registration(name: str) -> None:
    with pytest.raises(InvalidInput):
        RowStore().table(name, ["id"], ["a"])


def test_corrupt_shadow_state_is_reported_not_misread() -> None:
    conn, store = open_db(), items_store()
    store.apply(conn, sign_write(0, 1, 1, store.plan_insert(conn, "items", {"id": 1})))
    conn.execute("UPDATE row_state SET state = x'8301'")
    with pytest.raises(IntegrityError) as raised:
        store.plan_update(conn, "items", {"id": 1}, {"a": 1})
    assert raised.value.error_code == "corrupt_row_state"


def test_reset_empties_tables_and_shadow_state_for_a_replay() -> None:
    conn, store = open_db(), items_store()
    store.apply(conn, sign_write(0, 1, 1, store.plan_insert(conn, "items", {"id": 1})))
    store.apply(conn, sign_write(1, 1, 1, RowWrite(RowOp.INSERT, "items", {"id": 1}, {"a": 2})))
    store.projection.reset(conn)
    assert snapshot(conn) == {"table": [], "state": [], "conflicts": [], "hidden": []}


def test_the_projection_returns_the_change_it_made() -> None:
    conn, store = open_db(), items_store()
    event = sign_write(0, 1, 1, store.plan_insert(conn, "items", {"id": 1}))
    change = store.projection.apply(conn, event)
    assert isinstance(change, RowChange) and change.op is RowOp.INSERT
    assert store.projection.apply(conn, event) == RowChange("items", RowOp.NONE)  # a repeat
