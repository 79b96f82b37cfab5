"""Property: any request AST over a fixed schema either compiles and runs, or fails with a typed
PostgREST/Postgres error. Never a SQLite error, never another Python exception."""

from __future__ import annotations

from functools import cache
from typing import Any

import apsw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compile_support import ANON, SERVICE, USER_A, Database, user

from performer_edge.errors import PerformerError
from performer_edge.rest.compile import compile_read, compile_target, run_read
from performer_edge.rest.query import Query
from performer_edge.rest.query_ast import (
    Compare,
    Condition,
    Field,
    Filter,
    FullTextSearch,
    In,
    Is,
    JsonStep,
    LogicTree,
    Ordering,
    OrderTerm,
    Paging,
    Predicate,
    Quantified,
    SelectColumn,
    SelectCount,
    SelectEmbed,
    SelectItem,
    SelectSpread,
    SelectStar,
)

SCHEMA = """
create type mood as enum ('sad', 'happy');
create table directors (id bigint primary key, name text not null, born date);
create table films (
  id bigint primary key,
  title text not null,
  director_id bigint references directors,
  rating numeric(3,1),
  ratio real,
  seen boolean,
  meta jsonb,
  tags text[],
  shown_at timestamptz,
  code char(2),
  feeling mood,
  poster bytea,
  ref uuid
);
create table actors (id bigint primary key, name text);
create table roles (
  film_id bigint references films,
  actor_id bigint references actors,
  primary key (film_id, actor_id)
);
alter table films enable row level security;
create policy "seen films" on films for select using (seen or auth.uid() is not null);
insert into directors values (1, 'Varda', '1928-05-30'), (2, 'Marker', null);
insert into films values
  (1, 'Cléo', 1, 8.0, 0.5, true, '{"a": 1, "b": [1, "x"]}', array['a', 'b'],
   '2024-01-01 12:00:00+00', 'ab', 'happy', '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  (2, 'La Jetée', 2, 8.3, null, false, '[1, {"a": null}]', array[]::text[], null, null, 'sad',
   null, null),
  (3, 'Untitled', null, null, 1e10, null, null, null, null, 'x', null, null, null);
insert into actors values (1, 'Corinne'), (2, null);
insert into roles values (1, 1), (1, 2), (2, 1);
"""

COLUMNS = {
    "films": ("id", "title", "director_id", "rating", "ratio", "seen", "meta", "tags",
              "shown_at", "code", "feeling", "poster", "ref"),
    "directors": ("id", "name", "born"),
    "actors": ("id", "name"),
    "roles": ("film_id", "actor_id"),
}  # fmt: skip
RELATIONS = {
    "films": ("directors", "actors", "roles"),
    "directors": ("films",),
    "actors": ("films", "roles"),
    "roles": ("films", "actors"),
}
OPERATORS = (
    "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "cs", "cd", "ov",
    "sl", "isdistinct",
)  # fmt: skip
CASTS = (None, None, None, "text", "int", "json", "jsonb", "bool", "date", "numeric", "nope")

SAMPLE_VALUES = [
    *["1", "8.0", "-1", "abc", "true", "null", "2024-01-01", "{a,b}", "{}", '{"a":1}', "[1]"],
    *["A*", "*é*", "(", "\\", "x y", "1e999", "happy", "\\x00ff", "12:00", "", '"x"'],
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
]
values = st.one_of(st.sampled_from(SAMPLE_VALUES), st.text(max_size=8))
json_steps = st.lists(
    st.builds(
        JsonStep,
        st.sampled_from(["->", "->>"]),
        st.one_of(st.sampled_from(["a", "b", "x"]), st.integers(-2, 2)),
    ),
    max_size=2,
).map(tuple)


@cache  # one strategy per table: building it per draw was most of this module's time
def fields(table: str) -> st.SearchStrategy[Field]:
    names = st.sampled_from((*COLUMNS[table], "nope"))
    return st.builds(Field, names, st.one_of(st.just(()), st.just(()), json_steps))


operations = st.one_of(
    st.builds(Compare, st.sampled_from(OPERATORS), values),
    st.builds(
        Quantified,
        st.sampled_from(["eq", "gt", "like", "ilike", "match"]),
        st.sampled_from(["any", "all"]),
        st.lists(st.one_of(st.none(), values), max_size=3).map(tuple),
    ),
    st.builds(In, st.lists(values, max_size=3).map(tuple)),
    st.builds(Is, st.sampled_from(["null", "not_null", "true", "false", "unknown"])),
    st.builds(
        FullTextSearch,
        st.sampled_from(["fts", "plfts", "phfts", "wfts"]),
        values,
        st.sampled_from([None, "english", "simple", "klingon"]),
    ),
)


@cache
def predicates(table: str) -> st.SearchStrategy[Predicate]:
    conditions = st.builds(Condition, fields(table), operations, st.booleans())
    return st.recursive(
        conditions,
        lambda children: st.builds(
            LogicTree,
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=3).map(tuple),
            st.booleans(),
        ),
        max_leaves=6,
    )


