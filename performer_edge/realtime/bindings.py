"""postgres_changes bindings: what a subscriber listens to, and which row changes match it.

Pure. A binding (`{"event","schema","table"?,"filter"?,"select"?}`, supabase-wire.md §4.2) is
parsed once at join against the table's columns, so filter values are typed (an `int8` column
compares numbers, not text) and bad input is a join error, never a failure at delivery time.
Filter grammar: `col=op.value`, ops `eq neq lt lte gt gte in`, several conditions joined with
`,` all hold; `in.(a,"b,c")` lists values, quoted when they hold `,()"`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from performer_edge.errors import InvalidInput

EVENTS = ("*", "INSERT", "UPDATE", "DELETE")
Value = Any
Compare = Callable[[Value, Value], bool]

_COMPARISONS: Mapping[str, Compare] = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}
_NUMBER_TYPES = frozenset({"int2", "int4", "int8", "smallint", "integer", "bigint", "serial"})
_FLOAT_TYPES = frozenset({"float4", "float8", "numeric", "real", "decimal", "double"})


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    values: tuple[Value, ...]  # one value, or the list of `in`

    def holds(self, record: Mapping[str, Value]) -> bool:
        actual = record.get(self.column)
        if actual is None:
            return False  # NULL compares to nothing, as in SQL
        if self.op == "in":
            return actual in self.values
        try:
            return _COMPARISONS[self.op](actual, self.values[0])
        except TypeError:
            return False  # mismatched types (a column changed type): no match, not a crash


@dataclass(frozen=True)
class Binding:
    """One parsed binding. `raw` is echoed verbatim in the join reply (clients compare it)."""

    id: int
    raw: Mapping[str, Any]
    event: str
    schema: str
    table: str | None
    conditions: tuple[Condition, ...]
    select: tuple[str, ...] | None

    def matches(self, schema: str, table: str, kind: str, record: Mapping[str, Value]) -> bool:
        if self.event not in ("*", kind):
            return False
        if self.schema not in ("*", schema) or self.table not in (None, "*", table):
            return False
        return all(c.holds(record) for c in self.conditions)


ColumnTypes = Mapping[str, str]  # column name → its base pg type ("int8", "text", ...)
TableLookup = Callable[[str, str], ColumnTypes | None]


def binding_id(raw: Mapping[str, Any]) -> int:
    """A stable integer id for a binding's parameters (Supabase uses phash2 of them)."""
    return zlib.crc32(orjson.dumps(dict(raw), option=orjson.OPT_SORT_KEYS)) & 0x7FFFFFF


def parse_binding(raw: object, tables: TableLookup) -> Binding:
    if not isinstance(raw, dict):
        raise InvalidInput("each postgres_changes binding must be an object")
    event = raw.get("event", "*")
    if not isinstance(event, str) or event.upper() not in EVENTS:
        raise InvalidInput(f"postgres_changes event must be one of {', '.join(EVENTS)}")
    schema = raw.get("schema", "public")
    table = raw.get("table")
    if not isinstance(schema, str) or (table is not None and not isinstance(table, str)):
        raise InvalidInput("postgres_changes schema and table must be strings")
    select = raw.get("select")
    if select is not None and (
        not isinstance(select, list) or not all(isinstance(c, str) for c in select)
    ):
        raise InvalidInput("postgres_changes select must be a list of column names")
    types: ColumnTypes | None = None
    if table not in (None, "*") and schema != "*":
        assert table is not None
        types = tables(schema, table)
        if types is None:
            raise InvalidInput(f"table {schema}.{table} does not exist")
    text = raw.get("filter")
    if text is not None and not isinstance(text, str):
        raise InvalidInput("postgres_changes filter must be a string")
    conditions = parse_filter(text, types) if text else ()
    return Binding(
        binding_id(raw),
        raw,
        event.upper(),
        schema,
        table,
        conditions,
        tuple(select) if select is not None else None,
    )


def parse_filter(text: str, types: ColumnTypes | None) -> tuple[Condition, ...]:
    return tuple(_condition(part, types) for part in _split(text, ","))


def _condition(text: str, types: ColumnTypes | None) -> Condition:
    column, sep, rest = text.partition("=")
    op, dot, value = rest.partition(".")
    column = column.strip()
    if not sep or not dot or not column:
        raise InvalidInput(f"filter {text!r} must read column=operator.value")
    if op != "in" and op not in _COMPARISONS:
        raise InvalidInput(
            f"filter operator {op!r} is not supported (use eq, neq, lt, lte, gt, gte or in)"
        )
    if types is not None and column not in types:
        raise InvalidInput(f"filter column {column!r} does not exist")
    pg_type = types.get(column, "text") if types is not None else None
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise InvalidInput(f"filter {text!r}: in takes a list, as in.(a,b)")
        items = tuple(_unquote(v) for v in _split(value[1:-1], ",")) if value[1:-1] else ()
        return Condition(column, op, tuple(_typed(v, pg_type) for v in items))
    return Condition(column, op, (_typed(_unquote(value), pg_type),))


def _typed(text: str, pg_type: str | None) -> Value:
    try:
        if pg_type in _NUMBER_TYPES:
            return int(text)
        if pg_type in _FLOAT_TYPES:
            return float(text)
    except ValueError as exc:
        raise InvalidInput(f"filter value {text!r} is not a {pg_type}") from exc
    if pg_type == "bool":
        if text.lower() not in ("true", "false", "t", "f"):
            raise InvalidInput(f"filter value {text!r} is not a bool")
        return text.lower() in ("true", "t")
    if pg_type is None:
        return _untyped(text)
    return text


def _untyped(text: str) -> Value:
    """Without a table to type it, a value that reads as a number is one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _split(text: str, separator: str) -> list[str]:
    """Split on `separator` outside double quotes and parentheses."""
    parts: list[str] = []
    depth, quoted, escaped, start = 0, False, False, 0
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:index])
            start = index + 1
    if quoted or depth:
        raise InvalidInput(f"filter {text!r} has an unbalanced quote or parenthesis")
    parts.append(text[start:])
    return parts


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        out, escaped = [], False
        for char in text[1:-1]:
            if escaped or char != "\\":
                out.append(char)
                escaped = False
            else:
                escaped = True
        return "".join(out)
    return text
