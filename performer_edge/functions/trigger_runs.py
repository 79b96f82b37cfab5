"""Trigger runs: the node-local table of what triggers owe (one row per function and
idempotency key), the log position the trigger follower has read up to, and their SQL.

Node-local, never replicated and never rebuilt by a replay: which node runs a trigger is decided
by rule (README, Functions: triggers), so each node keeps only its own runs. A row is inserted
in the same transaction that moves the follower's position past its event, so a crash loses no
run and repeats none; UNIQUE(function, key) makes a re-read of the log a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apsw

# A step of node.SCHEMA_STEPS; never edit it once shipped, add a new one.
TRIGGER_RUNS_SCHEMA = """
CREATE TABLE function_trigger_position(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pos INTEGER NOT NULL
);
CREATE TABLE function_trigger_runs(
    id INTEGER PRIMARY KEY,
    function TEXT NOT NULL,
    trigger TEXT NOT NULL,
    key TEXT NOT NULL,
    origin BLOB,
    seq INTEGER,
    scheduled_at TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    version TEXT,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE(function, key)
);
CREATE INDEX function_trigger_runs_due ON function_trigger_runs(status, next_at);
CREATE INDEX function_trigger_runs_of ON function_trigger_runs(function, id);
"""

# Node-local: a snapshot neither carries them nor replaces them (core.snapshot.LOCAL_TABLES).
TRIGGER_TABLES = frozenset({"function_trigger_position", "function_trigger_runs"})

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"  # attempts exhausted, or cannot ever run (its event was compacted away)
SKIPPED = "skipped"  # the function was deleted, or its current version lost the trigger
STATUSES = (PENDING, SUCCEEDED, FAILED, SKIPPED)
# Finished runs are kept this long (seconds) for `performer functions runs`, then pruned.
KEEP_FINISHED_S = 7 * 24 * 3600
KEEP_FAILED_S = 30 * 24 * 3600
MAX_ERROR_CHARS = 2000

_COLUMNS = (
    "id, function, trigger, key, origin, seq, scheduled_at, status, attempts, next_at, "
    "version, last_status, last_error, created_at, updated_at"
)


@dataclass(frozen=True)
class Run:
    id: int
    function: str
    trigger: str
    key: str
    origin: bytes | None
    seq: int | None
    scheduled_at: str | None
    status: str
    attempts: int
    next_at: float
    version: str | None
    last_status: int | None
    last_error: str | None
    created_at: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "function": self.function,
            "trigger": self.trigger,
            "idempotency_key": self.key,
            "scheduled_at": self.scheduled_at,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_at) if self.status == PENDING else None,
            "version": self.version,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Owed:
    """A run to insert: for an event (origin, seq) or for a cron time (`scheduled_at`)."""

    function: str
    trigger: str
    key: str
    origin: bytes | None = None
    seq: int | None = None
    scheduled_at: str | None = None


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run(row: tuple[Any, ...]) -> Run:
    return Run(*row)


# -- the follower's position ---------------------------------------------------------------------


def read_position(conn: apsw.Connection) -> int | None:
    row = conn.execute("SELECT pos FROM function_trigger_position WHERE id = 1").fetchone()
    return None if row is None else int(row[0])


def save_position(conn: apsw.Connection, pos: int) -> None:
    conn.execute(
        "INSERT INTO function_trigger_position(id, pos) VALUES (1, ?) "
        "ON CONFLICT(id) DO UPDATE SET pos = excluded.pos",
        (pos,),
    )


# -- runs ------------------------------------------------------------------------------------------


def insert_owed(conn: apsw.Connection, owed: Iterable[Owed], now: float) -> int:
    """Insert runs not already there; returns how many were new."""
    at = _iso(now)
    added = 0
    for run in owed:
        conn.execute(
            "INSERT OR IGNORE INTO function_trigger_runs(function, trigger, key, origin, seq, "
            "scheduled_at, status, attempts, next_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            (
                run.function,
                run.trigger,
                run.key,
                run.origin,
                run.seq,
                run.scheduled_at,
                PENDING,
                now,
                at,
                at,
            ),
        )
        added += conn.changes()
    return added


def due(conn: apsw.Connection, now: float, limit: int, busy: Iterable[int] = ()) -> list[Run]:
    """Pending runs whose time has come, oldest first, leaving out those in `busy`."""
    skip = list(busy)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM function_trigger_runs WHERE status = ? AND next_at <= ? "
        f"AND id NOT IN ({', '.join('?' * len(skip))}) ORDER BY next_at, id LIMIT ?",
        (PENDING, now, *skip, limit),
    ).fetchall()
    return [_run(row) for row in rows]


def next_due(conn: apsw.Connection, busy: Iterable[int] = ()) -> float | None:
    """When the next pending run (not in `busy`) is due."""
    skip = list(busy)
    row = conn.execute(
        "SELECT min(next_at) FROM function_trigger_runs WHERE status = ? "
        f"AND id NOT IN ({', '.join('?' * len(skip))})",
        (PENDING, *skip),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def finish(
    conn: apsw.Connection,
    run_id: int,
    *,
    status: str,
    attempts: int,
    next_at: float,
    version: str | None,
    last_status: int | None,
    last_error: str | None,
) -> None:
    conn.execute(
        "UPDATE function_trigger_runs SET status = ?, attempts = ?, next_at = ?, version = ?, "
        "last_status = ?, last_error = ?, updated_at = ? WHERE id = ?",
        (
            status,
            attempts,
            next_at,
            version,
            last_status,
            None if last_error is None else last_error[:MAX_ERROR_CHARS],
            _iso(time.time()),
            run_id,
        ),
    )


def retry(conn: apsw.Connection, function: str, run_id: int, now: float) -> Run | None:
    """Make a finished run pending again, with its attempts counted from zero."""
    conn.execute(
        "UPDATE function_trigger_runs SET status = ?, attempts = 0, next_at = ?, updated_at = ? "
        "WHERE id = ? AND function = ? AND status != ?",
        (PENDING, now, _iso(now), run_id, function, PENDING),
    )
    return find(conn, function, run_id)


def find(conn: apsw.Connection, function: str, run_id: int) -> Run | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM function_trigger_runs WHERE id = ? AND function = ?",
        (run_id, function),
    ).fetchone()
    return None if row is None else _run(row)


def runs_of(
    conn: apsw.Connection, function: str, status: str | None, limit: int, before: int | None
) -> list[Run]:
    """A function's runs, newest first (`before`: only runs with a smaller id, to page)."""
    clauses: list[str] = ["function = ?"]
    params: list[Any] = [function]
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if before is not None:
        clauses.append("id < ?")
        params.append(before)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM function_trigger_runs WHERE {' AND '.join(clauses)} "
        "ORDER BY id DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [_run(row) for row in rows]


def counts(conn: apsw.Connection, function: str) -> dict[str, int]:
    found = dict.fromkeys(STATUSES, 0)
    for status, count in conn.execute(
        "SELECT status, count(*) FROM function_trigger_runs WHERE function = ? GROUP BY status",
        (function,),
    ).fetchall():
        found[str(status)] = int(str(count))
    return found


def prune(conn: apsw.Connection, now: float) -> int:
    conn.execute(
        "DELETE FROM function_trigger_runs WHERE (status IN (?, ?) AND updated_at < ?) "
        "OR (status = ? AND updated_at < ?)",
        (SUCCEEDED, SKIPPED, _iso(now - KEEP_FINISHED_S), FAILED, _iso(now - KEEP_FAILED_S)),
    )
    return conn.changes()