@cache
def leaf_items(table: str) -> st.SearchStrategy[SelectItem]:
    column = st.builds(
        SelectColumn,
        fields(table),
        st.sampled_from([None, "alias"]),
        st.sampled_from(CASTS),
        st.sampled_from([None, None, None, "sum", "avg", "count", "min", "max"]),
        st.sampled_from([None, None, "text"]),
    )
    return st.one_of(st.just(SelectStar()), column, column, st.builds(SelectCount))


@cache
@st.composite
def select_items(draw: st.DrawFn, table: str, depth: int = 0) -> SelectItem:
    if depth >= 2 or draw(st.integers(0, 3)) > 0:
        return draw(leaf_items(table))
    relation = draw(st.sampled_from((*RELATIONS[table] * 4, "nope")))
    target = relation if relation in COLUMNS else table
    items = tuple(draw(st.lists(select_items(target, depth + 1), max_size=3)))
    hint = draw(st.sampled_from([None] * 12 + ["director_id", "roles", "nope"]))
    join = draw(st.sampled_from([None, "inner", "left"]))
    if draw(st.booleans()):
        return SelectEmbed(relation, items, draw(st.sampled_from([None, "x"])), hint, join)
    return SelectSpread(relation, items, hint, join)


def _embedded(items: tuple[SelectItem, ...]) -> list[tuple[str, str]]:
    """(name filters use, target table) of the root's embeds."""
    found = []
    for item in items:
        if isinstance(item, SelectEmbed):
            found.append((item.alias or item.relation, item.relation))
        elif isinstance(item, SelectSpread):
            found.append((item.relation, item.relation))
    return found


@cache
@st.composite
def queries(draw: st.DrawFn, table: str) -> Query:
    select = tuple(draw(st.lists(select_items(table), max_size=4)))
    embedded = _embedded(select)
    targets = [((), table), ((), table), *(((name,), target) for name, target in embedded)]

    def place() -> tuple[tuple[str, ...], str]:
        if draw(st.integers(0, 19)) == 19:
            return ("x",), table  # not embedded: PGRST108
        path, target = draw(st.sampled_from(targets))
        return path, target if target in COLUMNS else table

    filters = []
    for _ in range(draw(st.integers(0, 3))):
        path, target = place()
        filters.append(Filter(draw(predicates(target)), path))
    orderings: dict[tuple[str, ...], Ordering] = {}
    for _ in range(draw(st.integers(0, 2))):
        path, target = place()
        relation = st.sampled_from([None, None, *(name for name, _ in embedded)])
        terms = st.builds(
            OrderTerm,
            fields(target),
            relation if not path else st.none(),
            st.sampled_from([None, "asc", "desc"]),
            st.sampled_from([None, "first", "last"]),
        )
        orderings[path] = Ordering(tuple(draw(st.lists(terms, min_size=1, max_size=2))), path)
    pagings = []
    for _ in range(draw(st.integers(0, 2))):
        path, _ = place()
        pagings.append(Paging(draw(st.integers(0, 3)), draw(st.none() | st.integers(0, 3)), path))
    return Query(
        select=select,
        filters=tuple(filters),
        orderings=tuple(orderings.values()),
        pagings=tuple(pagings),
    )


tables_and_queries = st.sampled_from(tuple(COLUMNS)).flatmap(
    lambda table: st.tuples(st.just(table), queries(table))
)
contexts = st.sampled_from([ANON, SERVICE, user(USER_A)])


@pytest.fixture(scope="module")
def db() -> Database:
    return Database(SCHEMA)


def _run(db: Database, call: Any) -> None:
    try:
        call()
    except PerformerError:
        pass
    except apsw.Error as error:  # pragma: no cover - the property's failure message
        raise AssertionError(f"SQLite error escaped: {error}") from error


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table_and_query=tables_and_queries,
    context=contexts,
    count=st.sampled_from([None, "exact"]),
    single=st.booleans(),
)
def test_random_reads_compile_and_run_or_fail_typed(
    db: Database,
    table_and_query: tuple[str, Query],
    context: Any,
    count: str | None,
    single: bool,
) -> None:
    table, query = table_and_query

    def read() -> None:
        compiled = compile_read(table, query, db.catalog, context, count=count, single=single)
        run_read(db.conn, compiled, context)

    _run(db, read)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    filters=st.lists(st.builds(Filter, predicates("films"), st.just(())), max_size=3),
    context=contexts,
    command=st.sampled_from(["update", "delete"]),
)
def test_random_targets_compile_and_run_or_fail_typed(
    db: Database, filters: list[Filter], context: Any, command: str
) -> None:
    def target() -> None:
        compiled = compile_target("films", filters, db.catalog, context, command)
        db.rows(compiled.sql, dict(compiled.params))

    _run(db, target)
