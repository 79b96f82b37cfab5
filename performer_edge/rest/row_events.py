"""Writes are events: plan a local row write as a row event, apply row events to user tables.

Theory of operation. The REST layer turns each insert/update/delete into a `RowWrite` with
`plan_*` and appends it to the log (`RowStore.append`); the log runs the `rows` projection, which
calls `apply` in the same SQLite transaction. A peer's row event reaches `apply` the same way
through `LogWriter.ingest`. `apply` merges the event into the row's registers (`row_registers`:
per-column last-writer-wins by (HLC, origin), existence as a register, so deletes are tombstones),
stores them in `row_state`, refreshes the row's entries in `row_conflicts`, then brings the user
table's row in line: present with the winning values when the existence register says so, absent
otherwise. The visible change comes back as a `RowChange` for realtime's postgres_changes.

Storage trade-off: one shared `row_state` table holding one CBOR value per row, rather than a
shadow table per user table or a row per cell. A write costs one indexed read and one write
of shadow state whatever its column count and whether it wins (the common local write, newer than
everything, is the same code path); no DDL follows user migrations. The cost: shadow state is
opaque to SQL, values are stored twice (the table is a cache of the registers, which lets a late
table registration or a `replay` rebuild it), and a column rename must rewrite the row blobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import apsw

from performer_edge.core.db import WriteTx
from performer_edge.core.events import Event, encode_payload
from performer_edge.core.log import LogWriter
from performer_edge.core.projections import Projection
from performer_edge.errors import Conflict, IntegrityError, InvalidInput, NotFound
from performer_edge.rest import row_constraints, row_merge, row_tables
from performer_edge.rest.row_format import (
    EXISTENCE,
    Clock,
    RowOp,
    RowWrite,
    SqlValue,
    encode_pk,
    identifier_problem,
    parse_row_event,
    table_name_problem,
    value_problem,
)
from performer_edge.rest.row_merge import RowChange, RowTable
from performer_edge.rest.row_registers import RowState, encode_row_state

PROJECTION_NAME = "rows"
Record = Mapping[str, SqlValue]


class RowStore:
    """Plans local row writes and applies row events. Used on the writer thread only."""

    def __init__(self) -> None:
        self._tables: dict[str, RowTable] = {}
        self._planned: tuple[bytes, RowWrite] | None = None
        self.projection = Projection(PROJECTION_NAME, ("row.",), self.apply, self.reset)

    # -- tables ------------------------------------------------------------------------------

    def table(self, name: str, pk_columns: Iterable[str], columns: Iterable[str]) -> RowTable:
        """Register (or re-register after a migration) a user table. `columns` may repeat the
        primary key's; a column later dropped is simply left out, and writes to it are ignored."""
        keys = tuple(pk_columns)
        others = tuple(c for c in dict.fromkeys(columns) if c not in keys)
        problem = table_name_problem(name) or next(
            filter(None, map(identifier_problem, keys + others)), None
        )
        if problem or not keys or len(set(keys)) != len(keys):
            raise InvalidInput(f"cannot register table {name!r}: {problem or 'bad primary key'}")
        spec = RowTable(name, keys, others)
        self._tables[name] = spec
        return spec

    def drop_table(self, name: str) -> None:
        """Forget a table. Its registers stay in `row_state`, as for a dropped column."""
        self._tables.pop(name, None)

    def materialize_table(self, conn: apsw.Connection, name: str) -> int:
        """Rebuild a table's rows from its registers (for a table registered after some of its
        row events arrived, e.g. from a peer, ahead of the migration creating it). Rows that
        break the table's constraints are placed as merged rows are (row_constraints).
        Row count."""
        spec = self._spec(name)
        conn.execute(f"DELETE FROM {row_tables.quoted(name)}")
        conn.execute("DELETE FROM row_hidden WHERE tbl = ?", (name,))
        present = [
            (pk, {**pk, **state.values(spec.columns)})
            for pk, state in row_tables.states_of(conn, name)
            if state.exists
        ]
        present.sort(key=lambda item: row_constraints.birth(conn, name, item[0]))
        removed: list[dict[str, SqlValue]] = []
        for pk, record in present:
            row_constraints.place(
                conn, name, pk, record, row_constraints.inserter(conn, name, record), removed
            )
        found = conn.execute(f"SELECT count(*) FROM {row_tables.quoted(name)}").fetchone()
        return int(found[0]) if found else 0

    # -- planning local writes -----------------------------------------------------------------

    def plan_insert(self, conn: apsw.Connection, table: str, row: Record) -> RowWrite:
        """An insert of `row` (every column; those not given are written as NULL, so the caller
        fills defaults first: a default must be in the event to be the same on every node)."""
        spec = self._spec(table)
        pk = _local_pk(spec, row)
        values = _local_values(spec, {c: v for c, v in row.items() if c not in spec.pk_columns})
        state = row_tables.load_state(conn, table, encode_pk(pk))
        if state.exists:
            raise Conflict(f"a row of {table} with key {pk} already exists", code="duplicate_key")
        return _planned(RowOp.INSERT, spec, pk, {c: values.get(c) for c in spec.columns}, state)

    def plan_update(
        self, conn: apsw.Connection, table: str, pk: Record, changes: Record
    ) -> RowWrite:
        """An update of the visible row `pk`. A primary-key column may only repeat its value."""
        spec = self._spec(table)
        key = _local_pk(spec, pk)
        for column in spec.pk_columns:
            if column in changes and changes[column] != key[column]:
                raise InvalidInput(
                    f"cannot change primary key column {column!r}: delete and insert instead",
                    code="primary_key_change",
                )
        values = _local_values(spec, {c: v for c, v in changes.items() if c not in key})
        return _planned(RowOp.UPDATE, spec, key, values, self._visible_state(conn, table, key))

    def plan_delete(self, conn: apsw.Connection, table: str, pk: Record) -> RowWrite:
        spec = self._spec(table)
        key = _local_pk(spec, pk)
        return _planned(RowOp.DELETE, spec, key, {}, self._visible_state(conn, table, key))

    def append(self, tx: WriteTx, log: LogWriter, write: RowWrite) -> tuple[Event, RowChange]:
        """Append a planned write to the log (which applies it) and return its visible change."""
        payload = encode_payload(write.payload())
        # `apply` recognises this very payload object and takes the already-checked write
        # instead of decoding and validating it again: the merge itself is the same code.
        self._planned = (payload, write)
        try:
            event = log.append_encoded(tx, write.kind, write.scope, payload)
        finally:
            self._planned = None
        assert isinstance(event.effect, RowChange), f"is {PROJECTION_NAME!r} registered?"
        return event, event.effect

    # -- applying events -----------------------------------------------------------------------

    def apply(self, conn: apsw.Connection, event: Event) -> RowChange:
        """Merge a row event (local or remote, new or repeated) and return its visible change."""
        planned = self._planned
        local = planned is not None and event.payload is planned[0]
        write = planned[1] if planned is not None and local else parse_row_event(event)
        spec = self._tables.get(write.table)
        if spec is not None and set(write.pk) != set(spec.pk_columns):
            raise IntegrityError(
                f"row event for {write.table} has key columns {sorted(write.pk)}, "
                f"the table has {list(spec.pk_columns)}",
                code="row_event_schema_mismatch",
            )
        key = encode_pk(write.pk)
        old = row_tables.load_state(conn, write.table, key)
        registers = write.registers()
        new = old.with_write(event.origin, event.hlc, event.seq, registers, write.bases)
        if new is old:
            return RowChange(write.table, RowOp.NONE)  # a repeat, or fully superseded
        row_tables.store_state(conn, write.table, key, encode_row_state(new))
        row_tables.refresh_conflicts(conn, write.table, key, old, new)
        if spec is None:
            return RowChange(write.table, RowOp.NONE)  # kept until the table is registered
        won = new.won_by(event.origin, event.hlc, registers)
        return row_merge.apply_to_table(conn, spec, write.pk, old, new, won, local=local)

    def reset(self, conn: apsw.Connection) -> None:
        """Empty every registered user table and the shadow state, before a replay."""
        for name in self._tables:
            conn.execute(f"DELETE FROM {row_tables.quoted(name)}")
        conn.execute("DELETE FROM row_state")
        conn.execute("DELETE FROM row_conflicts")
        conn.execute("DELETE FROM row_hidden")

    def _spec(self, table: str) -> RowTable:
        spec = self._tables.get(table)
        if spec is None:
            raise NotFound(f"table {table!r} is not known", code="unknown_table")
        return spec

    def _visible_state(self, conn: apsw.Connection, table: str, pk: Record) -> RowState:
        state = row_tables.load_state(conn, table, encode_pk(pk))
        if not state.exists:
            raise NotFound(f"no row of {table} with key {dict(pk)}", code="row_not_found")
        return state


