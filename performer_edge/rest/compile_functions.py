"""Postgres semantics SQLite lacks, as pure Python the compiled SQL calls by name.

jsonb containment (`@>`) and ordering, array containment, overlap and ordering, ILIKE beyond
ASCII, and `::cast`. Registered on each connection by `compile_context.install_functions`;
imports nothing that does I/O.
"""

from __future__ import annotations

import functools
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from performer_edge.rest.catalog import Column, JsonValue
from performer_edge.rest.migrate_types import (
    InvalidValue,
    SqliteValue,
    storage_value,
    value_from_json,
    value_from_text,
)

JSON_CONTAINS = "json_contains"  # (a, b) → a @> b for jsonb
ARRAY_CONTAINS = "array_contains"  # (a, b) → a @> b for arrays stored as JSON
ARRAY_OVERLAPS = "array_overlaps"  # (a, b) → a && b
PG_CAST = "pg_cast"  # (value, source type, target type) → value::target
PG_ILIKE = "pg_ilike"  # (value, pattern) → value ILIKE pattern, Unicode case folding
JSONB_ORDER = "jsonb_order"  # collation: jsonb comparison
ARRAY_ORDER = "array_order"  # collation: Postgres array comparison

_INTEGER_TYPES = {"int2", "int4", "int8"}
_NUMERIC_TYPES = _INTEGER_TYPES | {"numeric", "float4", "float8"}
_TIMESTAMP_TYPES = {"timestamp", "timestamptz"}


def _parsed(text: str | bytes) -> Any:
    return json.loads(text)


@functools.lru_cache(maxsize=1024)
def _parsed_cached(text: str) -> Any:
    return json.loads(text)


# --- jsonb ---------------------------------------------------------------------------------------


def json_contains(container: str | None, contained: str | None) -> int | None:
    """Postgres `container @> contained` on jsonb values stored as JSON text."""
    if container is None or contained is None:
        return None
    return int(_contains(_parsed(container), _parsed_cached(contained), top=True))


def _contains(a: Any, b: Any, *, top: bool) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and all(
            key in a and _contains(a[key], value, top=False) for key, value in b.items()
        )
    if isinstance(a, list):
        if isinstance(b, list):
            return all(any(_element_contains(x, y) for x in a) for y in b)
        # Only a top-level array contains a bare scalar: '["a"]' @> '"a"'.
        return top and not isinstance(b, dict) and any(_scalar_equal(x, b) for x in a)
    return _scalar_equal(a, b)


def _element_contains(a: Any, b: Any) -> bool:
    if isinstance(b, dict | list):
        return type(a) is type(b) and _contains(a, b, top=False)
    return _scalar_equal(a, b)


def _scalar_equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _jsonb_rank(value: Any) -> int:
    # Postgres: Object > Array > Boolean > Number > String > Null.
    if value is None:
        return 0
    if isinstance(value, str):
        return 1
    if isinstance(value, bool):
        return 3
    if isinstance(value, int | float):
        return 2
    return 4 if isinstance(value, list) else 5


def _jsonb_compare(a: Any, b: Any) -> int:
    rank_a, rank_b = _jsonb_rank(a), _jsonb_rank(b)
    if rank_a != rank_b:
        return -1 if rank_a < rank_b else 1
    if isinstance(a, list):
        if len(a) != len(b):
            return -1 if len(a) < len(b) else 1
        for x, y in zip(a, b, strict=True):
            order = _jsonb_compare(x, y)
            if order:
                return order
        return 0
    if isinstance(a, dict):
        if len(a) != len(b):
            return -1 if len(a) < len(b) else 1
        keys_a, keys_b = _jsonb_keys(a), _jsonb_keys(b)
        for x, y in zip(keys_a, keys_b, strict=True):
            if x != y:
                return _plain_compare(_jsonb_key_order(x), _jsonb_key_order(y))
        for key in keys_a:
            order = _jsonb_compare(a[key], b[key])
            if order:
                return order
        return 0
    return _plain_compare(a, b)


def _jsonb_keys(value: dict[str, Any]) -> list[str]:
    return sorted(value, key=_jsonb_key_order)


def _jsonb_key_order(key: str) -> tuple[int, bytes]:
    encoded = key.encode()
    return (len(encoded), encoded)


def _plain_compare(a: Any, b: Any) -> int:
    return 0 if a == b else (-1 if a < b else 1)


def jsonb_order(left: str, right: str) -> int:
    """Collation: compares two JSON texts as Postgres orders jsonb values."""
    return _jsonb_compare(_parsed_cached(left), _parsed_cached(right))


# --- arrays --------------------------------------------------------------------------------------


def array_contains(container: str | None, contained: str | None) -> int | None:
    """Postgres `a @> b` on arrays: every element of b is in a; a NULL element never matches."""
    if container is None or contained is None:
        return None
    have = _parsed(container)
    wanted = _parsed_cached(contained)
    return int(all(w is not None and any(_scalar_equal(h, w) for h in have) for w in wanted))


