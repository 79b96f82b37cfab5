"""The Postgres errors a REST write answers when a row breaks a constraint, worded as Postgres
words them (23505 unique, 23502 not-null, 23514 check, 21000 pg-safeupdate).

SQLite reports `UNIQUE constraint failed: t.a, t.b`; the client expects the constraint's name and
`Key (a, b)=(1, 2) already exists.` or `Failing row contains (...)`. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from performer_edge.errors import Conflict, InvalidInput, PerformerError
from performer_edge.rest.catalog import Column, Table
from performer_edge.rest.migrate_types import SqliteValue

_FAILED = re.compile(r"(UNIQUE|NOT NULL|CHECK|PRIMARY KEY|FOREIGN KEY) constraint failed:?\s*(.*)")


def missing_where(command: str) -> InvalidInput:
    """Supabase loads pg-safeupdate: an UPDATE or DELETE without a WHERE clause is refused."""
    return InvalidInput(f"{command.upper()} requires a WHERE clause", code="21000")


def duplicate_key(
    table: Table, columns: tuple[str, ...], row: Mapping[str, SqliteValue]
) -> PerformerError:
    if columns == table.primary_key:
        constraint = table.primary_key_name or f"{table.name}_pkey"
    else:
        constraint = next(
            (u.name for u in table.unique if u.columns == columns),
            f"{table.name}_{'_'.join(columns)}_key",
        )
    values = ", ".join(_key_text(row.get(c)) for c in columns)
    return Conflict(
        f'duplicate key value violates unique constraint "{constraint}"',
        code="23505",
        details=f"Key ({', '.join(columns)})=({values}) already exists.",
    )


def not_null(table: Table, column: str, row: Mapping[str, SqliteValue] | None) -> PerformerError:
    return InvalidInput(
        f'null value in column "{column}" of relation "{table.name}" violates not-null constraint',
        code="23502",
        details=None if row is None else failing_row(table, row),
    )


def constraint_error(
    text: str, table: Table | None = None, row: Mapping[str, SqliteValue] | None = None
) -> PerformerError:
    """A SQLite constraint failure as the Postgres error a client expects. With the written
    `table` and `row` (stored values) the error names the constraint and shows the values."""
    found = _FAILED.search(text)
    if found is None:
        return Conflict(text, code="23000")
    kind, subject = found.group(1), found.group(2).strip()
    columns = tuple(part.strip().split(".")[-1] for part in subject.split(",") if part.strip())
    if kind in ("UNIQUE", "PRIMARY KEY"):
        if table is not None and row is not None and columns:
            return duplicate_key(table, columns, row)
        return Conflict(
            "duplicate key value violates unique constraint", code="23505", details=subject
        )
    if kind == "NOT NULL" and table is not None and columns:
        return not_null(table, columns[0], row)
    if kind == "NOT NULL":
        return InvalidInput("null value violates not-null constraint", code="23502")
    if kind == "CHECK" and table is not None:
        return InvalidInput(
            f'new row for relation "{table.name}" violates check constraint "{subject}"',
            code="23514",
            details=None if row is None else failing_row(table, row),
        )
    if kind == "CHECK":
        return InvalidInput("new row violates check constraint", code="23514", details=subject)
    return Conflict(
        "insert or update on table violates foreign key constraint", code="23503", details=subject
    )


def failing_row(table: Table, row: Mapping[str, SqliteValue]) -> str:
    """Postgres' `Failing row contains (1, null, x).`: every column, in declared order."""
    shown = ", ".join(_cell_text(column, row.get(column.name)) for column in table.columns)
    return f"Failing row contains ({shown})."


def _cell_text(column: Column, value: SqliteValue) -> str:
    if value is None:
        return "null"
    if column.base_type == "bool" and not column.array_dims and isinstance(value, int):
        return "t" if value else "f"
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)


def _key_text(value: SqliteValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)
