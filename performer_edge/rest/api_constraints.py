"""Foreign keys for local writes. SQLite's enforcement is off (a merged row event must always
apply), so a REST write checks references itself, in its transaction, as Postgres would: an
inserted or updated row must reference existing rows (23503), and deleting a referenced row
cascades, sets null, or fails (23503) by the key's ON DELETE action, the cascaded changes
being row events too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import apsw

from performer_edge.core.db import WriteTx
from performer_edge.errors import Conflict
from performer_edge.rest import row_tables
from performer_edge.rest.catalog import Catalog, ForeignKey, ReferentialAction, Table
from performer_edge.rest.component import RestComponent
from performer_edge.rest.migrate_types import SqliteValue

Row = Mapping[str, SqliteValue]

_MAX_DEPTH = 32


def _text(values: Sequence[SqliteValue]) -> str:
    return ", ".join("" if v is None else str(v) for v in values)


def _matching(
    conn: apsw.Connection, table: Table, columns: Sequence[str], values: Sequence[SqliteValue]
) -> list[dict[str, SqliteValue]]:
    where = " AND ".join(f"{row_tables.quoted(c)} = ?" for c in columns)
    cursor = conn.execute(
        f"SELECT * FROM {row_tables.quoted(table.sqlite_name)} WHERE {where}", values
    )
    try:
        names = [name for name, _ in cursor.getdescription()]
    except apsw.ExecutionCompleteError:
        return []
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def check_references(
    conn: apsw.Connection, catalog: Catalog, table: Table, keys: Sequence[Row]
) -> None:
    """Every written row's foreign keys point at existing rows (NULL parts match anything)."""
    for fk in table.foreign_keys:
        parent = catalog.tables.get(fk.ref_key)
        if parent is None:
            continue
        for key in keys:
            row = row_tables.select_row(conn, table.sqlite_name, key)
            if row is None:
                continue
            values = [row.get(c) for c in fk.columns]
            if any(v is None for v in values):
                continue
            where = " AND ".join(f"{row_tables.quoted(c)} = ?" for c in fk.ref_columns)
            found = conn.execute(
                f"SELECT 1 FROM {row_tables.quoted(parent.sqlite_name)} WHERE {where} LIMIT 1",
                values,
            ).fetchone()
            if found is None:
                raise Conflict(
                    f'insert or update on table "{table.name}" violates foreign key constraint'
                    f' "{fk.name}"',
                    code="23503",
                    details=f"Key ({', '.join(fk.columns)})=({_text(values)}) is not present in"
                    f' table "{parent.name}".',
                )


def delete_row(
    tx: WriteTx, rest: RestComponent, catalog: Catalog, table: Table, key: Row, depth: int = 0
) -> None:
    """Delete one row as a row event, after what references it (ON DELETE)."""
    conn = tx.conn
    row = row_tables.select_row(conn, table.sqlite_name, key)
    if row is None:
        return
    for child in catalog.tables.values():
        for fk in child.foreign_keys:
            if fk.ref_key == table.key and child.primary_key:
                _on_delete(tx, rest, catalog, table, row, child, fk, depth)
    rest.adopt(tx, table, key)
    rest.rows.append(tx, rest.log, rest.rows.plan_delete(conn, table.sqlite_name, key))


def _on_delete(
    tx: WriteTx,
    rest: RestComponent,
    catalog: Catalog,
    table: Table,
    row: Row,
    child: Table,
    fk: ForeignKey,
    depth: int,
) -> None:
    values = [row.get(c) for c in fk.ref_columns]
    if any(v is None for v in values):
        return
    dependents = _matching(tx.conn, child, fk.columns, values)
    if not dependents:
        return
    action = fk.on_delete
    if action is ReferentialAction.CASCADE and depth < _MAX_DEPTH:
        for dependent in dependents:
            child_key = {c: dependent[c] for c in child.primary_key}
            delete_row(tx, rest, catalog, child, child_key, depth + 1)
        return
    if action in (ReferentialAction.SET_NULL, ReferentialAction.SET_DEFAULT):
        for dependent in dependents:
            child_key = {c: dependent[c] for c in child.primary_key}
            changes = {c: None for c in fk.columns if c not in child.primary_key}
            rest.adopt(tx, child, child_key)
            planned = rest.rows.plan_update(tx.conn, child.sqlite_name, child_key, changes)
            rest.rows.append(tx, rest.log, planned)
        return
    raise Conflict(
        f'update or delete on table "{table.name}" violates foreign key constraint "{fk.name}"'
        f' on table "{child.name}"',
        code="23503",
        details=f"Key ({', '.join(fk.ref_columns)})=({_text(values)}) is still referenced from"
        f' table "{child.name}".',
    )


def rekey_row(
    tx: WriteTx,
    rest: RestComponent,
    catalog: Catalog,
    table: Table,
    key: Row,
    new_key: Row,
    changes: Row,
) -> dict[str, SqliteValue]:
    """An UPDATE that changes the primary key: row events cannot re-key a row, so it is a
    delete of the old key and an insert of the new one (two events). As Postgres' default
    `ON UPDATE NO ACTION`, a key other rows still reference cannot change (23503). The new
    row, or Conflict(duplicate_key) when its key is taken."""
    conn = tx.conn
    for child in catalog.tables.values():
        for fk in child.foreign_keys:
            moved = [c for c in fk.ref_columns if c in new_key and new_key[c] != key.get(c)]
            if fk.ref_key != table.key or not moved:
                continue
            values = [key.get(c) for c in fk.ref_columns]
            if any(v is None for v in values) or not _matching(conn, child, fk.columns, values):
                continue
            raise Conflict(
                f'update or delete on table "{table.name}" violates foreign key constraint'
                f' "{fk.name}" on table "{child.name}"',
                code="23503",
                details=f"Key ({', '.join(fk.ref_columns)})=({_text(values)}) is still"
                f' referenced from table "{child.name}".',
            )
    name = table.sqlite_name
    row = row_tables.select_row(conn, name, key) or {}
    columns = [c.name for c in table.columns if c.generated is None]
    new_row = {c: changes.get(c, row.get(c)) for c in columns}
    if row_tables.select_row(conn, name, new_key) is not None:
        raise Conflict("the new key is taken", code="duplicate_key")
    planned_insert = rest.rows.plan_insert(conn, name, new_row)
    rest.rows.append(tx, rest.log, rest.rows.plan_delete(conn, name, key))
    rest.rows.append(tx, rest.log, planned_insert)
    return {c: new_row[c] for c in table.primary_key}