def array_overlaps(left: str | None, right: str | None) -> int | None:
    """Postgres `a && b` on arrays: some non-NULL element in common."""
    if left is None or right is None:
        return None
    a, b = _parsed(left), _parsed_cached(right)
    return int(any(x is not None and any(_scalar_equal(x, y) for y in b) for x in a))


def _array_compare(a: list[Any], b: list[Any]) -> int:
    for x, y in zip(a, b, strict=False):
        if x is None or y is None:  # NULL elements sort after every value
            if x is None and y is None:
                continue
            return 1 if x is None else -1
        order = _plain_compare(x, y)
        if order:
            return order
    return _plain_compare(len(a), len(b))


def array_order(left: str, right: str) -> int:
    """Collation: compares two JSON arrays as Postgres compares arrays."""
    return _array_compare(_parsed_cached(left), _parsed_cached(right))


# --- ILIKE ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _ilike_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index += 1
            parts.append(re.escape(pattern[index]))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def pg_ilike(value: object, pattern: str | None) -> int | None:
    """`value ILIKE pattern` with Unicode case folding (SQLite's LIKE folds ASCII only)."""
    if value is None or pattern is None:
        return None
    return int(_ilike_regex(pattern).fullmatch(str(value)) is not None)


# --- casts ---------------------------------------------------------------------------------------


def type_column(spec: str) -> Column:
    """`int8`, `text[]` → the column type they name (the form `pg_cast` receives)."""
    dims = spec.count("[]")
    return Column("", spec.replace("[]", ""), dims)


def pg_cast(value: SqliteValue, source: str, target: str) -> SqliteValue:
    """`value::target` for a value stored as `source` stores it; junk is 22P02, as in Postgres."""
    if value is None or source == target:
        return value
    src, dst = type_column(source), type_column(target)
    api = api_value(value, src)
    if dst.array_dims == 0 and dst.base_type in ("json", "jsonb"):
        if src.base_type in ("json", "jsonb") or src.array_dims:
            return value
        if src.base_type == "text":
            return storage_value(value_from_text(str(api), dst), dst)
        return json.dumps(api, separators=(",", ":"), ensure_ascii=False)
    if dst.array_dims == 0 and dst.base_type in _INTEGER_TYPES:
        if isinstance(api, bool):
            return int(api)
        if isinstance(api, float) and src.base_type in _NUMERIC_TYPES:
            rounded = int(Decimal(repr(api)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            return storage_value(value_from_json(rounded, dst), dst)  # range: 22003
    if dst.array_dims == 0 and dst.base_type == "bool" and src.base_type in _INTEGER_TYPES:
        return int(api != 0)
    if dst.array_dims == 0 and dst.base_type == "date" and src.base_type in _TIMESTAMP_TYPES:
        return str(api)[:10]  # stored in UTC, the session time zone
    text = pg_text(api, src)
    if dst.array_dims == 0 and dst.base_type == "text":
        return text
    return storage_value(value_from_text(text, dst), dst)


def api_value(value: SqliteValue, column: Column) -> JsonValue:
    """A stored value back in API shape (the inverse of `storage_value`)."""
    if value is None:
        return None
    if column.array_dims or column.base_type in ("json", "jsonb"):
        parsed: JsonValue = _parsed(value) if isinstance(value, str | bytes) else value
        return parsed
    if column.base_type == "bool":
        return bool(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return value


def pg_text(value: JsonValue, column: Column) -> str:
    """Postgres' text output of a value in API shape (what `::text` gives)."""
    if column.array_dims:
        assert isinstance(value, list)
        element = Column("", column.pg_type)
        return "{" + ",".join(_array_element_text(v, element) for v in value) + "}"
    base = column.base_type
    if base in ("json", "jsonb"):
        return _jsonb_text(value) if base == "jsonb" else json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    text = str(value)
    if base == "char":  # character(n) loses its padding as text
        return text.rstrip(" ")
    if base in ("timestamp", "timestamptz", "time"):
        return _time_text(text, with_zone=base == "timestamptz")
    return text


def _time_text(text: str, *, with_zone: bool) -> str:
    text = text.replace("T", " ")
    zone = ""
    if with_zone and len(text) > 6 and text[-6] in "+-":
        text, zone = text[:-6], text[-6:]
        zone = zone[:3] if zone.endswith(":00") else zone
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + zone


def _float_text(number: float) -> str:
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


def _jsonb_text(value: JsonValue) -> str:
    if isinstance(value, dict):
        items = (
            f"{json.dumps(k, ensure_ascii=False)}: {_jsonb_text(value[k])}"
            for k in _jsonb_keys(value)
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _array_element_text(value: JsonValue, element: Column) -> str:
    if value is None:
        return "NULL"
    text = "t" if value is True else "f" if value is False else pg_text(value, element)
    special = not text or text.upper() == "NULL"
    if special or any(char in '{}",\\' or char.isspace() for char in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def check_regex(pattern: str) -> None:
    """Refuse a pattern Python's `re` cannot compile, as Postgres refuses a bad one (2201B)."""
    try:
        re.compile(pattern)
    except re.error as error:
        raise InvalidValue(f"invalid regular expression: {error}", code="2201B") from None
