"""Log compaction and the snapshot a node stands on.

A node's state is its *base* snapshot (`core.snapshot`: the state after the events in
`base.vector`) plus the events it holds after that vector. With no base, the base is empty.
The log holds every event above the compaction *horizon*, densely per origin; the horizon is
never above the base (`horizon <= base.vector`), so a replay can always rebuild: load the base,
apply the events after it.

`compact(upto)` makes a new base from the current state, then drops the events at or below
`upto` (clamped to the base). A peer behind the horizon is offered the base and pulls it in
chunks; `install` makes a received snapshot this node's base: state = snapshot + this node's
events after its vector, re-applied (row merges are order-free, so that equals having received
the events one by one). A node cannot install a snapshot that lacks events it compacted itself;
that install is refused with the reason.

Files live in one directory: `<digest>.snapshot` (the base; older ones are removed once a newer
base commits) and `incoming-<digest>.part` (a pull in progress, resumed at its length).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import apsw

from performer_edge.core.db import Database
from performer_edge.core.log import (
    LogWriter,
    keep_positions,
    last_position,
    read_horizon,
    row_to_event,
)
from performer_edge.core.projections import Projections
from performer_edge.core.snapshot import (
    LOCAL_TABLES,
    SUFFIX,
    Snapshot,
    file_digest,
    load_state,
    read_info,
    snapshot_events,
    upgraded,
    write_snapshot,
)
from performer_edge.errors import IntegrityError
from sync.version_vector import VersionVector

log = logging.getLogger("performer.compaction")

BASE_KEY: Final = "snapshot_base"
HLC_KEY: Final = "horizon_hlc"
EMPTY: Final = VersionVector()
STALE: Final = "snapshot_stale"  # the error code of a snapshot older than this node's horizon
APPLY_CHUNK: Final = 5000


@dataclass(frozen=True)
class CompactReport:
    snapshot: Snapshot
    horizon: VersionVector
    dropped: int  # events removed from the log
    seconds: float


class Snapshots:
    """One node's base snapshot, horizon and snapshot transfers. `on_installed(conn)` runs in
    the transaction that installs a snapshot, for components that cache derived state."""

    def __init__(
        self,
        db: Database,
        log_writer: LogWriter,
        projections: Projections,
        directory: Path,
        on_installed: Callable[[apsw.Connection], None] = lambda conn: None,
        local_tables: frozenset[str] = LOCAL_TABLES,
    ) -> None:
        """`local_tables`: this node's own tables, neither put in a snapshot nor replaced by
        one (its log, its mailbox, the trigger runs it owes)."""
        self.db = db
        self.local_tables = local_tables
        self.log = log_writer
        self.projections = projections
        self.directory = directory
        self.on_installed = on_installed
        self.installed = 0
        self._lock = threading.RLock()  # one compaction, refresh or install at a time
        self._base, self._horizon = db.read_sync(_read_state)
        self._previous: Snapshot | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def base(self) -> Snapshot | None:
        return self._base

    @property
    def horizon(self) -> VersionVector:
        return self._horizon

    # -- compaction --------------------------------------------------------------------------

    def compact(self, upto: VersionVector | None = None) -> CompactReport:
        """Snapshot the current state as the new base; drop the log's events at or below
        `upto` (default: everything the base covers)."""
        with self._lock:
            return self._compact(upto)

    def _compact(self, upto: VersionVector | None) -> CompactReport:
        started = time.monotonic()
        snapshot = write_snapshot(self.db.path, self.directory, self.db.prepare, self.local_tables)
        target = snapshot.vector if upto is None else _meet(snapshot.vector, upto)

        def commit(conn: apsw.Connection) -> tuple[VersionVector, int]:
            conn.execute("BEGIN IMMEDIATE")
            try:
                horizon = read_horizon(conn).merge(target)
                dropped = _drop_events(conn, horizon)
                _write_state(conn, snapshot, horizon)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return horizon, dropped

        try:
            horizon, dropped = self.db.run_exclusive(commit)
        except BaseException:
            snapshot.path.unlink(missing_ok=True)
            raise
        self._adopt(snapshot, horizon)
        report = CompactReport(snapshot, horizon, dropped, time.monotonic() - started)
        log.info(
            "compacted %d events into snapshot %s (%d bytes) in %.2f s",
            dropped,
            snapshot.id[:16],
            snapshot.size,
            report.seconds,
        )
        return report

    # -- serving a peer ----------------------------------------------------------------------

    def offer(self, peer_horizon: VersionVector = EMPTY) -> Snapshot | None:
        """The snapshot for a peer behind the horizon: the base, or a new base made now when
        the peer compacted past the old one (it could not install it). None with no horizon."""
        with self._lock:
            base = self._base
            if base is not None and base.path.exists() and base.vector.dominates(peer_horizon):
                return base
            if not self._horizon:
                return None
            if base is not None and base.path.exists() and base.vector == self.log.vector():
                return base  # nothing newer to put in one
            return self._refresh()

    def read(self, snapshot_id: str, offset: int, length: int) -> bytes:
        served = [s for s in (self._base, self._previous) if s is not None and s.id == snapshot_id]
        if not served:
            raise IntegrityError(f"snapshot {snapshot_id[:16]} is no longer offered")
        with open(served[0].path, "rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def _refresh(self) -> Snapshot:
        """A new base from the current state; the horizon stays."""
        snapshot = write_snapshot(self.db.path, self.directory, self.db.prepare, self.local_tables)

        def commit(conn: apsw.Connection) -> VersionVector:
            with conn:
                horizon = read_horizon(conn)
                _write_state(conn, snapshot, horizon)
            return horizon

        self._adopt(snapshot, self.db.run_exclusive(commit))
        return snapshot

    # -- pulling from a peer -----------------------------------------------------------------

    def refusal(self, vector: VersionVector) -> str | None:
        """Why a snapshot at `vector` cannot be installed here, or None."""
        lacking = [o for o, seq in self._horizon.items() if vector.head(o) < seq]
        if lacking:
            return (
                f"it lacks events this node compacted ({len(lacking)} origin(s) above the "
                "snapshot's vector)"
            )
        return None

    def received(self, snapshot_id: str) -> int:
        """Bytes of `snapshot_id` already pulled (a pull resumes there)."""
        part = self._part(snapshot_id)
        return part.stat().st_size if part.exists() else 0

    def receive(self, snapshot_id: str, offset: int, data: bytes) -> None:
        """Write a chunk at `offset` (chunks arrive in order; a resumed pull truncates first)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        part = self._part(snapshot_id)
        mode = "r+b" if part.exists() else "wb"
        with open(part, mode) as handle:
            handle.truncate(offset)
            handle.seek(offset)
            handle.write(data)

    def install(self, snapshot_id: str, size: int, digest: bytes) -> VersionVector:
        """Check the pulled file against the offer, make it the base; the log's new vector.
        IntegrityError (and the partial file removed) when it does not match or cannot apply."""
        with self._lock:
            return self._install_part(snapshot_id, size, digest)

    def _install_part(self, snapshot_id: str, size: int, digest: bytes) -> VersionVector:
        part = self._part(snapshot_id)
        try:
            if not part.exists() or part.stat().st_size != size or file_digest(part) != digest:
                raise IntegrityError("the snapshot does not match its offer (truncated or altered)")
            path = self.directory / f"{digest.hex()}{SUFFIX}"
            os.replace(part, path)
        finally:
            part.unlink(missing_ok=True)
        try:
            snapshot, horizon = self.db.run_exclusive(lambda conn: self._install(conn, path))
        except BaseException:
            if self._base is None or self._base.path != path:
                path.unlink(missing_ok=True)
            raise
        self.installed += 1
        self._adopt(snapshot, horizon)
        return self.log.vector()

    def _install(self, conn: apsw.Connection, path: Path) -> tuple[Snapshot, VersionVector]:
        with upgraded(path, self.db.migrations, self.db.prepare) as usable:
            return self._install_attached(conn, path, usable)

    def _install_attached(
        self, conn: apsw.Connection, path: Path, usable: Path
    ) -> tuple[Snapshot, VersionVector]:
        conn.execute("ATTACH ? AS snap", (str(usable),))
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                info = read_info(conn)
                reason = self.refusal(info.vector)
                if reason is not None:
                    raise IntegrityError(f"snapshot refused: {reason}", code=STALE)
                load_state(conn, self.projections, local=self.local_tables)
                _keep_events(conn, snapshot_events(conn))
                horizon = read_horizon(conn).merge(info.vector)
                _drop_events(conn, horizon)
                digest = bytes.fromhex(path.name.removesuffix(SUFFIX))
                snapshot = Snapshot(path, info.vector, path.stat().st_size, digest, info.max_hlc)
                _write_state(conn, snapshot, horizon, info.max_hlc)
                self.on_installed(conn)  # components learn the snapshot's tables first
                apply_after(conn, self.projections, info.vector)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                self.on_installed(conn)
                self.log.reload(conn)
                raise
        finally:
            conn.execute("DETACH snap")
        self.log.reload(conn)
        self.log.clock.observe(info.max_hlc)
        return snapshot, horizon

    # -- internals ---------------------------------------------------------------------------

    def _adopt(self, snapshot: Snapshot, horizon: VersionVector) -> None:
        """The new base; the one before stays readable for a pull in progress."""
        gone, previous = self._previous, self._base
        if previous is not None and previous.path == snapshot.path:
            previous = None
        self._base, self._previous, self._horizon = snapshot, previous, horizon
        if gone is not None and gone.path not in (snapshot.path, getattr(previous, "path", None)):
            gone.path.unlink(missing_ok=True)

    def _part(self, snapshot_id: str) -> Path:
        if len(snapshot_id) != 64 or any(c not in "0123456789abcdef" for c in snapshot_id):
            raise IntegrityError(f"bad snapshot id {snapshot_id[:80]!r}", code="bad_snapshot")
        return self.directory / f"incoming-{snapshot_id}.part"


