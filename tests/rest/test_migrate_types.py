"""Values between Postgres literals, the API shape and SQLite storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from performer_edge.rest.catalog import Column, JsonValue
from performer_edge.rest.migrate_types import (
    InvalidValue,
    parse_array_text,
    storage_value,
    timestamp_text,
    value_from_json,
    value_from_text,
)


@pytest.mark.parametrize(
    ("column", "text", "api", "stored"),
    [
        (
            Column("c", "uuid"),
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            None,
        ),
        (
            Column("c", "uuid"),
            "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            None,
        ),
        (Column("c", "bool"), "t", True, 1),
        (Column("c", "bool"), " OFF ", False, 0),
        (Column("c", "int2"), "-32768", -32768, None),
        (Column("c", "int8"), "9223372036854775807", 2**63 - 1, None),
        (Column("c", "numeric"), "12", 12, None),
        (Column("c", "numeric(10,2)"), "1.50", 1.5, None),
        (Column("c", "float8"), "1e3", 1000.0, None),
        (Column("c", "char(3)"), "ab", "ab ", None),
        (Column("c", "varchar(3)"), "abc", "abc", None),
        (Column("c", "date"), "2024-02-29", "2024-02-29", None),
        (Column("c", "time"), "10:11", "10:11:00.000000", None),
        (Column("c", "timestamp"), "2024-01-01 10:00", "2024-01-01T10:00:00.000000", None),
        (
            Column("c", "timestamptz"),
            "2024-01-01 10:00:00+02",
            "2024-01-01T08:00:00.000000+00:00",
            None,
        ),
        (
            Column("c", "timestamptz"),
            "2024-01-01T10:00:00.5Z",
            "2024-01-01T10:00:00.500000+00:00",
            None,
        ),
        (Column("c", "timestamptz"), "2024-01-01 10:00", "2024-01-01T10:00:00.000000+00:00", None),
        (Column("c", "jsonb"), '{"a": [1, "x"]}', {"a": [1, "x"]}, '{"a":[1,"x"]}'),
        (Column("c", "json"), '"é"', "é", '"é"'),
        (Column("c", "bytea"), "\\xDEADbeef", "\\xdeadbeef", bytes.fromhex("deadbeef")),
        (
            Column("c", "text", 1),
            '{a,"b,c","d\\"e",NULL,"NULL"}',
            ["a", "b,c", 'd"e', None, "NULL"],
            '["a","b,c","d\\"e",null,"NULL"]',
        ),
        (Column("c", "int4", 1), "{1, 2}", [1, 2], "[1,2]"),
        (Column("c", "text", 1), "{}", [], "[]"),
        (Column("c", "mood", enum_values=("sad", "ok")), "ok", "ok", None),
    ],
)
def test_text_values(column: Column, text: str, api: JsonValue, stored: object) -> None:
    assert value_from_text(text, column) == api
    expected_storage = api if stored is None else stored
    assert storage_value(api, column) == expected_storage


@pytest.mark.parametrize(
    ("column", "text", "code"),
    [
        (Column("c", "uuid"), "nope", "22P02"),
        (Column("c", "bool"), "maybe", "22P02"),
        (Column("c", "int2"), "32768", "22003"),
        (Column("c", "int4"), "1.5", "22P02"),
        (Column("c", "numeric"), "NaN", "22P02"),
        (Column("c", "varchar(2)"), "abc", "22001"),
        (Column("c", "char(2)"), "abc", "22001"),
        (Column("c", "date"), "2023-02-29", "22P02"),
        (Column("c", "jsonb"), "{nope", "22P02"),
        (Column("c", "text", 1), "a,b", "22P02"),
        (Column("c", "text", 1), "{{a}}", "22P02"),
        (Column("c", "mood", enum_values=("sad",)), "happy", "22P02"),
    ],
)
def test_invalid_text_values_have_postgres_codes(column: Column, text: str, code: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        value_from_text(text, column)
    assert caught.value.error_code == code


@pytest.mark.parametrize(
    ("column", "value", "api"),
    [
        (Column("c", "jsonb"), {"a": 1}, {"a": 1}),
        (Column("c", "jsonb"), "a string", "a string"),
        (Column("c", "bool"), True, True),
        (Column("c", "bool"), "true", True),
        (Column("c", "int4"), 7, 7),
        (Column("c", "int4"), "7", 7),
        (Column("c", "numeric"), 1.25, 1.25),
        (Column("c", "text"), 5, "5"),
        (Column("c", "text", 1), ["a", None], ["a", None]),
        (Column("c", "int8", 1), "{1,2}", [1, 2]),
        (
            Column("c", "timestamptz"),
            "2024-05-01T12:00:00-05:00",
            "2024-05-01T17:00:00.000000+00:00",
        ),
    ],
)
def test_json_values_as_clients_send_them(column: Column, value: JsonValue, api: JsonValue) -> None:
    assert value_from_json(value, column) == api


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (Column("c", "bool"), 1),
        (Column("c", "int4"), True),
        (Column("c", "int4"), 1.5),
        (Column("c", "uuid"), 3),
    ],
)
def test_json_values_of_the_wrong_kind_are_rejected(column: Column, value: JsonValue) -> None:
    with pytest.raises(InvalidValue):
        value_from_json(value, column)


def _array_literal(items: list[str | None]) -> str:
    def quoted(item: str | None) -> str:
        if item is None:
            return "NULL"
        return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ",".join(quoted(i) for i in items) + "}"


@given(st.lists(st.one_of(st.none(), st.text())))
def test_array_literals_round_trip(items: list[str | None]) -> None:
    assert parse_array_text(_array_literal(items)) == items


MOMENTS = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ),
)


@given(MOMENTS, MOMENTS)
def test_stored_timestamptz_text_sorts_like_time(a: datetime, b: datetime) -> None:
    text_a, text_b = timestamp_text(a, with_zone=True), timestamp_text(b, with_zone=True)
    assert (text_a < text_b) == (a < b)
    assert (text_a == text_b) == (a == b)
    assert datetime.fromisoformat(text_a) == a
