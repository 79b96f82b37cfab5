"""`Accept: text/csv`: the JSON rows of a response as the CSV PostgREST writes.

PostgREST's CSV is a header line of the first row's keys, then each row as the text of a
Postgres record without its parentheses, so every value is in Postgres' text output form
(`t`/`f`, `{1,2}` arrays, `2024-01-01 10:00:00+00`), quoted as `record_out` quotes it. The
Postgres type of each key, when known, picks the text form. Pure; imports no HTTP code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from performer_edge.rest.catalog import Column

_RECORD_QUOTED = frozenset('"\\(),')
_ARRAY_QUOTED = frozenset('"\\{},')


def to_csv(rows: Any, types: Mapping[str, Column | None] | None = None) -> str:
    """The CSV text of a JSON body (array, or object for one row); no rows is a bare newline."""
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        return "\n"
    keys = list(rows[0])
    known = types or {}
    lines = [
        ",".join(_record_field(pg_text(row.get(k), known.get(k))) for k in keys) for row in rows
    ]
    return ",".join(keys) + "\n" + "\n".join(lines)


def pg_text(value: Any, column: Column | None) -> str | None:
    """A JSON value of a column of type `column` in Postgres' text output; None for NULL.

    Without a type (embeds, unknown view columns) JSON values stay JSON text."""
    if value is None:
        return None
    if column is not None and column.array_dims and isinstance(value, list):
        element = Column(column.name, column.pg_type)
        return "{" + ",".join(_array_element(pg_text(v, element)) for v in value) + "}"
    base = column.base_type if column is not None else ""
    if base == "jsonb":
        return _jsonb_text(value)
    if base == "json" or isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str) and base in ("timestamp", "timestamptz"):
        return _timestamp_text(value)
    return str(value)


def _jsonb_text(value: Any) -> str:
    """jsonb's text output: `{"a": [1, 2]}`, a space after each `:` and `,`."""
    if isinstance(value, dict):
        items = (f"{orjson.dumps(k).decode()}: {_jsonb_text(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_text(v) for v in value) + "]"
    return orjson.dumps(value).decode()


def _timestamp_text(iso: str) -> str:
    """`2024-01-01T10:00:00+00:00` (PostgREST's JSON) → `2024-01-01 10:00:00+00`."""
    text = iso.replace("T", " ", 1)
    if len(text) > 6 and text[-6] in "+-" and text.endswith(":00"):
        text = text[:-3]
    return text


def _array_element(text: str | None) -> str:
    """One element as `array_out` writes it: NULL bare; empty, `NULL`, or holding a brace,
    quote, comma, backslash or whitespace quoted with `"` and `\\` escaped by a backslash."""
    if text is None:
        return "NULL"
    if text and text.upper() != "NULL" and not any(c in _ARRAY_QUOTED or c.isspace() for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _record_field(text: str | None) -> str:
    """One field as `record_out` writes it: NULL empty; empty, or holding a quote, backslash,
    parenthesis, comma or whitespace, quoted with `"` and `\\` doubled."""
    if text is None:
        return ""
    if text and not any(c in _RECORD_QUOTED or c.isspace() for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '""') + '"'
