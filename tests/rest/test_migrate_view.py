"""`create view` column lineage (migrate_view): which view columns pass a base table's column
through unchanged, the columns through which views are embedded; and renames following it."""

from __future__ import annotations

import pytest

from performer_edge.rest.catalog import ViewColumnSource
from performer_edge.rest.migrate_sql import translate

TABLES = """
create table teams (id bigint primary key, name text);
create table notes (id bigint primary key, team_id bigint references teams, body text);
"""


def sources(view_sql: str) -> tuple[ViewColumnSource, ...]:
    return translate(TABLES + view_sql).catalog.views["public.v"].sources


@pytest.mark.parametrize(
    ("view_sql", "expected"),
    [
        (
            "create view v as select * from notes;",
            [("id", "notes", "id"), ("team_id", "notes", "team_id"), ("body", "notes", "body")],
        ),
        (
            "create view v as select n.id as note, upper(body) as loud, team_id from notes n;",
            [("note", "notes", "id"), ("team_id", "notes", "team_id")],
        ),
        (
            "create view v as select t.name, n.body, n.team_id from notes n"
            " join teams t on t.id = n.team_id;",
            [("name", "teams", "name"), ("body", "notes", "body"), ("team_id", "notes", "team_id")],
        ),
        (
            "create view v (a, b) as select id, body from notes;",
            [("a", "notes", "id"), ("b", "notes", "body")],
        ),
        ("create view v as select id from notes union select id from teams;", []),
        ("create view v as select * from (select id from notes) s;", []),
        ("create view v as select id from (select id from notes) s;", []),
    ],
)
def test_view_sources(view_sql: str, expected: list[tuple[str, str, str]]) -> None:
    assert sources(view_sql) == tuple(
        ViewColumnSource(column, f"public.{table}", base) for column, table, base in expected
    )


def test_a_column_rename_follows_into_the_view_sources() -> None:
    plan = translate(
        TABLES + "create view v as select id, body from notes;"
        "alter table notes rename column body to text;"
    )
    assert plan.catalog.views["public.v"].sources == (
        ViewColumnSource("id", "public.notes", "id"),
        ViewColumnSource("body", "public.notes", "text"),
    )
