"""Schema as events: an applied migration is a `schema.migration` event; its projection runs
the translated SQLite and stores the new catalog, so the schema travels with sync and replay.

Seed statements run as the SQLite the translator made (deterministic for literal values);
volatile defaults in seeds (`now()`, `gen_random_uuid()`) differ between nodes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import apsw

from performer_edge.core.events import Event
from performer_edge.core.projections import Projection
from performer_edge.errors import IntegrityError, InvalidInput
from performer_edge.rest.catalog import Catalog
from performer_edge.rest.migrate_fts import drop_statements
from performer_edge.rest.migrate_sql import translate

MIGRATION_KIND = "schema.migration"
MIGRATION_SCOPE = "schema"

REST_SCHEMA = """
CREATE TABLE rest_catalog(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    catalog TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE rest_migrations(
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    origin BLOB NOT NULL,
    seq INTEGER NOT NULL
);
"""


def catalog_version(conn: apsw.Connection) -> int:
    row = conn.execute("SELECT version FROM rest_catalog WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def load_catalog(conn: apsw.Connection) -> tuple[Catalog, int]:
    row = conn.execute("SELECT catalog, version FROM rest_catalog WHERE id = 1").fetchone()
    if row is None:
        return Catalog(), 0
    return Catalog.from_dict(json.loads(row[0])), int(row[1])


def save_catalog(conn: apsw.Connection, catalog: Catalog, version: int) -> None:
    conn.execute(
        "INSERT INTO rest_catalog(id, catalog, version) VALUES (1, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET catalog = excluded.catalog, version = excluded.version",
        (json.dumps(catalog.to_dict(), separators=(",", ":")), version),
    )


def applied_migrations(conn: apsw.Connection) -> dict[str, str]:
    """Applied migration names and their SHA-256."""
    rows = conn.execute("SELECT name, sha256 FROM rest_migrations ORDER BY name").fetchall()
    return {str(name): str(digest) for name, digest in rows}


def run_migration(conn: apsw.Connection, name: str, sql: str) -> Catalog:
    """Translate `sql` against the stored catalog and run it; the caller's transaction holds it."""
    catalog, version = load_catalog(conn)
    plan = translate(sql, catalog)
    for operation in plan.operations:
        for statement in operation.sqlite:
            try:
                conn.execute(statement)
            except apsw.Error as exc:
                raise InvalidInput(
                    f"{name}: line {operation.line}: {operation.head}: {exc}",
                    code="invalid_migration",
                ) from exc
    save_catalog(conn, plan.catalog, version + 1)
    return plan.catalog


CatalogHook = Callable[[apsw.Connection, Event, Catalog], None]


def _apply_event(
    conn: apsw.Connection, event: Event, on_catalog: CatalogHook | None = None
) -> None:
    data: Any = event.data
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("name", "sha256", "sql")
    ):
        raise IntegrityError("malformed schema.migration event")
    catalog = run_migration(conn, data["name"], data["sql"])
    if on_catalog is not None:
        on_catalog(conn, event, catalog)
    applied_at = datetime.fromtimestamp((event.hlc >> 16) / 1000, tz=UTC).isoformat()
    conn.execute(
        "INSERT INTO rest_migrations(name, sha256, applied_at, origin, seq) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET sha256 = excluded.sha256",
        (data["name"], data["sha256"], applied_at, event.origin, event.seq),
    )


def _reset(conn: apsw.Connection) -> None:
    """Drop everything migrations made, so replay can make it again."""
    catalog, _ = load_catalog(conn)
    for view in reversed(list(catalog.views.values())):
        conn.execute(f'DROP VIEW IF EXISTS "{view.sqlite_name}"')
    for index in catalog.indexes.values():
        for statement in drop_statements(index) if index.full_text else ():
            conn.execute(statement)  # FTS5 tables are tables of their own
    for table in reversed(list(catalog.tables.values())):
        conn.execute(f'DROP TABLE IF EXISTS "{table.sqlite_name}"')
    conn.execute("DELETE FROM rest_catalog")
    conn.execute("DELETE FROM rest_migrations")


def make_projection(on_catalog: CatalogHook | None = None) -> Projection:
    """The schema projection; `on_catalog(conn, event, catalog)` hears of each new catalog, in the
    migration's transaction (the row layer registers the tables it made)."""

    def apply(conn: apsw.Connection, event: Event) -> None:
        _apply_event(conn, event, on_catalog)

    return Projection("schema", (MIGRATION_KIND,), apply, _reset)


PROJECTION = make_projection()


class CatalogCache:
    """The current catalog for request handlers, reloaded when its version changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._catalog = Catalog()
        self._version = -1

    def get(self, conn: apsw.Connection) -> Catalog:
        version = catalog_version(conn)
        with self._lock:
            if version == self._version:
                return self._catalog
        catalog, version = load_catalog(conn)
        with self._lock:
            self._catalog, self._version = catalog, version
        return catalog
