"""supabase-wire.md §1.3 value formats: how each supported Postgres type reads back as JSON
(seeded by a migration and written through supabase-py), and filters on written values."""

from __future__ import annotations

from typing import Any

import pytest
from supabase import Client

from .wire import Wire

pytestmark = pytest.mark.network

SEEDED = {
    "id": 1,
    "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "label": "first",
    "code": "AB12",
    "small": -32768,
    "whole": 2147483647,
    "big": 9007199254740993,
    "exact": 12345.678,
    "single": 1.5,
    "dbl": 2.25,
    "flag": True,
    "day": "2024-01-31",
    "at": "2024-01-01T12:00:00",
    "at_tz": "2024-01-01T10:00:00+00:00",
    "doc": {"b": 1, "a": [1, 2]},
    "docb": {"a": [1, 2], "b": 1},
    "raw": "\\x0001ff",
    "words": ["a b", "c", "d,e"],
    "nums": [1, 2, 3],
}
NULLS = {key: None for key in SEEDED} | {"id": 2, "flag": False, "words": [], "nums": []}


def test_seeded_values_of_every_type(client: Client) -> None:
    assert client.table("samples").select("*").order("id").execute().data == [SEEDED, NULLS]


def test_exact_numbers_are_json_numbers_in_the_body(wire: Wire) -> None:
    wire.client.table("samples").select("big,exact,small").eq("id", 1).execute()
    assert wire.last.content == b'[{"big":9007199254740993,"exact":12345.678,"small":-32768}]'


def test_json_keeps_its_key_order_and_jsonb_sorts_keys(client: Client) -> None:
    row = client.table("samples").select("doc,docb").eq("id", 1).single().execute().data
    assert list(row["doc"]) == ["b", "a"]
    assert list(row["docb"]) == ["a", "b"]


WRITTEN: dict[str, Any] = {
    "id": 3,
    "uid": "00000000-0000-4000-8000-000000000001",
    "label": 'ünï\ncode "quoted" \\ back',
    "code": "xy",
    "small": 32767,
    "whole": -2147483648,
    "big": -9223372036854775808,
    "exact": "3.14159",
    "single": 0.1,
    "dbl": 0.1,
    "flag": False,
    "day": "2024-02-29",
    "at": "2024-06-01 08:30:00",
    "at_tz": "2024-06-01T08:30:00.123456-05:00",
    "doc": [1, "two", None, {"three": 3}],
    "docb": {"nested": {"deep": [True, None]}, "n": 1.5},
    "raw": b"\x00\xffhi",
    "words": ["", "NULL", "x y", 'q"'],
    "nums": [-1, 0, 2147483647],
}
READ_BACK: dict[str, Any] = WRITTEN | {
    "exact": 3.14159,
    "at": "2024-06-01T08:30:00",
    "at_tz": "2024-06-01T13:30:00.123456+00:00",
    "raw": "\\x00ff6869",
}


def test_written_values_read_back_in_postgrest_shape(wire: Wire) -> None:
    inserted = wire.client.table("samples").insert(WRITTEN).execute().data
    assert inserted == [READ_BACK]
    assert wire.last.request.content.count(b'"raw":"\\\\x00ff6869"') == 1
    read = wire.client.table("samples").select("*").eq("id", 3).single().execute().data
    assert read == READ_BACK


FILTERS_ON_WRITTEN: list[tuple[str, str, Any]] = [
    ("uid", "eq", "00000000-0000-4000-8000-000000000001"),
    ("day", "eq", "2024-02-29"),
    ("at", "eq", "2024-06-01T08:30:00"),
    ("at_tz", "eq", "2024-06-01 13:30:00.123456+00"),
    ("big", "lt", -9223372036854775807),
    ("single", "eq", 0.1),
    ("exact", "gt", "3.14158"),
    ("raw", "eq", "\\x00ff6869"),
    ("label", "like", "ünï*back"),
]


@pytest.mark.parametrize(
    ("column", "op", "value"), FILTERS_ON_WRITTEN, ids=[f[0] for f in FILTERS_ON_WRITTEN]
)
def test_filters_on_written_values(client: Client, column: str, op: str, value: Any) -> None:
    query = client.table("samples").select("id").filter(column, op, str(value)).gt("id", 2)
    assert query.execute().data == [{"id": 3}]


def test_update_of_every_type_to_null_and_back(client: Client) -> None:
    nulls = {key: None for key in WRITTEN if key not in ("id", "words", "nums")}
    updated = client.table("samples").update(nulls).eq("id", 3).execute().data
    assert updated == [{**nulls, "id": 3, "words": WRITTEN["words"], "nums": WRITTEN["nums"]}]
    restored = client.table("samples").update(WRITTEN).eq("id", 3).execute().data
    assert restored == [READ_BACK]


def test_written_jsonb_objects_come_back_in_jsonb_key_order(client: Client) -> None:
    document = {"zz": 1, "a": {"y": 1, "x": 2}, "bbb": [{"k2": 0, "k1": 0}]}
    row = {"id": 4, "doc": document, "docb": document}
    written = client.table("samples").insert(row).execute().data[0]
    assert list(written["doc"]) == ["zz", "a", "bbb"]
    assert list(written["docb"]) == ["a", "zz", "bbb"]
    assert list(written["docb"]["a"]) == ["x", "y"]
    assert list(written["docb"]["bbb"][0]) == ["k1", "k2"]
    updated = client.table("samples").update({"docb": {"bb": 1, "c": 2}}).eq("id", 4).execute()
    assert list(updated.data[0]["docb"]) == ["c", "bb"]


def test_a_date_reads_a_timestamp_as_its_date(client: Client) -> None:
    query = client.table("samples").select("id").eq("day", "2024-01-31T23:00:00.000Z")
    assert query.execute().data == [{"id": 1}]
    written = client.table("samples").insert({"id": 5, "day": "2024-03-01T08:00:00+05:00"})
    assert written.execute().data[0]["day"] == "2024-03-01"
