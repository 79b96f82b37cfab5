"""postgres_changes: committed row events as the changes a subscriber receives.

A row event's `effect` (a `RowChange`, with its cascade) says what a reader saw before and after
it, for local writes and peers' events alike; `table_changes` turns it into `TableChange`s with
records in API shape and typed columns. `old_record` follows the table's replica identity
(`alter table ... replica identity`), as Postgres logs it. An event read back from the log (a
replay) has no effect: its change is rebuilt from the write itself (`record` holds the columns
it set, `old_record` the primary key).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import apsw

from performer_edge.core import hlc
from performer_edge.core.events import Event
from performer_edge.errors import PerformerError
from performer_edge.realtime.bindings import ColumnTypes
from performer_edge.rest.catalog import Catalog, Column, ReplicaIdentity, Table
from performer_edge.rest.compile_functions import api_value
from performer_edge.rest.compile_sql import quote_name
from performer_edge.rest.row_format import OP_OF_KIND, RowOp, SqlValue, parse_row_event
from performer_edge.rest.row_merge import RowChange

Record = Mapping[str, SqlValue]


@dataclass(frozen=True)
class TableChange:
    """One visible row change. `stored_*` keep SQLite values for policy checks."""

    table: Table
    kind: str  # INSERT, UPDATE or DELETE
    commit_timestamp: str
    stored_new: Record | None
    stored_old: Record | None

    @property
    def checked_record(self) -> Record:
        """The record policies and filters judge: the new one, or the old for a delete."""
        record = self.stored_new if self.stored_new is not None else self.stored_old
        assert record is not None
        return record

    def api_record(self, stored: Record | None) -> dict[str, Any]:
        if stored is None:
            return {}
        out: dict[str, Any] = {}
        for name, value in stored.items():
            column = self.table.column(name)
            out[name] = api_value(value, column) if column is not None else value
        return out

    def payload(self, ids: list[int], select: tuple[str, ...] | None) -> dict[str, Any]:
        """The `postgres_changes` payload for a member whose bindings `ids` matched."""
        columns = [c for c in self.table.columns if select is None or c.name in select]
        data: dict[str, Any] = {
            "schema": self.table.schema,
            "table": self.table.name,
            "commit_timestamp": self.commit_timestamp,
            "type": self.kind,
            "columns": [{"name": c.name, "type": pg_type_name(c)} for c in columns],
            "errors": None,
        }
        if self.stored_new is not None:
            data["record"] = _selected(self.api_record(self.stored_new), select)
        if self.stored_old is not None:
            data["old_record"] = _selected(self.api_record(self.old_identity()), select)
        return {"ids": ids, "data": data}

    def old_identity(self) -> Record:
        """What of the old row Postgres logs and Realtime sends as `old_record`: the primary
        key by default, the whole row with REPLICA IDENTITY FULL (but only the key of a delete
        from a table with row level security), nothing with NOTHING."""
        assert self.stored_old is not None
        identity = self.table.replica_identity
        if identity is ReplicaIdentity.NOTHING:
            return {}
        if identity is ReplicaIdentity.FULL and not (
            self.kind == "DELETE" and self.table.rls_enabled
        ):
            return self.stored_old
        keys = self.table.primary_key
        if identity is ReplicaIdentity.INDEX:
            keys = self.table.replica_index_columns
        return {k: v for k, v in self.stored_old.items() if k in keys}


def pg_type_name(column: Column) -> str:
    """The type name Realtime reports: `int8`, `text`, `_text` for a text[] column."""
    return ("_" if column.array_dims else "") + column.base_type


def column_types(table: Table) -> ColumnTypes:
    return {c.name: ("_" + c.base_type if c.array_dims else c.base_type) for c in table.columns}


def api_filter_record(change: TableChange) -> dict[str, Any]:
    """The record filters compare with, in API shape (booleans as booleans, JSON parsed)."""
    return change.api_record(change.checked_record)


class TableIndex:
    """SQLite table name → catalog table, rebuilt when the catalog object changes."""

    def __init__(self) -> None:
        self._catalog: Catalog | None = None
        self._by_sqlite: dict[str, Table] = {}

    def lookup(self, catalog: Catalog, sqlite_name: str) -> Table | None:
        if catalog is not self._catalog:
            self._by_sqlite = {t.sqlite_name: t for t in catalog.tables.values()}
            self._catalog = catalog
        return self._by_sqlite.get(sqlite_name)


def table_changes(
    event: Event, catalog: Catalog, index: TableIndex, conn: apsw.Connection | None = None
) -> list[TableChange]:
    """The visible changes of a committed row event, cascade included, in order. `conn`: for
    an event read back from the log, the columns an update did not set are read from the row
    as it is now (they may have changed since)."""
    stamp = hlc.to_iso(event.hlc)
    out: list[TableChange] = []
    if isinstance(event.effect, RowChange):
        for change in _flatten(event.effect):
            table = index.lookup(catalog, change.table)
            if table is None or change.op is RowOp.NONE:
                continue
            out.append(
                TableChange(table, change.op.value, stamp, change.new_record, change.old_record)
            )
        return out
    if event.kind not in OP_OF_KIND:
        return out
    try:
        write = parse_row_event(event)
    except PerformerError:
        return out  # not a row event this node can read: nothing to replay
    table = index.lookup(catalog, write.table)
    if table is None:
        return out
    pk = dict(write.pk)
    if write.op is RowOp.DELETE:
        out.append(TableChange(table, write.op.value, stamp, None, pk))
    elif write.op is RowOp.UPDATE:
        now = _current_row(conn, table, pk) if conn is not None else {}
        out.append(TableChange(table, write.op.value, stamp, {**now, **pk, **write.values}, pk))
    else:
        out.append(TableChange(table, write.op.value, stamp, {**pk, **write.values}, None))
    return out


def _current_row(conn: apsw.Connection, table: Table, pk: Record) -> dict[str, SqlValue]:
    """The row with primary key `pk` as the table holds it now; {} when it is gone."""
    names = [c.name for c in table.columns if not c.generated]
    where = " AND ".join(f"{quote_name(k)} = ?" for k in pk)
    row = conn.execute(
        f"SELECT {', '.join(quote_name(n) for n in names)} FROM {quote_name(table.sqlite_name)} "
        f"WHERE {where}",
        tuple(pk.values()),
    ).fetchone()
    return dict(zip(names, row, strict=True)) if row is not None else {}


def _flatten(change: RowChange) -> Iterator[RowChange]:
    yield change
    for inner in change.cascade:
        yield from _flatten(inner)


def _selected(record: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
    if select is None:
        return record
    return {k: v for k, v in record.items() if k in select}
