"""The row event format: kinds, payload shape, and its validation at the edge.

A row event is `kind` `row.insert` | `row.update` | `row.delete`, `scope` `table:<name>`, and a
CBOR payload (the event's HLC and origin are the write's clock, so the payload omits them):

    {"v": 1,
     "table": "todos",
     "pk":   {"id": 7},                          # every primary-key column
     "set":  {"title": "milk", "done": 0},       # insert: every column; update: those written;
                                                 # delete: absent
     "base": [[hlc, origin, ["done", "title", ""]], ...]}   # optional: for each register
                                                 # written, the clocks of the versions the
                                                 # writer held and so replaced knowingly

Column `""` is the row's existence register (see `row_registers`). `base` groups columns by clock;
a (column, origin) pair appears at most once. Values are SQLite
values: int (64-bit), float (not NaN), str, bytes or None. Imports only `core.events` and `errors`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

import cbor2

from performer_edge.core.events import Event
from performer_edge.errors import IntegrityError

SqlValue = int | float | str | bytes | None

PAYLOAD_FORMAT = 1
SCOPE_PREFIX = "table:"
EXISTENCE = ""  # the existence register's column name: no real column can be called ""
MAX_IDENTIFIER_BYTES = 63  # Postgres' NAMEDATALEN - 1
MAX_COLUMNS = 2000  # SQLite's default SQLITE_MAX_COLUMN
MAX_SQL_INT = (1 << 63) - 1
MIN_SQL_INT = -(1 << 63)
ORIGIN_BYTES = 32
# SQLite matches identifiers case-insensitively, so these are compared lower-cased.
RESERVED_TABLES = frozenset({"events", "origins", "meta", "row_state", "row_conflicts"})


class RowOp(StrEnum):
    """What a row event asks for, and what a `RowChange` reports (NONE: nothing visible)."""

    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NONE = "NONE"


KIND_OF_OP = {RowOp.INSERT: "row.insert", RowOp.UPDATE: "row.update", RowOp.DELETE: "row.delete"}
OP_OF_KIND = {kind: op for op, kind in KIND_OF_OP.items()}


@dataclass(frozen=True, slots=True, order=True)
class Clock:
    """A write's clock. LWW order: higher HLC wins; on equal HLCs the greater origin bytes win."""

    hlc: int
    origin: bytes


@dataclass(frozen=True)
class RowWrite:
    """One row event's content, planned locally or parsed from a (possibly remote) event."""

    op: RowOp
    table: str
    pk: Mapping[str, SqlValue]
    values: Mapping[str, SqlValue] = field(default_factory=dict)
    bases: Mapping[str, tuple[Clock, ...]] = field(default_factory=dict)  # column -> replaced

    @property
    def kind(self) -> str:
        return KIND_OF_OP[self.op]

    @property
    def scope(self) -> str:
        return SCOPE_PREFIX + self.table

    def registers(self) -> dict[str, SqlValue]:
        """The registers this write sets: its columns plus existence (1, or 0 for a delete)."""
        if self.op is RowOp.DELETE:
            return {EXISTENCE: 0}
        return {**self.values, EXISTENCE: 1}

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"v": PAYLOAD_FORMAT, "table": self.table, "pk": dict(self.pk)}
        if self.op is not RowOp.DELETE:
            data["set"] = dict(self.values)
        if self.bases:
            grouped: dict[Clock, list[str]] = {}
            for column, clocks in self.bases.items():
                for clock in clocks:
                    grouped.setdefault(clock, []).append(column)
            data["base"] = [[c.hlc, c.origin, sorted(cols)] for c, cols in sorted(grouped.items())]
        return data


# -- identifiers and values ---------------------------------------------------------------------


def identifier_problem(name: object) -> str | None:
    """Why `name` cannot be a table or column name here, or None. Any Postgres name is allowed
    except the empty one; control characters are refused because they end up in SQL text."""
    if not isinstance(name, str) or not name:
        return f"{name!r} is not a name"
    return _name_problem(name)


@lru_cache(maxsize=4096)  # the same few names arrive in every event
def _name_problem(name: str) -> str | None:
    if len(name.encode("utf-8", "surrogatepass")) > MAX_IDENTIFIER_BYTES:
        return f"name {name[:20]!r}... is longer than {MAX_IDENTIFIER_BYTES} bytes"
    if any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        return f"name {name!r} contains a control character"
    return None


def table_name_problem(name: object) -> str | None:
    problem = identifier_problem(name)
    if problem is None and isinstance(name, str):
        lowered = name.lower()
        if lowered in RESERVED_TABLES or lowered.startswith("sqlite_"):
            return f"table name {name!r} is reserved by Performer or SQLite"
    return problem


def quote_identifier(name: str) -> str:
    """Always quoted, so keywords and odd characters are safe once `identifier_problem` passed."""
    return '"' + name.replace('"', '""') + '"'


