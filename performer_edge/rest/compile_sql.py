"""SQL text building for the query compiler: quoted names, bound parameters, JSON object builders.

Pure string work; imports only the catalog's value types. Every name is quoted and every value
from a request is a named parameter, so no request text ever becomes SQL text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from performer_edge.rest.compile_errors import BIGINT_MAX, bigint_out_of_range
from performer_edge.rest.migrate_calls import json_path
from performer_edge.rest.migrate_types import SqliteValue

# jsonb_object takes at most SQLITE_MAX_FUNCTION_ARG (1000) arguments: 500 pairs; the rest of a
# very wide row is added with jsonb_insert.
_PAIRS_PER_CALL = 400
EMPTY_JSON_ARRAY = "jsonb('[]')"
# A table's rowid, exposed under this name by a row-level-security subquery (see compile_policy).
ROWID_COLUMN = "pe_rowid"


def quote_name(name: str) -> str:
    """A SQLite identifier, always quoted."""
    return '"' + name.replace('"', '""') + '"'


def column_ref(alias: str, column: str) -> str:
    return f"{quote_name(alias)}.{quote_name(column)}"


@dataclass
class Params:
    """The named parameters of one compiled statement: `add` binds a value and names it.

    Names are `p0`, `p1`, ...; the request functions' values use their own fixed names
    (`auth_uid`, `auth_role`, `auth_jwt`, see compile_policy), so the two never collide.
    """

    values: dict[str, SqliteValue] = field(default_factory=dict)

    def add(self, value: SqliteValue) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return ":" + name

    def bind_named(self, name: str, value: SqliteValue) -> str:
        self.values[name] = value
        return ":" + name


@dataclass
class Aliases:
    """Fresh table aliases `t0`, `t1`, ... for one statement."""

    count: int = 0

    def next(self) -> str:
        alias = f"t{self.count}"
        self.count += 1
        return alias


def json_object_sql(pairs: Sequence[tuple[str, str]], params: Params) -> str:
    """jsonb_object over (key, JSON-ready SQL value) pairs; keys are bound as parameters."""
    head = pairs[:_PAIRS_PER_CALL]
    sql = "jsonb_object(" + ", ".join(f"{params.add(key)}, {value}" for key, value in head) + ")"
    rest = pairs[_PAIRS_PER_CALL:]
    for start in range(0, len(rest), _PAIRS_PER_CALL):
        chunk = rest[start : start + _PAIRS_PER_CALL]
        inserts = ", ".join(f"{params.add(json_path([key]))}, {value}" for key, value in chunk)
        sql = f"jsonb_insert({sql}, {inserts})"
    return sql


def conjunction(predicates: Iterable[str]) -> str:
    """`(a) AND (b)`, or `1` when there is nothing to require."""
    parts = [f"({p})" for p in predicates if p]
    return " AND ".join(parts) if parts else "1"


def where_clause(predicates: Iterable[str]) -> str:
    parts = [p for p in predicates if p]
    return f" WHERE {conjunction(parts)}" if parts else ""


def limit_clause(limit: int | None, offset: int, params: Params) -> str:
    """LIMIT/OFFSET as parameters; SQLite needs a LIMIT (-1: none) before an OFFSET."""
    if limit is None and offset == 0:
        return ""
    if max(offset, limit or 0) > BIGINT_MAX:  # Postgres' LIMIT and OFFSET take a bigint
        raise bigint_out_of_range()
    text = f" LIMIT {params.add(-1 if limit is None else limit)}"
    if offset:
        text += f" OFFSET {params.add(offset)}"
    return text


@dataclass(frozen=True)
class Statement:
    """One SQL statement and the parameters it binds by name."""

    sql: str
    params: Mapping[str, SqliteValue]
