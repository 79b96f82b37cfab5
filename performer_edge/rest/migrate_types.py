"""Postgres types and values: declared types → catalog columns; literals → API shape → storage.

Pure; the storage table is `catalog.SQLITE_TYPES`. The REST layer may reuse the value functions.
"""

from __future__ import annotations

import json
import string
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from sqlglot import exp

from performer_edge.errors import InvalidInput
from performer_edge.rest.catalog import Catalog, Column, JsonValue, relation_key
from performer_edge.rest.migrate_source import StatementError, identifier_name
from performer_edge.rest.tsvector import canonical_tsvector

SqliteValue = None | int | float | str | bytes

_DT = exp.DType
_SIMPLE_TYPES: dict[exp.DType, str] = {
    _DT.UUID: "uuid",
    _DT.TEXT: "text",
    _DT.SMALLINT: "int2",
    _DT.INT: "int4",
    _DT.BIGINT: "int8",
    _DT.FLOAT: "float4",
    _DT.BOOLEAN: "bool",
    _DT.DATE: "date",
    _DT.TIME: "time",
    _DT.TIMESTAMP: "timestamp",
    _DT.TIMESTAMPTZ: "timestamptz",
    _DT.JSON: "json",
    _DT.JSONB: "jsonb",
    _DT.VARBINARY: "bytea",
}
_SERIAL_TYPES = {_DT.SMALLSERIAL: "int2", _DT.SERIAL: "int4", _DT.BIGSERIAL: "int8"}
_RANGE_TYPES = {
    _DT.TSRANGE,
    _DT.TSTZRANGE,
    _DT.DATERANGE,
    _DT.INT4RANGE,
    _DT.INT8RANGE,
    _DT.NUMRANGE,
}
_INTEGER_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
_INTEGER_NAMES = {"int2": "smallint", "int4": "integer", "int8": "bigint"}
# How Postgres names a type in "invalid input syntax for type ..." messages.
_MESSAGE_NAMES = {
    **_INTEGER_NAMES,
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "timestamptz": "timestamp with time zone",
}
_TRUE_TEXTS = {"t", "true", "y", "yes", "on", "1"}
_FALSE_TEXTS = {"f", "false", "n", "no", "off", "0"}


class InvalidValue(InvalidInput):
    """A value does not fit its Postgres type. `error_code` is the Postgres SQLSTATE."""

    code = "22P02"


def column_type(data_type: exp.DataType, catalog: Catalog) -> tuple[Column, bool]:
    """The unnamed column a declared type describes, and whether it was `serial`."""
    kind = data_type.this
    params = [int(p.name) for p in data_type.expressions if isinstance(p, exp.DataTypeParam)]
    if kind == _DT.ARRAY:
        element = data_type.expressions[0] if data_type.expressions else None
        if not isinstance(element, exp.DataType) or element.this == _DT.ARRAY:
            raise StatementError("only one-dimensional arrays are supported")
        element_column, serial = column_type(element, catalog)
        if serial:
            raise StatementError("serial arrays do not exist")
        return Column("", element_column.pg_type, 1, enum_values=element_column.enum_values), False
    if kind in _SERIAL_TYPES:
        return Column("", _SERIAL_TYPES[kind]), True
    if kind in _SIMPLE_TYPES:
        return Column("", _SIMPLE_TYPES[kind]), False
    if kind == _DT.DOUBLE:  # float(p) is float4 for p <= 24, as in Postgres
        return Column("", "float4" if params and params[0] <= 24 else "float8"), False
    if kind in (_DT.VARCHAR, _DT.CHAR, _DT.BPCHAR):
        base = "varchar" if kind == _DT.VARCHAR else "char"
        length = params[0] if params else (None if base == "varchar" else 1)
        return Column("", base if length is None else f"{base}({length})"), False
    if kind == _DT.DECIMAL:
        return Column("", "numeric" + (f"({','.join(map(str, params))})" if params else "")), False
    if kind == _DT.USERDEFINED:
        return _enum_column(data_type, catalog), False
    if kind in _RANGE_TYPES:
        raise StatementError(
            f"unsupported type {data_type.sql('postgres').lower()}: range types are out of scope; "
            "store the bounds in two columns"
        )
    raise StatementError(f"unsupported type {data_type.sql('postgres').lower()}")


def _enum_column(data_type: exp.DataType, catalog: Catalog) -> Column:
    named = data_type.args.get("kind")
    parts = [
        identifier_name(p) for p in (named.flatten() if isinstance(named, exp.Dot) else [named])
    ]
    schema, name = (parts[0], parts[1]) if len(parts) == 2 else ("public", parts[-1])
    if name == "tsvector" and schema in ("public", "pg_catalog"):  # sqlglot has no such type
        return Column("", "tsvector")
    enum = catalog.enums.get(relation_key(schema, name))
    if enum is None:
        raise StatementError(f"unsupported type {'.'.join(parts)}: not a built-in or enum type")
    type_name = name if schema == "public" else enum.key
    return Column("", type_name, enum_values=enum.values)