def value_problem(value: object) -> str | None:
    if value is None or type(value) in _PLAIN_TYPES:
        return None
    if isinstance(value, bool):
        return "booleans must be stored as 0 or 1"
    if isinstance(value, int):
        return None if MIN_SQL_INT <= value <= MAX_SQL_INT else "integer out of 64-bit range"
    if isinstance(value, float):
        return "NaN cannot be stored" if math.isnan(value) else None
    return f"{type(value).__name__} is not a SQLite value"


_PLAIN_TYPES = frozenset({str, bytes})


def same_value(a: SqlValue, b: SqlValue) -> bool:
    """Equality as SQLite stores it: 1, 1.0 and '1' differ, and so do 0.0 and -0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def encode_pk(pk: Mapping[str, SqlValue]) -> bytes:
    """The primary key as one canonical byte string: the key of `row_state` and `row_conflicts`."""
    if len(pk) == 1 and not isinstance(next(iter(pk.values())), float):
        # One non-float value: cbor2's plain output is already canonical, at a fifth of the cost.
        return cbor2.dumps(pk if type(pk) is dict else dict(pk))
    return cbor2.dumps(dict(pk), canonical=True)


def decode_pk(key: bytes) -> dict[str, SqlValue]:
    decoded = cbor2.loads(key)
    assert isinstance(decoded, dict)
    return decoded


# -- parsing a (possibly remote) event -----------------------------------------------------------


def parse_row_event(event: Event) -> RowWrite:
    """The event's row write, or IntegrityError(code="malformed_row_event") saying what is wrong.

    Events come from peers: nothing in the payload is trusted until it has passed here.
    """
    op = OP_OF_KIND.get(event.kind)
    if op is None:
        raise _malformed(f"{event.kind!r} is not a row event kind")
    if not 0 <= event.hlc <= MAX_SQL_INT:
        raise _malformed("hlc out of range")
    try:
        data = cbor2.loads(event.payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise _malformed(f"payload is not CBOR: {exc}") from exc
    if not isinstance(data, dict):
        raise _malformed("payload must be a map")
    if data.get("v") != PAYLOAD_FORMAT:
        raise _malformed(f"unsupported row event format {data.get('v')!r}")
    table = data.get("table")
    problem = table_name_problem(table)
    if problem or not isinstance(table, str):
        raise _malformed(f"table: {problem}")
    if event.scope != SCOPE_PREFIX + table:
        raise _malformed(f"scope {event.scope!r} does not match table {table!r}")
    pk = _parse_values(data.get("pk"), "pk")
    if not pk or any(value is None for value in pk.values()):
        raise _malformed("pk must name at least one column and hold no null")
    if op is RowOp.DELETE:
        if "set" in data:
            raise _malformed("a delete carries no set")
        values: dict[str, SqlValue] = {}
    else:
        values = _parse_values(data.get("set"), "set")
        if pk.keys() & values.keys():
            raise _malformed("set repeats a primary-key column")
    written = {*values, EXISTENCE}
    return RowWrite(op, table, pk, values, _parse_bases(data.get("base", []), event.hlc, written))


def _parse_values(raw: object, what: str) -> dict[str, SqlValue]:
    if not isinstance(raw, dict):
        raise _malformed(f"{what} must be a map of column to value")
    if len(raw) > MAX_COLUMNS:
        raise _malformed(f"{what} has more than {MAX_COLUMNS} columns")
    for column, value in raw.items():
        problem = identifier_problem(column) or value_problem(value)
        if problem:
            raise _malformed(f"{what}: {problem}")
    return raw


def _parse_bases(raw: object, hlc: int, written: set[str]) -> dict[str, tuple[Clock, ...]]:
    if not isinstance(raw, list):
        raise _malformed("base must be a list")
    bases: dict[str, tuple[Clock, ...]] = {}
    seen: set[tuple[str, bytes]] = set()
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 3):
            raise _malformed("a base entry must be [hlc, origin, columns]")
        base_hlc, origin, columns = entry
        if not (isinstance(base_hlc, int) and not isinstance(base_hlc, bool)):
            raise _malformed("base hlc must be an integer")
        if not 0 <= base_hlc < hlc:
            raise _malformed("a base clock must be older than the event")
        if not (isinstance(origin, bytes) and len(origin) == ORIGIN_BYTES):
            raise _malformed(f"base origin must be {ORIGIN_BYTES} bytes")
        if not isinstance(columns, list):
            raise _malformed("base columns must be a list")
        for column in columns:
            if not isinstance(column, str) or column not in written or (column, origin) in seen:
                raise _malformed(f"base names {column!r} twice or a column it does not write")
            seen.add((column, origin))
            bases[column] = (*bases.get(column, ()), Clock(base_hlc, origin))
    return bases


def _malformed(message: str) -> IntegrityError:
    return IntegrityError(f"malformed row event: {message}", code="malformed_row_event")
