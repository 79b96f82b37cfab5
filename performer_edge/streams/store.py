"""The stored side of streams: a node-local index of versions, and snapshots at a version.

`stream_index` gives each event of a stream its version (its rank in the scope, in this node's
log order), written by a projection in the transaction that appends the event, local or a
peer's. Versions follow this node's log order, so the index and the snapshots keyed by
version are node-local (`STREAM_TABLES`): a snapshot of the node neither carries nor replaces
them, a replay keeps them (the projection's reset does nothing and re-applying an indexed event
is a no-op), and log compaction leaves versions as they were (the events below the horizon are
gone, the snapshots taken before it still serve). Plain functions over a connection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import apsw

from performer_edge.core.events import Event
from performer_edge.core.log import row_to_event
from performer_edge.core.projections import Projection
from performer_edge.streams.reducers import StreamEvent, StreamFamilies

STREAM_TABLES = frozenset({"stream_index", "stream_snapshots"})

# A schema step in node.SCHEMA_STEPS. The backfill indexes the events already in the log for
# the families a node has by default (see reducers.default_families).
TABLES = """
CREATE TABLE stream_index(
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    origin BLOB NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY(scope, version)
) WITHOUT ROWID;
CREATE UNIQUE INDEX stream_index_by_event ON stream_index(origin, seq);
CREATE TABLE stream_snapshots(
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    reducer TEXT NOT NULL,
    state BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY(scope, version)
) WITHOUT ROWID;
"""
BACKFILL = """
INSERT INTO stream_index(scope, version, origin, seq)
SELECT scope, row_number() OVER (PARTITION BY scope ORDER BY pos), origin, seq FROM events
WHERE ((kind GLOB 'app.*' OR kind GLOB 'actor.*') AND scope GLOB 'actor:?*')
   OR (kind GLOB 'app.*' AND scope GLOB 'app:?*')
   OR (kind = 'ydoc.update' AND scope GLOB 'ydoc:?*')
   OR (kind = 'realtime.broadcast' AND scope GLOB 'realtime:?*');
"""
STREAMS_SCHEMA = TABLES + BACKFILL

# The newest version by a descending seek of the primary key: max(version) would read every
# version of the scope (SQLite's min/max shortcut does not apply under a WHERE).
_HEAD = "SELECT version FROM stream_index WHERE scope = ?1 ORDER BY version DESC LIMIT 1"
_INDEX = (
    "INSERT OR IGNORE INTO stream_index(scope, version, origin, seq) "
    f"VALUES (?1, coalesce(({_HEAD}), 0) + 1, ?2, ?3)"
)


def index_projection(families: StreamFamilies) -> Projection:
    """Versions for every event a family claims. Keyed by the event's identity, not its
    position: a re-apply (replay) is a no-op."""
    kinds = tuple(sorted({kind for family in families for kind in family.kinds}))

    def apply(conn: apsw.Connection, event: Event) -> None:
        if families.indexed(event) is not None:
            conn.execute(_INDEX, (event.scope, event.origin, event.seq))

    def reset(conn: apsw.Connection) -> None:
        """Nothing: versions are this node's log order, which a replay keeps."""

    return Projection("streams", kinds, apply, reset)


@dataclass(frozen=True)
class StoredSnapshot:
    scope: str
    version: int
    reducer: str
    state: bytes
    created_at: int
    reason: str


def head(conn: apsw.Connection, scope: str) -> int:
    row = conn.execute(_HEAD, (scope,)).fetchone()
    return int(row[0]) if row else 0


def events_between(
    conn: apsw.Connection, scope: str, after: int, upto: int, limit: int
) -> list[StreamEvent]:
    """Events with `after < version <= upto`, in version order, at most `limit`; versions whose
    event was compacted away are missing from the list."""
    rows: list[tuple[Any, ...]] = conn.execute(
        "SELECT i.version, e.pos, e.origin, e.seq, e.hlc, e.kind, e.scope, e.payload, e.sig "
        "FROM stream_index i JOIN events e ON e.origin = i.origin AND e.seq = i.seq "
        "WHERE i.scope = ? AND i.version > ? AND i.version <= ? ORDER BY i.version LIMIT ?",
        (scope, after, upto, limit),
    ).fetchall()
    return [StreamEvent(int(row[0]), row_to_event(row[1:])) for row in rows]


def latest_snapshot(
    conn: apsw.Connection, scope: str, at_most: int, reducer: str
) -> StoredSnapshot | None:
    """The newest snapshot at or below version `at_most` made by `reducer`."""
    row = conn.execute(
        "SELECT scope, version, reducer, state, created_at, reason FROM stream_snapshots "
        "WHERE scope = ? AND version <= ? AND reducer = ? ORDER BY version DESC LIMIT 1",
        (scope, at_most, reducer),
    ).fetchone()
    if row is None:
        return None
    scope_, version, name, state, created, reason = row
    return StoredSnapshot(scope_, int(version), name, bytes(state), int(created), reason)


def snapshot_versions(conn: apsw.Connection, scope: str) -> list[dict[str, Any]]:
    rows: list[tuple[Any, ...]] = conn.execute(
        "SELECT version, reducer, created_at, reason, length(state) FROM stream_snapshots "
        "WHERE scope = ? ORDER BY version",
        (scope,),
    ).fetchall()
    return [
        {"version": v, "reducer": r, "created_at": c, "reason": why, "bytes": n}
        for v, r, c, why, n in rows
    ]


def save_snapshot(
    conn: apsw.Connection,
    scope: str,
    version: int,
    reducer: str,
    state: bytes,
    reason: str,
    keep: int,
) -> None:
    """Store a snapshot and drop the scope's oldest beyond the newest `keep`."""
    conn.execute(
        "INSERT INTO stream_snapshots(scope, version, reducer, state, created_at, reason) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(scope, version) DO UPDATE SET "
        "reducer = excluded.reducer, state = excluded.state, created_at = excluded.created_at, "
        "reason = excluded.reason",
        (scope, version, reducer, state, int(time.time()), reason),
    )
    conn.execute(
        "DELETE FROM stream_snapshots WHERE scope = ? AND version NOT IN "
        "(SELECT version FROM stream_snapshots WHERE scope = ? ORDER BY version DESC LIMIT ?)",
        (scope, scope, keep),
    )
