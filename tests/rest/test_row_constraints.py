"""Merged rows that break the table's constraints (rest/row_constraints.py): the older row of a
unique value stays visible, the other is hidden and comes back when it fits; any order of the
same events gives the same table; local writes still fail."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_row_events_support import Writers, open_db, snapshot

from performer_edge.core.events import Event
from performer_edge.errors import Conflict
from performer_edge.rest.row_events import RowStore
from performer_edge.rest.row_format import RowOp, RowWrite

USERS = "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT NOT NULL)"


def users_store() -> RowStore:
    store = RowStore()
    store.table("users", ["id"], ["email", "name"])
    return store


def insert(row_id: int, email: str | None, name: str = "n") -> RowWrite:
    return RowWrite(RowOp.INSERT, "users", {"id": row_id}, {"email": email, "name": name})


def update(row_id: int, **values: object) -> RowWrite:
    return RowWrite(RowOp.UPDATE, "users", {"id": row_id}, dict(values))  # type: ignore[arg-type]


def delete(row_id: int) -> RowWrite:
    return RowWrite(RowOp.DELETE, "users", {"id": row_id}, {})


def apply_all(events: list[Event]) -> dict[str, list[tuple[object, ...]]]:
    conn, store = open_db(":memory:", USERS), users_store()
    for event in events:
        with conn:
            store.apply(conn, event)
    return snapshot(conn, "users")


def visible(state: dict[str, list[tuple[object, ...]]]) -> list[tuple[object, ...]]:
    return state["table"]


def test_the_older_of_two_rows_sharing_a_unique_value_stays_visible_in_any_order() -> None:
    w = Writers()
    older = w.sign(0, 1, insert(1, "ann@example.com", "from node 0"))
    younger = w.sign(1, 2, insert(2, "ann@example.com", "from node 1"))
    first, second = apply_all([older, younger]), apply_all([younger, older])
    assert first == second
    assert visible(first) == [(1, "ann@example.com", "from node 0")]
    assert len(first["hidden"]) == 1


def test_a_hidden_row_comes_back_when_its_rival_goes_or_changes() -> None:
    w = Writers()
    events = [
        w.sign(0, 1, insert(1, "ann@example.com")),
        w.sign(1, 2, insert(2, "ann@example.com", "second")),
    ]
    conn, store = open_db(":memory:", USERS), users_store()
    for event in events:
        store.apply(conn, event)
    change = store.apply(conn, w.sign(0, 3, update(1, email="ann@elsewhere.example")))
    assert change.op is RowOp.UPDATE
    assert [(c.op, c.new_record) for c in change.cascade] == [
        (RowOp.INSERT, {"id": 2, "email": "ann@example.com", "name": "second"})
    ]
    assert snapshot(conn, "users")["hidden"] == []

    # row 1 wants the address back, but row 2 has claimed it since: the first claim keeps it
    change = store.apply(conn, w.sign(0, 4, update(1, email="ann@example.com")))
    assert change.op is RowOp.DELETE  # row 1 left the table, hidden
    assert visible(snapshot(conn, "users")) == [(2, "ann@example.com", "second")]
    change = store.apply(conn, w.sign(1, 5, delete(2)))
    assert change.op is RowOp.DELETE and [c.op for c in change.cascade] == [RowOp.INSERT]
    assert visible(snapshot(conn, "users")) == [(1, "ann@example.com", "n")]
    assert snapshot(conn, "users")["hidden"] == []


def test_an_update_that_overtook_its_insert_waits_hidden() -> None:
    """A NOT NULL column without a value yet: hidden, not refused (refusing would stall sync)."""
    w = Writers()
    inserted = w.sign(0, 1, insert(1, "a@example.com", "ann"))
    updated = w.sign(0, 2, update(1, email="b@example.com"))
    only_update = apply_all([updated])
    assert visible(only_update) == [] and len(only_update["hidden"]) == 1
    assert apply_all([updated, inserted]) == apply_all([inserted, updated])
    assert visible(apply_all([updated, inserted])) == [(1, "b@example.com", "ann")]


def test_local_writes_that_break_a_constraint_still_fail() -> None:
    conn, store = open_db(":memory:", USERS), users_store()
    store.apply(conn, Writers().sign(0, 1, insert(1, "ann@example.com")))
    planned = store.plan_insert(conn, "users", {"id": 2, "email": "ann@example.com", "name": "x"})
    store._planned = (b"payload", planned)  # what `append` does around the log's projection
    event = Writers().sign(1, 2, planned)
    object.__setattr__(event, "payload", b"payload")
    with pytest.raises(Conflict) as raised, conn:
        store.apply(conn, event)
    assert raised.value.error_code == "constraint_violation"


writes = st.lists(
    st.tuples(
        st.integers(0, 2),  # node
        st.sampled_from(["insert", "update", "delete"]),
        st.integers(1, 4),  # row id
        st.sampled_from(["a@x", "b@x", "c@x", None]),  # email (few values: many collisions)
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(writes, st.randoms(use_true_random=False))
def test_any_order_of_the_same_events_gives_the_same_table(
    script: list[tuple[int, str, int, str | None]], rng: random.Random
) -> None:
    w = Writers()
    events = []
    for tick, (node, op, row_id, email) in enumerate(script, start=1):
        write = {
            "insert": insert(row_id, email, f"n{tick}"),
            "update": update(row_id, email=email),
            "delete": delete(row_id),
        }[op]
        events.append(w.sign(node, tick, write))
    reference = apply_all(events)
    for _ in range(3):
        shuffled = events[:]
        rng.shuffle(shuffled)
        assert apply_all(shuffled) == reference
    emails = [row[1] for row in visible(reference) if row[1] is not None]
    assert len(emails) == len(set(emails))  # the table's constraint holds