def compaction_target(
    ours: VersionVector, peers: list[VersionVector] | None, keep: int
) -> VersionVector:
    """What an automatic compaction may fold: each origin's events but the newest `keep`, and
    (in a cluster, `peers` being the vectors of the peers in session now) only what every one
    of them already holds, so none of them needs a snapshot for it. In a cluster with no peer in
    session, nothing."""
    target = {origin: max(0, seq - keep) for origin, seq in ours.items()}
    if peers is not None:
        if not peers:
            return EMPTY
        target = {o: min(seq, *(p.head(o) for p in peers)) for o, seq in target.items()}
    return VersionVector(target)


# -- the log below the horizon ---------------------------------------------------------------------


def apply_after(
    conn: apsw.Connection,
    projections: Projections,
    vector: VersionVector,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Apply, in commit order, every held event that `vector` does not cover. How many."""
    done = last = 0
    while True:
        rows = conn.execute(
            "SELECT pos, origin, seq, hlc, kind, scope, payload, sig FROM events "
            "WHERE pos > ? ORDER BY pos LIMIT ?",
            (last, APPLY_CHUNK),
        ).fetchall()
        if not rows:
            return done
        for row in rows:
            event = row_to_event(row)
            last = event.pos
            if event.seq > vector.head(event.origin):
                projections.apply(conn, event)
                done += 1
        if progress is not None:
            progress(done)


def base_snapshot(conn: apsw.Connection) -> Snapshot | None:
    return _read_state(conn)[0]


def _read_state(conn: apsw.Connection) -> tuple[Snapshot | None, VersionVector]:
    horizon = read_horizon(conn)
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (BASE_KEY,)).fetchone()
    if row is None:
        return None, horizon
    data = json.loads(row[0])
    vector = VersionVector({bytes.fromhex(o): int(s) for o, s in data["vector"].items()})
    path = Path(conn.filename).parent / data["path"]  # relative: the data dir may move
    base = Snapshot(path, vector, int(data["size"]), bytes.fromhex(data["digest"]))
    return base, horizon


def _write_state(
    conn: apsw.Connection, snapshot: Snapshot, horizon: VersionVector, max_hlc: int = 0
) -> None:
    data = {
        "path": os.path.relpath(snapshot.path, Path(conn.filename).parent),
        "vector": {o.hex(): s for o, s in snapshot.vector.items()},
        "size": snapshot.size,
        "digest": snapshot.digest.hex(),
    }
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (BASE_KEY, json.dumps(data))
    )
    hlc = max(max_hlc, snapshot.max_hlc)
    if hlc:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
            (HLC_KEY, hlc),
        )
    conn.executemany(
        "INSERT OR REPLACE INTO log_horizon(origin, seq) VALUES (?, ?)", list(horizon.items())
    )
    # The log lists an origin once, at its first event; one known only through the horizon
    # is listed now, or its later events would not count in the vector.
    conn.execute(
        "INSERT OR IGNORE INTO origins(origin, first_pos) SELECT origin, 0 FROM log_horizon"
    )


def _drop_events(conn: apsw.Connection, horizon: VersionVector) -> int:
    """Delete the events at or below the horizon, except those a parked migration still needs."""
    where = "origin = ? AND seq <= ?"
    if _has_pending_table(conn):
        where += (
            " AND NOT EXISTS (SELECT 1 FROM rest_migrations_pending p "
            "WHERE p.origin = events.origin AND p.seq = events.seq)"
        )
    keep_positions(conn)
    before = conn.total_changes()
    for origin, seq in horizon.items():
        conn.execute(f"DELETE FROM events WHERE {where}", (origin, seq))
    return conn.total_changes() - before


def _keep_events(conn: apsw.Connection, rows: list[tuple[object, ...]]) -> None:
    """Store the events a snapshot carried for its parked migrations (not re-applied)."""
    for row in rows:
        origin = row[0]
        conn.execute(
            "INSERT OR IGNORE INTO events(pos, origin, seq, hlc, kind, scope, payload, sig) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (last_position(conn) + 1, *row),
        )
        conn.execute(
            "INSERT OR IGNORE INTO origins(origin, first_pos) VALUES (?, ?)",
            (origin, conn.last_insert_rowid()),
        )


def _has_pending_table(conn: apsw.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rest_migrations_pending'"
    ).fetchone()
    return row is not None


def _meet(a: VersionVector, b: VersionVector) -> VersionVector:
    return VersionVector({o: min(seq, b.head(o)) for o, seq in a.items()})
