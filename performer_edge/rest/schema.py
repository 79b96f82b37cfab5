"""Schema as events: an applied migration is a `schema.migration` event; its projection runs
the translated SQLite and stores the new catalog, so the schema travels with sync and replay.

Nodes apply the same migration files on their own, so a migration is identified by its name:
an event naming a migration already applied with the same SHA-256 changes nothing. One that
cannot apply here (it needs a migration from another origin that has not arrived, or the same
name was applied with other content) is parked in `rest_migrations_pending` with the reason,
never refused (refusing would stall sync); parked migrations are retried, in name order, after
each migration that applies. A local `performer migrate` still fails (plan_apply checks).

Seed statements run as the SQLite the translator made (deterministic for literal values);
volatile defaults in seeds (`now()`, `gen_random_uuid()`) differ between nodes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import apsw

from performer_edge.core.events import Event
from performer_edge.core.log import read_origin
from performer_edge.core.projections import Projection
from performer_edge.errors import IntegrityError, InvalidInput
from performer_edge.rest.catalog import Catalog
from performer_edge.rest.migrate_fts import drop_statements
from performer_edge.rest.migrate_sql import translate

log = logging.getLogger("performer.rest.schema")

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


# A schema step after ROW_HIDDEN_SCHEMA (see node.SCHEMA_STEPS); never edit it once shipped.
REST_PENDING_SCHEMA = """
CREATE TABLE rest_migrations_pending(
    origin BLOB NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sql TEXT NOT NULL,
    hlc INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (origin, seq)
);
"""
_SAVEPOINT = "pe_migration"


def pending_migrations(conn: apsw.Connection) -> list[tuple[str, str, str]]:
    """Parked migrations: (name, sha256, reason), in name order."""
    rows = conn.execute(
        "SELECT name, sha256, reason FROM rest_migrations_pending ORDER BY name, hlc, origin"
    ).fetchall()
    return [(str(n), str(d), str(r)) for n, d, r in rows]


def parked_reason(conn: apsw.Connection, origin: bytes, seq: int) -> str | None:
    row = conn.execute(
        "SELECT reason FROM rest_migrations_pending WHERE origin = ? AND seq = ?", (origin, seq)
    ).fetchone()
    return str(row[0]) if row else None


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
    name, sha256, sql = data["name"], data["sha256"], data["sql"]
    applied = applied_migrations(conn).get(name)
    if applied == sha256:
        return  # the same file, applied here already (by this node or another)
    if applied is not None:
        reason = f"migration {name} was applied here with other content (sha256 {applied[:12]})"
        _park(conn, event, name, sha256, sql, reason)
        return
    failed = _try_apply(conn, event, name, sha256, sql, on_catalog)
    if failed is not None:
        _park(conn, event, name, sha256, sql, failed)
        return
    _retry_parked(conn, on_catalog)


def _try_apply(
    conn: apsw.Connection,
    event: Event,
    name: str,
    sha256: str,
    sql: str,
    on_catalog: CatalogHook | None,
) -> str | None:
    """Apply under a savepoint; None when applied, else why not (nothing changed)."""
    conn.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        catalog = run_migration(conn, name, sql)
        if on_catalog is not None:
            on_catalog(conn, event, catalog)
        applied_at = datetime.fromtimestamp((event.hlc >> 16) / 1000, tz=UTC).isoformat()
        conn.execute(
            "INSERT INTO rest_migrations(name, sha256, applied_at, origin, seq) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, sha256, applied_at, event.origin, event.seq),
        )
    except (InvalidInput, apsw.Error) as exc:
        conn.execute(f"ROLLBACK TO {_SAVEPOINT}")
        conn.execute(f"RELEASE {_SAVEPOINT}")
        return exc.message if isinstance(exc, InvalidInput) else str(exc)
    conn.execute(f"RELEASE {_SAVEPOINT}")
    return None


def _park(
    conn: apsw.Connection, event: Event, name: str, sha256: str, sql: str, reason: str
) -> None:
    log.warning("migration %s from %s parked: %s", name, event.origin.hex()[:12], reason)
    conn.execute(
        "INSERT OR REPLACE INTO rest_migrations_pending(origin, seq, name, sha256, sql, hlc, "
        "reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event.origin, event.seq, name, sha256, sql, event.hlc, reason),
    )


def _retry_parked(conn: apsw.Connection, on_catalog: CatalogHook | None) -> None:
    """A migration applied: parked ones may apply now. In name order, until none moves."""
    moved = True
    while moved:
        moved = False
        rows: list[tuple[Any, ...]] = conn.execute(
            "SELECT origin, seq, name, sha256, sql FROM rest_migrations_pending "
            "ORDER BY name, hlc, origin"
        ).fetchall()
        for origin, seq, name, sha256, sql in rows:
            applied = applied_migrations(conn).get(name)
            if applied == sha256:
                reason = None
            elif applied is not None:
                continue  # a different file under that name: stays parked
            else:
                event = read_origin(conn, origin, seq, seq, limit=1)[0]
                reason = _try_apply(conn, event, name, sha256, sql, on_catalog)
            if reason is None:
                conn.execute(
                    "DELETE FROM rest_migrations_pending WHERE origin = ? AND seq = ?",
                    (origin, seq),
                )
                moved = True


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
    conn.execute("DELETE FROM rest_migrations_pending")


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

    def invalidate(self) -> None:
        """Forget the cached catalog (its table was replaced wholesale, by a snapshot)."""
        with self._lock:
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
