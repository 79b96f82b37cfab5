"""The SQL of the row layer: its schema, shadow-state and conflict rows, and user-table rows.

Names reaching SQL text here have passed `row_format.identifier_problem` and are always quoted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import apsw

from performer_edge.rest.row_format import Clock, SqlValue, decode_pk, quote_identifier
from performer_edge.rest.row_registers import (
    EMPTY_ROW,
    LostWrite,
    RowState,
    decode_row_state,
)

Record = Mapping[str, SqlValue]

# A capability schema step (see `node.SCHEMA_STEPS`); never edit it once shipped.
# `row_state.state` is the row's registers as one CBOR array (`row_registers`); `pk` is the primary
# key as canonical CBOR (`row_format.encode_pk`). `row_conflicts` holds at most one lost write per
# (row, column, origin); column "" is the row's existence (1 = written as present, 0 = deleted).
ROW_EVENTS_SCHEMA = """
CREATE TABLE row_state(
    tbl TEXT NOT NULL,
    pk BLOB NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (tbl, pk)
) WITHOUT ROWID;
CREATE TABLE row_conflicts(
    tbl TEXT NOT NULL,
    pk BLOB NOT NULL,
    col TEXT NOT NULL,
    loser_origin BLOB NOT NULL,
    loser_hlc INTEGER NOT NULL,
    loser_seq INTEGER NOT NULL,
    loser_value,
    winner_origin BLOB NOT NULL,
    winner_hlc INTEGER NOT NULL,
    winner_seq INTEGER NOT NULL,
    PRIMARY KEY (tbl, pk, col, loser_origin)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class RowConflict:
    """A write that lost to a concurrent one: `value` at `loser` was replaced by `winner`."""

    table: str
    pk: Record
    column: str
    value: SqlValue
    loser: Clock
    loser_seq: int
    winner: Clock
    winner_seq: int


def quoted(name: str) -> str:
    return quote_identifier(name)


# -- shadow state --------------------------------------------------------------------------------


def load_state_blob(conn: apsw.Connection, table: str, key: bytes) -> bytes | None:
    row = conn.execute("SELECT state FROM row_state WHERE tbl = ? AND pk = ?", (table, key))
    found = row.fetchone()
    return None if found is None else bytes(found[0])


def load_state(conn: apsw.Connection, table: str, key: bytes) -> RowState:
    blob = load_state_blob(conn, table, key)
    return EMPTY_ROW if blob is None else decode_row_state(blob)


def store_state(conn: apsw.Connection, table: str, key: bytes, blob: bytes) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO row_state(tbl, pk, state) VALUES (?, ?, ?)", (table, key, blob)
    )


def states_of(conn: apsw.Connection, table: str) -> Iterator[tuple[dict[str, SqlValue], RowState]]:
    cursor = conn.execute("SELECT pk, state FROM row_state WHERE tbl = ? ORDER BY pk", (table,))
    rows: list[tuple[Any, ...]] = cursor.fetchall()
    for key, blob in rows:
        yield decode_pk(key), decode_row_state(blob)


# -- conflicts -----------------------------------------------------------------------------------


def refresh_conflicts(
    conn: apsw.Connection, table: str, key: bytes, old: RowState, new: RowState
) -> None:
    """Make the row's `row_conflicts` entries those of `new` (a loser's winner may have moved)."""
    before = {(c.column, c.origin): c for c in old.conflicts()}
    after = {(c.column, c.origin): c for c in new.conflicts()}
    for column, origin in before.keys() - after.keys():
        conn.execute(
            "DELETE FROM row_conflicts WHERE tbl = ? AND pk = ? AND col = ? AND loser_origin = ?",
            (table, key, column, origin),
        )
    for lost in after.values():
        if before.get((lost.column, lost.origin)) != lost:
            _store_conflict(conn, table, key, lost)


def _store_conflict(conn: apsw.Connection, table: str, key: bytes, lost: LostWrite) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO row_conflicts(tbl, pk, col, loser_origin, loser_hlc, loser_seq, "
        "loser_value, winner_origin, winner_hlc, winner_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            table,
            key,
            lost.column,
            lost.origin,
            lost.slot.hlc,
            lost.slot.seq,
            lost.slot.value,
            lost.winner.origin,
            lost.winner.slot.hlc,
            lost.winner.slot.seq,
        ),
    )


def read_conflicts(conn: apsw.Connection, table: str | None = None) -> list[RowConflict]:
    """Every lost write held, or those of one table, in (table, key, column, origin) order."""
    sql = "SELECT * FROM row_conflicts"
    params: tuple[str, ...] = ()
    if table is not None:
        sql, params = sql + " WHERE tbl = ?", (table,)
    rows: list[tuple[Any, ...]] = conn.execute(
        sql + " ORDER BY tbl, pk, col, loser_origin", params
    ).fetchall()
    return [
        RowConflict(
            tbl,
            decode_pk(key),
            col,
            value,
            Clock(l_hlc, l_origin),
            l_seq,
            Clock(w_hlc, w_origin),
            w_seq,
        )
        for tbl, key, col, l_origin, l_hlc, l_seq, value, w_origin, w_hlc, w_seq in rows
    ]


# -- user tables ---------------------------------------------------------------------------------


def select_row(conn: apsw.Connection, table: str, pk: Record) -> dict[str, SqlValue] | None:
    sql = _row_sql("SELECT * FROM {table} WHERE {where}", table, (), tuple(pk))
    return _one(conn.execute(sql, tuple(pk.values())))


def insert_row(conn: apsw.Connection, table: str, row: Record) -> dict[str, SqlValue]:
    inserted = _one(conn.execute(_insert_sql(table, tuple(row)), tuple(row.values())))
    assert inserted is not None
    return inserted


def update_row(
    conn: apsw.Connection, table: str, pk: Record, changes: Record
) -> dict[str, SqlValue] | None:
    template = "UPDATE {table} SET {assignments} WHERE {where} RETURNING *"
    sql = _row_sql(template, table, tuple(changes), tuple(pk))
    return _one(conn.execute(sql, (*changes.values(), *pk.values())))


def delete_row(conn: apsw.Connection, table: str, pk: Record) -> dict[str, SqlValue] | None:
    sql = _row_sql("DELETE FROM {table} WHERE {where} RETURNING *", table, (), tuple(pk))
    return _one(conn.execute(sql, tuple(pk.values())))


# SQL text is cached per shape: the same few tables and column sets recur on every write.
@lru_cache(maxsize=1024)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(map(quoted, columns))
    return (
        f"INSERT INTO {quoted(table)}({names}) VALUES ({', '.join('?' * len(columns))}) RETURNING *"
    )


@lru_cache(maxsize=1024)
def _row_sql(template: str, table: str, assigned: tuple[str, ...], pk: tuple[str, ...]) -> str:
    return template.format(
        table=quoted(table),
        assignments=", ".join(f"{quoted(column)} = ?" for column in assigned),
        where=" AND ".join(f"{quoted(column)} = ?" for column in pk),
    )


def _one(cursor: apsw.Cursor) -> dict[str, SqlValue] | None:
    try:
        names = [name for name, _ in cursor.getdescription()]
    except apsw.ExecutionCompleteError:
        return None  # no row: the statement already ran to completion
    rows = cursor.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else None
