"""The stored side of Yjs documents: a projection of `ydoc.update` events, squashed by checkpoints.

Every `ydoc.update` event adds its update to `ydoc_updates` in the transaction that appends it
(local or a peer's, keyed by the event's identity, so a re-delivery adds nothing); a checkpoint
merges a document's state with the updates it covers into `ydoc_state` and deletes them. A
document thus loads in O(state) + O(updates since the last checkpoint), and, being projection
tables, both survive log compaction and travel in snapshots (positions would not: they are
node-local). Merging is done by pycrdt on the writer thread, so two checkpoints in any order
never lose an update (merging Yjs states is commutative and idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apsw
from pycrdt import Doc

from performer_edge.core.db import WriteTx
from performer_edge.core.events import Event
from performer_edge.core.projections import Projection

YDOC_KIND = "ydoc.update"
SCOPE_PREFIX = "ydoc:"
EMPTY_UPDATE = b"\x00\x00"
UpdateKey = tuple[bytes, int]  # the event's (origin, seq)

# Schema steps in node.SCHEMA_STEPS. The first shipped with checkpoints keyed by log position,
# which could survive neither compaction nor a trip in a snapshot; the second replaces them.
YDOC_SCHEMA = """
CREATE TABLE ydoc_checkpoints(
    doc TEXT PRIMARY KEY,
    state BLOB NOT NULL,
    upto_pos INTEGER NOT NULL
) WITHOUT ROWID;
"""
YDOC_STATE_SCHEMA = """
DROP TABLE IF EXISTS ydoc_checkpoints;
CREATE TABLE ydoc_state(
    doc TEXT PRIMARY KEY,
    state BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE ydoc_updates(
    origin BLOB NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL,
    u BLOB NOT NULL,
    PRIMARY KEY(origin, seq)
) WITHOUT ROWID;
CREATE INDEX ydoc_updates_by_doc ON ydoc_updates(doc);
"""


def update_of(event: Event) -> bytes | None:
    """The Yjs update a `ydoc.update` event carries (None if it holds none)."""
    try:
        data = event.data
    except ValueError:
        return None
    update = data.get("u") if isinstance(data, dict) else None
    return update if isinstance(update, bytes) and update != EMPTY_UPDATE else None


def _apply(conn: apsw.Connection, event: Event) -> None:
    update = update_of(event)
    if update is None or not event.scope.startswith(SCOPE_PREFIX):
        return
    conn.execute(
        "INSERT OR IGNORE INTO ydoc_updates(origin, seq, doc, u) VALUES (?, ?, ?, ?)",
        (event.origin, event.seq, event.scope.removeprefix(SCOPE_PREFIX), update),
    )


def _reset(conn: apsw.Connection) -> None:
    conn.execute("DELETE FROM ydoc_state")
    conn.execute("DELETE FROM ydoc_updates")


PROJECTION = Projection("ydoc", ("ydoc.",), _apply, _reset)


def load(conn: apsw.Connection, doc: str) -> tuple[bytes | None, list[tuple[UpdateKey, bytes]]]:
    """A document's checkpointed state and the updates since, with their keys."""
    row = conn.execute("SELECT state FROM ydoc_state WHERE doc = ?", (doc,)).fetchone()
    rows: list[tuple[Any, ...]] = conn.execute(
        "SELECT origin, seq, u FROM ydoc_updates WHERE doc = ?", (doc,)
    ).fetchall()
    updates = [((bytes(origin), int(seq)), bytes(update)) for origin, seq, update in rows]
    return (bytes(row[0]) if row else None), updates


def checkpoint(tx: WriteTx, doc: str, state: bytes, covered: Iterable[UpdateKey]) -> None:
    """Fold `state` (which includes the `covered` updates) into the document's stored state."""
    conn = tx.conn
    row = conn.execute("SELECT state FROM ydoc_state WHERE doc = ?", (doc,)).fetchone()
    if row is not None:
        merged: Doc[Any] = Doc()
        merged.apply_update(bytes(row[0]))
        merged.apply_update(state)
        state = merged.get_update()
    conn.execute(
        "INSERT INTO ydoc_state(doc, state) VALUES (?, ?) "
        "ON CONFLICT(doc) DO UPDATE SET state = excluded.state",
        (doc, state),
    )
    conn.executemany(
        "DELETE FROM ydoc_updates WHERE origin = ? AND seq = ?", [tuple(k) for k in covered]
    )
