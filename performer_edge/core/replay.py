"""Rebuild every projection from the node's base snapshot and the event log, reporting progress.

Run on the writer connection with `Database.run_exclusive`; readers keep seeing the old state
until the rebuild commits. A compacted log is rebuilt from its base snapshot (the state after
the events it folded) plus the events held after it (`core.compaction`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import apsw

from performer_edge.core.compaction import apply_after, base_snapshot
from performer_edge.core.log import count_events, read_horizon
from performer_edge.core.projections import Projections
from performer_edge.core.snapshot import LOCAL_TABLES, Prepare, Snapshot, load_state, upgraded
from performer_edge.errors import DataDirError
from sync.version_vector import VersionVector

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayReport:
    events: int
    projections: tuple[str, ...]
    seconds: float
    from_snapshot: bool = False


def replay(
    conn: apsw.Connection,
    projections: Projections,
    progress: Progress | None = None,
    *,
    migrations: Sequence[str] = (),
    prepare: Prepare = lambda c: c,
    local_tables: frozenset[str] = LOCAL_TABLES,
) -> ReplayReport:
    """`migrations` and `prepare` (the node's `Database.migrations` and `.prepare`) bring a
    base snapshot made before an upgrade to the current schema."""
    base = base_snapshot(conn)
    if base is None and read_horizon(conn):
        raise DataDirError("the log is compacted but names no base snapshot: cannot replay")
    if base is not None and not base.path.exists():
        raise DataDirError(f"the log's base snapshot {base.path} is missing: cannot replay")
    if base is None:
        return _replay(conn, projections, progress, None, None, local_tables)
    with upgraded(base.path, migrations or _current(conn), prepare) as usable:
        return _replay(conn, projections, progress, base, usable, local_tables)


def _current(conn: apsw.Connection) -> tuple[str, ...]:
    """Without the steps at hand: as many as this database has (no upgrade possible)."""
    row = conn.execute("PRAGMA main.user_version").fetchone()
    return ("",) * (int(row[0]) if row else 0)


def _replay(
    conn: apsw.Connection,
    projections: Projections,
    progress: Progress | None,
    base: Snapshot | None,
    usable: Path | None,
    local_tables: frozenset[str],
) -> ReplayReport:
    started = time.monotonic()
    if usable is not None:
        conn.execute("ATTACH ? AS snap", (str(usable),))
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            total = count_events(conn)
            if base is not None:
                load_state(conn, projections, local=local_tables)
            else:
                projections.reset(conn)

            def report(done: int) -> None:
                if progress is not None:
                    progress(done, total)

            done = apply_after(conn, projections, base.vector if base else VersionVector(), report)
            if progress is not None:
                progress(done, done)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        if usable is not None:
            conn.execute("DETACH snap")
    names = tuple(p.name for p in projections)
    return ReplayReport(done, names, time.monotonic() - started, base is not None)
