"""Applying migration files: each once, tracked by name and SHA-256; a changed file is an error.

Used by `performer migrate`, `performer serve --migrations DIR` and the migrations API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import apsw

from performer_edge.core.db import Database, WriteTx
from performer_edge.core.log import LogWriter
from performer_edge.errors import Conflict, InvalidInput
from performer_edge.rest.migrate_sql import translate
from performer_edge.rest.schema import (
    MIGRATION_KIND,
    MIGRATION_SCOPE,
    applied_migrations,
    load_catalog,
    parked_reason,
)


@dataclass(frozen=True)
class MigrationFile:
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def read_migration_files(paths: list[Path]) -> list[MigrationFile]:
    """Files as given, and each directory's `*.sql` files in name order."""
    found: list[MigrationFile] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix == ".sql" and p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise InvalidInput(f"migration path {path} does not exist", code="invalid_migration")
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(
                    f"cannot read migration {file}: {exc}", code="invalid_migration"
                ) from exc
            found.append(MigrationFile(file.name, text))
    return found


def plan_apply(tx: WriteTx, *, log: LogWriter, migration: MigrationFile) -> str:
    """In a write: append the migration's event unless applied. Returns applied|unchanged."""
    applied = applied_migrations(tx.conn).get(migration.name)
    if applied == migration.sha256:
        return "unchanged"
    if applied is not None:
        raise Conflict(
            f"migration {migration.name} was changed after it was applied "
            f"(applied sha256 {applied[:12]}, file sha256 {migration.sha256[:12]}); "
            "add a new migration instead of editing an applied one",
            code="migration_changed",
        )
    check_translates(tx.conn, migration)
    event = log.append(
        tx,
        MIGRATION_KIND,
        MIGRATION_SCOPE,
        {"name": migration.name, "sha256": migration.sha256, "sql": migration.sql},
    )
    parked = parked_reason(tx.conn, event.origin, event.seq)
    if parked is not None:  # the projection parks what cannot apply; locally, that is an error
        raise InvalidInput(f"{migration.name}: {parked}", code="invalid_migration")
    return "applied"


def check_translates(conn: apsw.Connection, migration: MigrationFile) -> None:
    """Fail before appending when the SQL cannot be translated (the error names the line)."""
    catalog, _ = load_catalog(conn)
    try:
        translate(migration.sql, catalog)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{migration.name}: {exc.message}", code="invalid_migration", details=exc.details
        ) from exc


def apply_migrations(
    db: Database,
    log: LogWriter,
    migrations: list[MigrationFile],
    report: Callable[[str, str], None] | None = None,
) -> list[tuple[str, str]]:
    """Apply in order, each in its own write; stop at the first failure (raised).

    `report(name, status)` hears of each one as it lands, so a failure later still shows
    which applied before it.
    """
    results = []
    for migration in migrations:
        status = db.write_sync(partial(plan_apply, log=log, migration=migration))
        results.append((migration.name, status))
        if report is not None:
            report(migration.name, status)
    return results
