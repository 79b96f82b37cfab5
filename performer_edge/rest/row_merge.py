"""Bringing a user table's row in line with its merged registers, for one row event.

`apply_to_table` gets the row's registers before and after the event and makes the table show
the winning values: present or absent by the existence register, with the winning column
values. A local write that breaks a table constraint fails (the request's error); a peer's
event, or a replayed one, never fails on one: the row is placed by `row_constraints` (the older
of two rows sharing a unique value stays visible, the other is hidden), and whenever a row
leaves the table or changes, hidden rows of the table get another chance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import apsw

from performer_edge.errors import Conflict
from performer_edge.rest import row_constraints, row_tables
from performer_edge.rest.row_format import RowOp, SqlValue, encode_pk, same_value
from performer_edge.rest.row_registers import RowState

Record = Mapping[str, SqlValue]


@dataclass(frozen=True)
class RowTable:
    """What the row layer needs to know of a user table (the catalog adapts to this)."""

    name: str
    pk_columns: tuple[str, ...]
    columns: tuple[str, ...]  # every other column


@dataclass(frozen=True)
class RowChange:
    """The visible effect of one row event: records as a reader saw them before and after.
    `cascade`: other rows of the table that left or came back because of it (a merged row that
    breaks a UNIQUE constraint hides the younger one; see row_constraints)."""

    table: str
    op: RowOp
    old_record: Record | None = None
    new_record: Record | None = None
    cascade: tuple[RowChange, ...] = ()


def apply_to_table(
    conn: apsw.Connection,
    spec: RowTable,
    pk: Record,
    old: RowState,
    new: RowState,
    won: bool,
    *,
    local: bool,
) -> RowChange:
    name = spec.name
    key = dict(pk)
    before = {**key, **old.values(spec.columns)} if old.exists else None
    after = {**key, **new.values(spec.columns)} if new.exists else None
    removed: list[dict[str, SqlValue]] = []
    if after is None:
        if before is None:
            return RowChange(name, RowOp.NONE)
        gone = row_tables.delete_row(conn, name, key)
        if gone is None:  # it was hidden: nothing visible changes
            row_constraints.unhide(conn, name, key)
            return RowChange(name, RowOp.NONE)
        change = RowChange(name, RowOp.DELETE, gone, None)
        return _with_revived(conn, spec, change, key)
    current = row_tables.select_row(conn, name, key) if before is not None else None
    if current is None:  # newly visible, or hidden until now
        placed = _write(
            conn, spec, key, after, local, removed, row_constraints.inserter(conn, name, after)
        )
        if placed is None:
            change = RowChange(name, RowOp.NONE)
        else:
            if before is not None:
                row_constraints.unhide(conn, name, key)
            change = RowChange(name, RowOp.INSERT, None, placed)
        return _settled(conn, spec, change, removed, key)
    assert before is not None
    changed = {c: v for c, v in after.items() if c not in before or not same_value(before[c], v)}
    if not changed and not won:
        return RowChange(name, RowOp.NONE)
    placed = _write(
        conn,
        spec,
        key,
        after,
        local,
        removed,
        lambda: row_tables.update_row(conn, name, key, changed) if changed else current,
    )
    if placed is None:  # the new values cannot stand: the row is hidden
        removed = [r for r in removed if not _same_key(r, key)]
        change = RowChange(name, RowOp.DELETE, current, None)
    else:
        change = RowChange(name, RowOp.UPDATE, current, placed)
    # Even an unchanged value may have been claimed anew (a later write of it): a hidden row
    # claiming it earlier now takes it.
    return _settled(conn, spec, change, removed, key)


def _write(
    conn: apsw.Connection,
    spec: RowTable,
    key: dict[str, SqlValue],
    record: dict[str, SqlValue],
    local: bool,
    removed: list[dict[str, SqlValue]],
    write: row_constraints.Write,
) -> dict[str, SqlValue] | None:
    if not local:
        return row_constraints.place(conn, spec.name, key, record, write, removed)
    try:
        return write()
    except apsw.ConstraintError as exc:
        raise Conflict(
            f"row event breaks a constraint of {spec.name}: {exc}",
            code="constraint_violation",
            hint="a local write is checked before it is appended; see rest/api_write.py",
        ) from exc


def _same_key(record: Record, key: Record) -> bool:
    return all(same_value(record.get(c), v) for c, v in key.items())


def _settled(
    conn: apsw.Connection,
    spec: RowTable,
    change: RowChange,
    removed: list[dict[str, SqlValue]],
    key: Record,
) -> RowChange:
    """Report the rows this one displaced, then let hidden rows of the table retry."""
    others = tuple(
        RowChange(spec.name, RowOp.DELETE, r, None) for r in removed if not _same_key(r, key)
    )
    return _with_revived(conn, spec, _extend(change, others), key)


def _with_revived(
    conn: apsw.Connection, spec: RowTable, change: RowChange, key: Record
) -> RowChange:
    """Something left the table or changed: hidden rows of the table may fit now."""
    if not row_constraints.hidden_keys(conn, spec.name):
        return change

    def values_of(pk: Record) -> dict[str, SqlValue] | None:
        state = row_tables.load_state(conn, spec.name, encode_pk(pk))
        return {**pk, **state.values(spec.columns)} if state.exists else None

    back, left = row_constraints.revive(conn, spec.name, values_of)
    cascade = tuple(RowChange(spec.name, RowOp.INSERT, None, r) for r in back) + tuple(
        RowChange(spec.name, RowOp.DELETE, r, None) for r in left if not _same_key(r, key)
    )
    return _extend(change, cascade)


def _extend(change: RowChange, cascade: tuple[RowChange, ...]) -> RowChange:
    if not cascade:
        return change
    return RowChange(
        change.table, change.op, change.old_record, change.new_record, change.cascade + cascade
    )
