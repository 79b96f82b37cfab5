"""Merged rows that break a table's constraints: which one is visible, the same on every node.

Two nodes offline can each insert a row with the same unique value (an email, a slug); when
their events meet, both rows exist in the registers but the table can hold one. Refusing the
event would stall sync for good, and keeping whichever came first would make nodes differ. The
rule, a function of the registers alone: rows are placed in claim order (the clock of the write
that gave the row its current values in the table's UNIQUE columns, then the key; migration
seeds, which have no registers, come first). A row that conflicts with an earlier visible row,
or breaks a CHECK or NOT NULL constraint by itself, is hidden: its registers stay in
`row_state`, it is listed in `row_hidden`, and it is absent from the table. A row that would fit
again (its rival deleted or changed) comes back. The first to claim a value keeps it.

Incrementally: placing a row that hits a constraint looks up its rivals through the table's
UNIQUE indexes; if the row is earlier than every rival it displaces them (hides them), else it
is hidden. After any row leaves the table or changes, hidden rows of that table are retried in
claim order. The result is the same fixpoint whatever the order of events: every visible row
fits, and every hidden row conflicts with an earlier visible one (or with its own constraints).

Local writes never get here: the REST layer refuses them (23505 and friends) before or as they
are appended. This is for events from peers and for replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apsw

from performer_edge.rest import row_tables
from performer_edge.rest.row_format import EXISTENCE, Clock, SqlValue, decode_pk, encode_pk

Record = dict[str, SqlValue]

# A schema step after ROW_EVENTS_SCHEMA (see node.SCHEMA_STEPS); never edit it once shipped.
ROW_HIDDEN_SCHEMA = """
CREATE TABLE row_hidden(
    tbl TEXT NOT NULL,
    pk BLOB NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (tbl, pk)
) WITHOUT ROWID;
"""

_SEED_BIRTH = Clock(0, b"")
_SAVEPOINT = "pe_place"
_MAX_ROUNDS = 10_000


def birth(conn: apsw.Connection, table: str, pk: Record) -> tuple[Clock, bytes]:
    """The row's place in line for the table's unique values: when it claimed its current
    values of the UNIQUE columns (the latest winning write among them; the existence write
    when none was written), then its encoded key. One total order, whatever the constraint,
    so the visible set is the same fixpoint on every node."""
    key = encode_pk(pk)
    state = row_tables.load_state(conn, table, key)
    clocks = [w.clock for c in unique_columns(conn, table) if (w := state.winner(c)) is not None]
    if not clocks:
        existence = state.winner(EXISTENCE)
        clocks = [existence.clock if existence is not None else _SEED_BIRTH]
    return (max(clocks), key)


def unique_columns(conn: apsw.Connection, table: str) -> list[str]:
    """Every column named by one of the table's UNIQUE indexes (primary key excluded)."""
    return sorted({c for columns in _unique_indexes(conn, table) for c in columns})


def _unique_indexes(conn: apsw.Connection, table: str) -> list[list[str]]:
    indexes = []
    for _, name, unique, origin, *_ in conn.execute(
        f"PRAGMA index_list({row_tables.quoted(table)})"
    ).fetchall():
        if not unique or origin == "pk":
            continue
        info = conn.execute(f"PRAGMA index_info({row_tables.quoted(str(name))})").fetchall()
        columns = [str(col) for _, cid, col in info if isinstance(cid, int) and cid >= 0]
        if len(columns) == len(info):  # an index on expressions is left to the table to check
            indexes.append(columns)
    return indexes


def hidden_keys(conn: apsw.Connection, table: str) -> list[Record]:
    rows = conn.execute("SELECT pk FROM row_hidden WHERE tbl = ?", (table,)).fetchall()
    return [decode_pk(key) for (key,) in rows if isinstance(key, bytes)]


def unhide(conn: apsw.Connection, table: str, pk: Record) -> None:
    conn.execute("DELETE FROM row_hidden WHERE tbl = ? AND pk = ?", (table, encode_pk(pk)))


def _hide(conn: apsw.Connection, table: str, pk: Record, reason: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO row_hidden(tbl, pk, reason) VALUES (?, ?, ?)",
        (table, encode_pk(pk), reason),
    )


Write = Callable[[], Record | None]  # the insert or update that may break a constraint


def place(
    conn: apsw.Connection,
    table: str,
    pk: Record,
    record: Record,
    write: Write,
    removed: list[Record],
) -> Record | None:
    """Run `write` (putting `record` in the table); on a constraint error, displace younger
    rivals or hide the row. The row as stored, or None when hidden. Rows taken out of the table
    (rivals, or this row when an update cannot stand) are appended to `removed`."""
    try:
        return write()
    except apsw.ConstraintError as error:
        reason = str(error)
    rivals = _rivals(conn, table, pk, record)
    mine = birth(conn, table, pk)
    if rivals and all(mine < birth(conn, table, rival) for rival in rivals):
        # Displace them, unless the row breaks a constraint even without them: then they stay.
        conn.execute(f"SAVEPOINT {_SAVEPOINT}")
        displaced = []
        for rival in rivals:
            gone = row_tables.delete_row(conn, table, rival)
            _hide(conn, table, rival, f"displaced by an earlier claim: {reason}")
            if gone is not None:
                displaced.append(gone)
        try:
            placed = write()
        except apsw.ConstraintError as again:
            reason = str(again)
            conn.execute(f"ROLLBACK TO {_SAVEPOINT}")
        else:
            removed.extend(displaced)
            return placed
        finally:
            conn.execute(f"RELEASE {_SAVEPOINT}")
    current = row_tables.delete_row(conn, table, pk)
    if current is not None:
        removed.append(current)
    _hide(conn, table, pk, reason)
    return None


def inserter(conn: apsw.Connection, table: str, record: Record) -> Write:
    return lambda: row_tables.insert_row(conn, table, record)


def revive(
    conn: apsw.Connection, table: str, values_of: Callable[[Record], Record | None]
) -> tuple[list[Record], list[Record]]:
    """Retry the table's hidden rows in birth order until none moves. `values_of(pk)`: the
    row's full record from its registers, or None when it is no longer present. Returns the
    records that came back and those that left the table on the way (displaced by them)."""
    back: list[Record] = []
    removed: list[Record] = []
    for _ in range(_MAX_ROUNDS):
        moved = False
        for pk in sorted(hidden_keys(conn, table), key=lambda k: birth(conn, table, k)):
            record = values_of(pk)
            if record is None:
                unhide(conn, table, pk)
                continue
            left = len(removed)
            placed = place(conn, table, pk, record, inserter(conn, table, record), removed)
            if placed is not None:
                unhide(conn, table, pk)
                back.append(placed)
                moved = True
            if len(removed) > left:
                moved = True
        if not moved:
            break
    return back, removed


def _rivals(conn: apsw.Connection, table: str, pk: Record, record: Record) -> list[Record]:
    """Visible rows sharing a value of `record` under one of the table's UNIQUE indexes."""
    quoted_table = row_tables.quoted(table)
    found: dict[tuple[Any, ...], Record] = {}
    for columns in _unique_indexes(conn, table):
        values = [record.get(c) for c in columns]
        if any(v is None for v in values):
            continue  # NULLs never collide
        where = " AND ".join(f"{row_tables.quoted(c)} = ?" for c in columns)
        keys = ", ".join(row_tables.quoted(c) for c in pk)
        for row in conn.execute(f"SELECT {keys} FROM {quoted_table} WHERE {where}", values):
            rival = dict(zip(pk, row, strict=True))
            if rival != pk:
                found[tuple(row)] = rival
    return list(found.values())