def element_column(column: Column) -> Column:
    return Column(column.name, column.pg_type, enum_values=column.enum_values)


def value_from_text(text: str, column: Column) -> JsonValue:
    """Postgres input syntax (a quoted literal in SQL) → the value in API shape."""
    if column.array_dims:
        return [
            None if e is None else value_from_text(e, element_column(column))
            for e in parse_array_text(text)
        ]
    base = column.base_type
    if column.enum_values:
        if text not in column.enum_values:
            raise InvalidValue(f'invalid input value for enum {column.pg_type}: "{text}"')
        return text
    if base in ("text", "varchar", "char"):
        return _fit_text(text, column)
    if base in _INTEGER_RANGES:
        try:
            return _fit_integer(int(text.strip()), column)
        except ValueError:
            raise InvalidValue(
                f'invalid input syntax for type {_INTEGER_NAMES[base]}: "{text}"'
            ) from None
    if base in ("numeric", "float4", "float8"):
        return _number_from_text(text, column)
    if base == "bool":
        lowered = text.strip().lower()
        if lowered in _TRUE_TEXTS or lowered in _FALSE_TEXTS:
            return lowered in _TRUE_TEXTS
        raise InvalidValue(f'invalid input syntax for type boolean: "{text}"')
    if base in ("json", "jsonb"):
        try:
            parsed: JsonValue = json.loads(text)
        except ValueError:
            raise InvalidValue(f'invalid input syntax for type json: "{text}"') from None
        return parsed
    if base == "tsvector":
        try:
            return canonical_tsvector(text)
        except ValueError as error:
            raise InvalidValue(str(error)) from None
    return _special_from_text(text, column)


def _special_from_text(text: str, column: Column) -> JsonValue:
    base = column.base_type
    try:
        if base == "uuid":
            return str(uuid.UUID(text.strip()))
        if base == "date":
            return _date_from_text(text.strip()).isoformat()
        if base == "time":
            return (
                time.fromisoformat(text.strip())
                .replace(tzinfo=None)
                .isoformat(timespec="microseconds")
            )
        if base in ("timestamp", "timestamptz"):
            return timestamp_text(
                datetime.fromisoformat(text.strip()), with_zone=base == "timestamptz"
            )
        if base == "bytea":
            return _bytea_text(text)
    except ValueError:
        raise InvalidValue(
            f'invalid input syntax for type {_message_name(column)}: "{text}"'
        ) from None
    raise InvalidValue(f"no text input for type {column.pg_type}")


