"""Values by Postgres type: stored SQLite values → JSON in PostgREST's shapes, request text and
JSON → stored values, and `::cast` targets.

Pure. The stored forms are the table in `catalog`; text input follows `migrate_types`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from performer_edge.rest.catalog import UNKNOWN_PG_TYPE, Column, IdentityKind, JsonValue, Table
from performer_edge.rest.compile_errors import undefined_type, unknown_body_column
from performer_edge.rest.compile_sql import Params
from performer_edge.rest.migrate_types import (
    InvalidValue,
    SqliteValue,
    storage_value,
    value_from_json,
    value_from_text,
)

TypeKind = Literal["text", "number", "bool", "json", "array", "time", "bytea", "uuid", "unknown"]

TEXT_TYPES = frozenset({"text", "varchar", "char"})
NUMBER_TYPES = frozenset({"int2", "int4", "int8", "numeric", "float4", "float8"})
TIME_TYPES = frozenset({"date", "time", "timestamp", "timestamptz"})
JSON_TYPES = frozenset({"json", "jsonb"})

# Postgres type names accepted in `::cast` → the catalog's normalized name.
CAST_TYPES: Mapping[str, str] = {
    **dict.fromkeys(("text", "varchar", "character varying", "bpchar", "name", "citext"), "text"),
    **dict.fromkeys(("char", "character"), "text"),
    **dict.fromkeys(("int", "int4", "integer"), "int4"),
    **dict.fromkeys(("int2", "smallint"), "int2"),
    **dict.fromkeys(("int8", "bigint"), "int8"),
    **dict.fromkeys(("numeric", "decimal"), "numeric"),
    **dict.fromkeys(("real", "float4"), "float4"),
    **dict.fromkeys(("float8", "float", "double precision"), "float8"),
    **dict.fromkeys(("bool", "boolean"), "bool"),
    "json": "json",
    "jsonb": "jsonb",
    "date": "date",
    "time": "time",
    **dict.fromkeys(("timestamp", "timestamp without time zone"), "timestamp"),
    **dict.fromkeys(("timestamptz", "timestamp with time zone"), "timestamptz"),
    "uuid": "uuid",
    "bytea": "bytea",
}
_TIME_FRACTION_START = {"timestamp": 20, "timestamptz": 20, "time": 9}


def kind_of(column: Column) -> TypeKind:
    """The family of a column's type, which decides operators and the JSON shape."""
    if column.array_dims:
        return "array"
    base = column.base_type
    if column.enum_values or base in TEXT_TYPES:
        return "text"
    if base in NUMBER_TYPES:
        return "number"
    if base in TIME_TYPES:
        return "time"
    if base in JSON_TYPES:
        return "json"
    if base in ("bool", "uuid", "bytea"):
        return base  # type: ignore[return-value]
    return "unknown"


def type_name(column: Column) -> str:
    """The type as Postgres names it in error messages: bigint, text, jsonb, text[], ..."""
    names = {
        "int2": "smallint",
        "int4": "integer",
        "int8": "bigint",
        "float4": "real",
        "float8": "double precision",
        "bool": "boolean",
        "varchar": "character varying",
        "char": "character",
        "timestamp": "timestamp without time zone",
        "timestamptz": "timestamp with time zone",
        "time": "time without time zone",
    }
    name = names.get(column.base_type, column.pg_type)
    return name + "[]" * column.array_dims


def json_output(sql: str, column: Column) -> str:
    """SQL giving the stored value `sql` in the JSON shape PostgREST prints for its type.

    The result is a JSON-ready argument of jsonb_object: a number, a string, NULL, or a JSONB
    blob for booleans, JSON and arrays.
    """
    if column.array_dims or column.base_type in JSON_TYPES:
        return f"jsonb({sql})"
    base = column.base_type
    if base == "bool":
        return f"CASE {sql} WHEN 0 THEN jsonb('false') WHEN 1 THEN jsonb('true') END"
    if base in _TIME_FRACTION_START:
        return trimmed_time_sql(sql, _TIME_FRACTION_START[base])
    if base == "bytea":
        # hex(NULL) is '' in SQLite, so NULL needs its own arm or it would read as "\\x".
        return f"CASE WHEN {sql} IS NOT NULL THEN '\\x' || lower(hex({sql})) END"
    if base == UNKNOWN_PG_TYPE:
        return f"CASE typeof({sql}) WHEN 'blob' THEN '\\x' || lower(hex({sql})) ELSE {sql} END"
    return sql


