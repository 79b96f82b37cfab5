"""The CSV PostgREST writes (api_csv): values in Postgres' text output, quoted as record_out
and array_out quote them."""

from __future__ import annotations

from typing import Any

import pytest

from performer_edge.rest.api_csv import pg_text, to_csv
from performer_edge.rest.catalog import Column


@pytest.mark.parametrize(
    ("value", "column", "text"),
    [
        (None, Column("c", "text"), None),
        ("", Column("c", "text"), ""),
        (True, Column("c", "bool"), "t"),
        (1.5, Column("c", "float8"), "1.5"),
        ("2024-01-01T10:00:00+00:00", Column("c", "timestamptz"), "2024-01-01 10:00:00+00"),
        ("2024-01-01T10:00:00+05:30", Column("c", "timestamptz"), "2024-01-01 10:00:00+05:30"),
        ("2024-01-01T10:00:00.5", Column("c", "timestamp"), "2024-01-01 10:00:00.5"),
        ({"b": [1, None], "a": "x"}, Column("c", "jsonb"), '{"b": [1, null], "a": "x"}'),
        ({"b": 1}, Column("c", "json"), '{"b":1}'),
        ("s", Column("c", "jsonb"), '"s"'),
        (True, Column("c", "json"), "true"),
        ([1, None, 3], Column("c", "int4", 1), "{1,NULL,3}"),
        (
            ["", "NULL", "a b", 'q"', "x\\y", "{}", "ok"],
            Column("c", "text", 1),
            '{"","NULL","a b","q\\"","x\\\\y","{}",ok}',
        ),
        ([True, False], Column("c", "bool", 1), "{t,f}"),
        ({"k": 1}, None, '{"k":1}'),
    ],
)
def test_pg_text(value: Any, column: Column | None, text: str | None) -> None:
    assert pg_text(value, column) == text


def test_rows_as_record_text() -> None:
    rows = [{"a": "x,y", "b": None, "c": 'say "hi"'}, {"a": "", "b": "(p)", "c": "back\\slash"}]
    assert to_csv(rows) == 'a,b,c\n"x,y",,"say ""hi"""\n"","(p)","back\\\\slash"'


@pytest.mark.parametrize("body", [[], None, {}])
def test_no_rows_is_a_bare_newline(body: Any) -> None:
    assert to_csv(body) == "\n"