def _date_from_text(text: str) -> date:
    """Postgres reads a date from a timestamp too, keeping the date as written and dropping
    the time and zone: `2024-01-31T23:00:00.000Z` (JS `toISOString()`) is 2024-01-31."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(text).date()


def _message_name(column: Column) -> str:
    return _MESSAGE_NAMES.get(column.base_type, column.base_type)


def timestamp_text(moment: datetime, *, with_zone: bool) -> str:
    """Canonical stored text: fixed-width microseconds; timestamptz in UTC (naive input is UTC)."""
    if with_zone:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def _fit_text(text: str, column: Column) -> str:
    limit = column.type_length
    if column.base_type == "char" and limit is not None:
        text = text.rstrip(" ")  # char(n) ignores trailing blanks and pads to n
        if len(text) > limit:
            raise InvalidValue(f"value too long for type character({limit})", code="22001")
        return text.ljust(limit)
    if limit is not None and len(text) > limit:
        raise InvalidValue(f"value too long for type character varying({limit})", code="22001")
    return text


def _fit_integer(number: int, column: Column) -> int:
    bound = _INTEGER_RANGES[column.base_type]
    if not -bound <= number < bound:
        raise InvalidValue(
            f'value "{number}" is out of range for type {_INTEGER_NAMES[column.base_type]}',
            code="22003",
        )
    return number


def _number_from_text(text: str, column: Column) -> int | float:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidValue(
            f'invalid input syntax for type {_message_name(column)}: "{text}"'
        ) from None
    if not number.is_finite():
        raise InvalidValue(f"{text.strip()} cannot be stored: JSON has no NaN or Infinity")
    exponent = number.as_tuple().exponent
    if column.base_type == "numeric" and isinstance(exponent, int) and exponent >= 0:
        return int(number)
    return float(number)


def _bytea_text(text: str) -> str:
    if text.startswith("\\x"):
        digits = "".join(text[2:].split())
        bad = next((c for c in digits if c not in string.hexdigits), None)
        if bad is not None:
            raise InvalidValue(f'invalid hexadecimal digit: "{bad}"', code="22023")
        if len(digits) % 2:
            raise InvalidValue("invalid hexadecimal data: odd number of digits", code="22023")
        return "\\x" + digits.lower()
    if "\\" in text:
        raise ValueError("escape-format bytea is not supported; use the \\x hex format")
    return "\\x" + text.encode().hex()


def parse_array_text(text: str) -> list[str | None]:
    """A one-dimensional Postgres array literal `{a,"b c",NULL}` → its element texts."""
    body = text.strip()
    if not body.startswith("{"):
        raise InvalidValue(
            f'malformed array literal: "{text}"',
            details='Array value must start with "{" or dimension information.',
        )
    if not body.endswith("}"):
        raise InvalidValue(f'malformed array literal: "{text}"')
    elements: list[str | None] = []
    current, quoted, in_quotes, i = "", False, False, 1
    while i < len(body) - 1:
        char = body[i]
        if in_quotes:
            if char == "\\":
                i += 1
                current += body[i]
            elif char == '"':
                in_quotes = False
            else:
                current += char
        elif char == '"':
            in_quotes = quoted = True
        elif char == ",":
            elements.append(_array_element(current, quoted))
            current, quoted = "", False
        elif char in "{}":
            raise InvalidValue(f'only one-dimensional arrays are supported: "{text}"')
        else:
            current += char
        i += 1
    if in_quotes:
        raise InvalidValue(f'malformed array literal: "{text}"')
    if current or quoted or elements:
        elements.append(_array_element(current, quoted))
    return elements


def _array_element(text: str, quoted: bool) -> str | None:
    if quoted:
        return text
    stripped = text.strip()
    return None if stripped.upper() == "NULL" else stripped


def value_from_json(value: JsonValue, column: Column) -> JsonValue:
    """A value as a PostgREST client sends it (JSON) → the value in API shape, validated."""
    if value is None:
        return None
    if column.array_dims:
        if isinstance(value, str):
            return value_from_text(value, column)
        if not isinstance(value, list):
            raise InvalidValue(f'malformed array literal: "{json.dumps(value)}"')
        return [value_from_json(v, element_column(column)) for v in value]
    base = column.base_type
    if base in ("json", "jsonb"):
        return value
    if isinstance(value, str):
        return value_from_text(value, column)
    if isinstance(value, bool):
        if base == "bool":
            return value
    elif isinstance(value, int):
        if base in _INTEGER_RANGES:
            return _fit_integer(value, column)
        if base in ("numeric", "float4", "float8"):
            return value
        if base in ("text", "varchar", "char"):
            return _fit_text(str(value), column)
    elif isinstance(value, float):
        if base in ("numeric", "float4", "float8"):
            return value
        if base in ("text", "varchar", "char"):
            return _fit_text(repr(value), column)
    # PostgREST reads the body with json_populate_recordset, which hands a non-string JSON value
    # to the column type's input function as its JSON text.
    shown = json.dumps(value, ensure_ascii=False)
    raise InvalidValue(f'invalid input syntax for type {_message_name(column)}: "{shown}"')


def storage_value(value: JsonValue, column: Column) -> SqliteValue:
    """API shape → the SQLite value stored (see the table in `catalog`)."""
    if value is None:
        return None
    if column.array_dims or column.base_type in ("json", "jsonb"):
        if column.base_type == "jsonb":
            value = jsonb_order(value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if isinstance(value, bool):
        return int(value)
    if column.base_type == "bytea" and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("\\x"))
    if isinstance(value, int | float | str):
        return value
    raise InvalidValue(f"cannot store {type(value).__name__} in a {column.pg_type} column")


def jsonb_order(value: JsonValue) -> JsonValue:
    """The key order Postgres `jsonb` stores objects in (shorter keys first, then bytewise),
    which is the order clients read them back in; `json` keeps the order it was given."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [jsonb_order(v) for v in value]
    return value


def sqlite_literal(value: SqliteValue) -> str:
    """A stored value as SQLite literal text."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


class NotConstant(Exception):
    """The expression is not a literal value; callers fall back to translating it as SQL."""


def constant_value(node: exp.Expr, column: Column, catalog: Catalog) -> JsonValue:
    """A literal expression (`'x'`, `-1`, `true`, `'{}'::jsonb`, `array['a']`) → API shape."""
    if isinstance(node, exp.Paren):
        return constant_value(node.this, column, catalog)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        if column.base_type != "bool" or column.array_dims:
            raise InvalidValue(
                f"column is of type {column.pg_type} but the value is a boolean", code="42804"
            )
        return bool(node.this)
    if isinstance(node, exp.Literal | exp.ByteString) and (
        node.is_string or isinstance(node, exp.ByteString)
    ):
        return value_from_text(str(node.this), column)
    if isinstance(node, exp.Literal):
        return value_from_json(_number(str(node.this)), column)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return value_from_json(-_number(str(node.this.this)), column)
    if isinstance(node, exp.Array):
        if not column.array_dims:
            raise InvalidValue(
                f"column is of type {column.pg_type} but the value is an array", code="42804"
            )
        return [constant_value(e, element_column(column), catalog) for e in node.expressions]
    if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
        target, _ = column_type(node.to, catalog)
        return value_from_json(constant_value(node.this, target, catalog), column)
    raise NotConstant


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)