def trimmed_time_sql(sql: str, dot: int) -> str:
    """Stored fixed-width microseconds → Postgres' output, which drops trailing zeros."""
    end = dot + 6
    return (
        f"CASE WHEN substr({sql}, {dot}, 1) = '.' THEN"
        f" rtrim(rtrim(substr({sql}, 1, {end}), '0'), '.') || substr({sql}, {end + 1})"
        f" ELSE {sql} END"
    )


def enum_order_sql(sql: str, column: Column, params: Params) -> str:
    """An enum value's position in its type's declaration, which is how Postgres orders enums."""
    whens = " ".join(
        f"WHEN {params.add(label)} THEN {index}" for index, label in enumerate(column.enum_values)
    )
    return f"CASE {sql} {whens} END"


def is_enum(column: Column) -> bool:
    return bool(column.enum_values) and not column.array_dims


def filter_value(text: str, column: Column) -> SqliteValue:
    """A filter's text value as the column stores it; junk is 22P02 as Postgres reports it."""
    if column.base_type == UNKNOWN_PG_TYPE and not column.array_dims:
        return text
    return storage_value(value_from_text(text, column), column)


def json_filter_value(text: str) -> str:
    """A value compared with a json/jsonb operand: must be JSON text (Postgres' jsonb input)."""
    column = Column("", "jsonb")
    value = value_from_text(text, column)
    try:
        stored = storage_value(value, column)
    except ValueError:  # 1e999: Postgres' numeric holds it, a float cannot
        raise InvalidValue(f'invalid input syntax for type json: "{text}"') from None
    assert isinstance(stored, str)
    return stored


def cast_target(name: str) -> Column:
    """The column type a `::name` cast produces; unknown names are 42704 as in Postgres."""
    normalized = " ".join(name.lower().split())
    dims = 0
    while normalized.endswith("[]"):
        normalized, dims = normalized[:-2].rstrip(), dims + 1
    pg_type = CAST_TYPES.get(normalized)
    if pg_type is None or dims > 1:
        raise undefined_type(name)
    return Column("", pg_type, dims)


def body_row_to_storage(
    table: Table, row: Mapping[str, JsonValue], *, command: str = "insert"
) -> dict[str, SqliteValue]:
    """A request body's object → the stored value of each column it names.

    Unknown keys are PGRST204; values that do not fit the type are 22P02 (and 22001/22003 for
    lengths and ranges); generated and always-identity columns refuse values as Postgres does.
    """
    stored: dict[str, SqliteValue] = {}
    for name, value in row.items():
        column = table.column(name)
        if column is None:
            raise unknown_body_column(table.name, name)
        _check_writable(column, value, command)
        stored[name] = storage_value(value_from_json(value, column), column)
    return stored


def _check_writable(column: Column, value: JsonValue, command: str) -> None:
    if column.generated is not None:
        if command == "update":
            raise InvalidValue(
                f'column "{column.name}" can only be updated to DEFAULT',
                code="428C9",
                details=f'Column "{column.name}" is a generated column.',
            )
        raise InvalidValue(
            f'cannot insert a non-DEFAULT value into column "{column.name}"',
            code="428C9",
            details=f'Column "{column.name}" is a generated column.',
        )
    if column.identity is IdentityKind.ALWAYS and value is not None:
        if command == "update":
            raise InvalidValue(
                f'column "{column.name}" can only be updated to DEFAULT',
                code="428C9",
                details=f'Column "{column.name}" is an identity column defined as GENERATED'
                " ALWAYS.",
            )
        raise InvalidValue(
            f'cannot insert a non-DEFAULT value into column "{column.name}"',
            code="428C9",
            details=f'Column "{column.name}" is an identity column defined as GENERATED ALWAYS.',
            hint="Use OVERRIDING SYSTEM VALUE to override.",
        )


_SQL_LIKE_SPECIAL = re.compile(r"[*?\[]")


def like_to_glob(pattern: str) -> str:
    """A Postgres LIKE pattern (`\\` escapes) → the equivalent case-sensitive SQLite GLOB."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 == len(pattern):
                raise InvalidValue("LIKE pattern must not end with escape character", code="22025")
            index += 1
            out.append(_glob_literal(pattern[index]))
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(_glob_literal(char))
        index += 1
    return "".join(out)


def _glob_literal(char: str) -> str:
    return f"[{char}]" if _SQL_LIKE_SPECIAL.fullmatch(char) else char


def check_like_escape(pattern: str) -> None:
    """Postgres refuses a pattern ending in a lone escape character (22025)."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2:
        raise InvalidValue("LIKE pattern must not end with escape character", code="22025")