# -- local input: the caller's mistakes are InvalidInput, not IntegrityError ----------------------


def _local_pk(spec: RowTable, row: Record) -> dict[str, SqlValue]:
    pk: dict[str, SqlValue] = {}
    for column in spec.pk_columns:
        value = _local_value(column, row.get(column))
        if value is None:
            raise InvalidInput(f"primary key column {column!r} needs a value", code="missing_key")
        pk[column] = value
    return pk


def _local_values(spec: RowTable, values: Record) -> dict[str, SqlValue]:
    known = set(spec.columns)
    unknown = [c for c in values if c not in known]
    if unknown:
        raise InvalidInput(f"{spec.name} has no column {unknown[0]!r}", code="unknown_column")
    return {column: _local_value(column, value) for column, value in values.items()}


def _local_value(column: str, value: object) -> SqlValue:
    if isinstance(value, bool):
        return int(value)
    problem = value_problem(value)
    if problem:
        raise InvalidInput(f"column {column!r}: {problem}", code="invalid_value")
    assert value is None or isinstance(value, int | float | str | bytes)
    return value


def _planned(op: RowOp, spec: RowTable, pk: Record, values: Record, state: RowState) -> RowWrite:
    """The write, naming as its base every version of each register it replaces knowingly."""
    bases: dict[str, tuple[Clock, ...]] = {}
    for column in (*values, EXISTENCE) if state.registers else ():
        live = state.live_clocks(column)
        if live:
            bases[column] = live
    return RowWrite(op, spec.name, dict(pk), dict(values), bases)
