"""The row event payload: what a node writes, and the clean refusal of anything malformed."""

from __future__ import annotations

import datetime
from typing import Any

import cbor2
import pytest
from test_row_events_support import KEYS, ORIGINS, hlc, items_store, open_db, sign_raw, snapshot

from performer_edge.core.events import sign_event
from performer_edge.errors import IntegrityError
from performer_edge.rest.row_format import Clock, RowOp, RowWrite, parse_row_event

GOOD = {"v": 1, "table": "items", "pk": {"id": 1}, "set": {"a": 1}}
BASE = [hlc(1), ORIGINS[1], ["a"]]


def test_the_payload_round_trips_and_leaves_clock_and_origin_to_the_event() -> None:
    write = RowWrite(
        RowOp.UPDATE,
        "items",
        {"id": 1},
        {"a": b"\x01", "b": None},
        {
            "a": (Clock(hlc(1), ORIGINS[1]), Clock(hlc(2), ORIGINS[0])),
            "": (Clock(hlc(1), ORIGINS[1]),),
        },
    )
    assert write.kind == "row.update" and write.scope == "table:items"
    payload = write.payload()
    assert payload["base"] == [[hlc(1), ORIGINS[1], ["", "a"]], [hlc(2), ORIGINS[0], ["a"]]]
    assert "hlc" not in payload and "origin" not in payload
    assert parse_row_event(sign_raw(write.kind, write.scope, payload, tick=3)) == write


def test_a_delete_payload_has_no_set() -> None:
    write = RowWrite(RowOp.DELETE, "items", {"id": "k"})
    assert write.payload() == {"v": 1, "table": "items", "pk": {"id": "k"}}
    assert write.registers() == {"": 0}


MALFORMED: list[tuple[str, str, str, Any]] = [
    ("unknown kind", "row.upsert", "table:items", GOOD),
    ("payload not a map", "row.insert", "table:items", [1, 2]),
    ("unknown format", "row.insert", "table:items", {**GOOD, "v": 2}),
    ("no format", "row.insert", "table:items", {k: v for k, v in GOOD.items() if k != "v"}),
    ("table not a string", "row.insert", "table:1", {**GOOD, "table": 1}),
    ("empty table", "row.insert", "table:", {**GOOD, "table": ""}),
    ("reserved table", "row.insert", "table:events", {**GOOD, "table": "events"}),
    ("control char", "row.insert", "table:a\x00", {**GOOD, "table": "a\x00"}),
    ("scope mismatch", "row.insert", "table:other", GOOD),
    ("pk missing", "row.insert", "table:items", {**GOOD, "pk": None}),
    ("pk empty", "row.insert", "table:items", {**GOOD, "pk": {}}),
    ("pk null", "row.insert", "table:items", {**GOOD, "pk": {"id": None}}),
    ("pk bad column", "row.insert", "table:items", {**GOOD, "pk": {"": 1}}),
    ("set missing", "row.update", "table:items", {**GOOD, "set": None}),
    ("set repeats pk", "row.update", "table:items", {**GOOD, "set": {"id": 2}}),
    ("list value", "row.insert", "table:items", {**GOOD, "set": {"a": [1]}}),
    ("map value", "row.insert", "table:items", {**GOOD, "set": {"a": {"x": 1}}}),
    ("bool value", "row.insert", "table:items", {**GOOD, "set": {"a": True}}),
    (
        "tagged value",
        "row.insert",
        "table:items",
        {**GOOD, "set": {"a": datetime.date(2026, 1, 1)}},
    ),
    ("huge int", "row.insert", "table:items", {**GOOD, "set": {"a": 2**64}}),
    ("nan", "row.insert", "table:items", {**GOOD, "set": {"a": float("nan")}}),
    ("column key not text", "row.insert", "table:items", {**GOOD, "set": {1: 1}}),
    ("delete with set", "row.delete", "table:items", GOOD),
    ("base not a list", "row.insert", "table:items", {**GOOD, "base": {}}),
    ("base entry short", "row.insert", "table:items", {**GOOD, "base": [[1, ORIGINS[0]]]}),
    ("base hlc not int", "row.insert", "table:items", {**GOOD, "base": [["1", ORIGINS[0], ["a"]]]}),
    (
        "base from future",
        "row.insert",
        "table:items",
        {**GOOD, "base": [[hlc(9), ORIGINS[0], ["a"]]]},
    ),
    ("base origin short", "row.insert", "table:items", {**GOOD, "base": [[1, b"abc", ["a"]]]}),
    ("base unwritten col", "row.insert", "table:items", {**GOOD, "base": [[1, ORIGINS[0], ["b"]]]}),
    ("base twice", "row.insert", "table:items", {**GOOD, "base": [BASE, [2, ORIGINS[1], ["a"]]]}),
    ("base cols not list", "row.insert", "table:items", {**GOOD, "base": [[1, ORIGINS[0], "a"]]}),
]


@pytest.mark.parametrize(
    ("case", "kind", "scope", "payload"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_events_are_refused_cleanly_and_change_nothing(
    case: str, kind: str, scope: str, payload: Any
) -> None:
    conn, store = open_db(), items_store()
    before = snapshot(conn)
    with pytest.raises(IntegrityError) as raised:
        store.apply(conn, sign_raw(kind, scope, payload))
    assert raised.value.error_code == "malformed_row_event", case
    assert snapshot(conn) == before


@pytest.mark.parametrize(
    "raw", [b"", b"\xff", b"\x9f", b"\xa1\x61", cbor2.dumps(GOOD)[:-3], b"\xd9\xd9\xf7\xf6"]
)
def test_payload_bytes_that_are_not_a_row_event_are_refused(raw: bytes) -> None:
    conn, store = open_db(), items_store()
    event = sign_event(KEYS[0], 1, hlc(5), "row.insert", "table:items", raw)
    with pytest.raises(IntegrityError):
        store.apply(conn, event)


def test_an_event_keyed_on_other_columns_than_the_table_is_refused() -> None:
    conn, store = open_db(), items_store()
    event = sign_raw("row.insert", "table:items", {**GOOD, "pk": {"b": 1}})
    with pytest.raises(IntegrityError) as raised:
        store.apply(conn, event)
    assert raised.value.error_code == "row_event_schema_mismatch"
