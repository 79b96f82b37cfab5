"""The event log: append local events, ingest remote ones, read by origin, position or vector.

Writes happen on the writer thread inside a `WriteTx` (see `core.db`); `LogWriter` keeps each
origin's head in memory and restores it when a request's savepoint rolls back. Reads are plain
functions over any connection.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import apsw

from performer_edge.core.db import WriteTx
from performer_edge.core.events import (
    Event,
    check_payload_size,
    check_shape,
    encode_checked,
    sign_event,
)
from performer_edge.core.hlc import HybridClock
from performer_edge.core.identity import NodeIdentity
from performer_edge.core.projections import Projections
from performer_edge.errors import IntegrityError
from sync.version_vector import VersionVector

log = logging.getLogger("performer.log")

EVENT_COLUMNS = "pos, origin, seq, hlc, kind, scope, payload, sig"
INSERT_EVENT = (
    "INSERT INTO events(origin, seq, hlc, kind, scope, payload, sig) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class LogWriter:
    """Appends to the log. Used only on the writer thread."""

    def __init__(
        self,
        identity: NodeIdentity,
        clock: HybridClock,
        projections: Projections,
        heads: dict[bytes, int],
        last_pos: int = 0,
    ) -> None:
        self.identity = identity
        self._last_pos = last_pos  # the highest position given, compacted events included
        self.clock = clock
        self.projections = projections
        self._heads = heads
        self._origin = identity.public_key
        self.clock_ahead_events = 0  # taken although stamped beyond the skew limit
        self._ahead_warned: dict[bytes, float] = {}

    @classmethod
    def open(
        cls,
        conn: apsw.Connection,
        identity: NodeIdentity,
        projections: Projections,
        *,
        max_skew_ms: int,
    ) -> LogWriter:
        heads = dict(version_vector(conn))
        last = latest_hlc(conn, heads)
        clock = HybridClock(max_skew_ms=max_skew_ms, last=last)
        return cls(identity, clock, projections, heads, last_position(conn))

    def head(self, origin: bytes) -> int:
        return self._heads.get(origin, 0)

    def append(self, tx: WriteTx, kind: str, scope: str, data: Any) -> Event:
        """Append a local event with `data` as its CBOR payload, and project it."""
        return self.append_encoded(tx, kind, scope, encode_checked(kind, data))

    def append_encoded(self, tx: WriteTx, kind: str, scope: str, payload: bytes) -> Event:
        check_payload_size(payload)
        origin = self._origin
        seq = self._heads.get(origin, 0) + 1
        signed = sign_event(self.identity.signing_key, seq, self.clock.now(), kind, scope, payload)
        return self._insert(tx, signed)

    def vector(self) -> VersionVector:
        """Per origin, the highest sequence held (as of the last commit or rollback)."""
        return VersionVector(self._heads)

    def ingest(self, tx: WriteTx, event: Event, *, verified: bool = False) -> bool:
        """Add a remote event after checking it. False when it is already held (re-delivery).
        `verified`: the caller already checked shape and signature (off the writer thread)."""
        if not verified:
            check_shape(event)
        head = self._heads.get(event.origin, 0)
        if event.seq <= head:
            return False
        if event.seq != head + 1:
            raise IntegrityError(
                f"sequence gap for origin {event.origin.hex()[:16]}: have {head}, got {event.seq}",
                code="sequence_gap",
            )
        if not verified:
            event.verify_signature()
        beyond = self.clock.observe(event.hlc)
        if beyond:
            self._clock_ahead(event, beyond)
        self._insert(tx, event)
        return True

    def _clock_ahead(self, event: Event, beyond_ms: int) -> None:
        """An event stamped further ahead than the skew limit: taken (refusing it would stall
        sync until real time caught up), but counted and logged, once a minute per origin."""
        self.clock_ahead_events += 1
        now = time.monotonic()
        origin = event.origin
        if now - self._ahead_warned.get(origin, -math.inf) >= 60:
            self._ahead_warned[origin] = now
            log.warning(
                "events of origin %s are stamped %d ms beyond the clock skew limit: "
                "its clock is probably wrong",
                origin.hex()[:16],
                beyond_ms,
            )

    def _insert(self, tx: WriteTx, event: Event) -> Event:
        conn = tx.conn
        origin = event.origin
        previous = self._heads.get(origin, 0)
        conn.execute(
            INSERT_EVENT,
            (origin, event.seq, event.hlc, event.kind, event.scope, event.payload, event.sig),
        )
        pos = conn.last_insert_rowid()
        if pos <= self._last_pos:  # the log was compacted empty: never reuse a position
            conn.execute("UPDATE events SET pos = ? WHERE pos = ?", (self._last_pos + 1, pos))
            pos = self._last_pos + 1
        self._last_pos = pos
        if previous == 0:
            conn.execute(
                "INSERT OR IGNORE INTO origins(origin, first_pos) VALUES (?, ?)", (origin, pos)
            )
        self._heads[origin] = event.seq
        tx.on_rollback(lambda: self._restore_head(origin, previous))
        committed = Event(
            origin, event.seq, event.hlc, event.kind, event.scope, event.payload, event.sig, pos
        )
        effect = self.projections.apply(conn, committed)
        if effect is not None:
            committed = replace(committed, effect=effect)
        tx.publish(committed)
        return committed

    def _restore_head(self, origin: bytes, seq: int) -> None:
        if seq:
            self._heads[origin] = seq
        else:
            self._heads.pop(origin, None)

    def reload(self, conn: apsw.Connection) -> None:
        """Re-read heads from the database (after a replay rewrote the log's derived state)."""
        self._heads.clear()
        self._heads.update(version_vector(conn))


# -- reads -------------------------------------------------------------------------------------


def row_to_event(row: tuple[Any, ...]) -> Event:
    pos, origin, seq, hlc, kind, scope, payload, sig = row
    return Event(origin, seq, hlc, kind, scope, payload, sig, pos)


def version_vector(conn: apsw.Connection) -> VersionVector:
    """Per origin, the highest sequence held: the last event, or the compaction horizon when
    every event of that origin was folded into the snapshot."""
    heads: dict[bytes, int] = {}
    for (origin,) in conn.execute("SELECT origin FROM origins").fetchall():
        assert isinstance(origin, bytes)
        row = conn.execute("SELECT max(seq) FROM events WHERE origin = ?", (origin,)).fetchone()
        if row and row[0]:
            heads[origin] = int(row[0])
    return VersionVector(heads).merge(read_horizon(conn))


def read_horizon(conn: apsw.Connection) -> VersionVector:
    """Per origin, the last sequence compacted away (see core.compaction)."""
    rows: list[tuple[Any, ...]] = conn.execute("SELECT origin, seq FROM log_horizon").fetchall()
    return VersionVector({origin: int(seq) for origin, seq in rows})


def latest_hlc(conn: apsw.Connection, heads: dict[bytes, int]) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'horizon_hlc'").fetchone()
    latest = int(row[0]) if row else 0
    for origin, seq in heads.items():
        row = conn.execute(
            "SELECT hlc FROM events WHERE origin = ? AND seq = ?", (origin, seq)
        ).fetchone()
        if row:
            latest = max(latest, int(row[0]))
    return latest


def read_origin(
    conn: apsw.Connection, origin: bytes, first: int, last: int | None = None, limit: int = 1000
) -> list[Event]:
    """Events of `origin` with `first <= seq <= last`, in sequence order."""
    upper = last if last is not None else 1 << 62
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE origin = ? AND seq BETWEEN ? AND ? "
        "ORDER BY seq LIMIT ?",
        (origin, first, upper, limit),
    ).fetchall()
    return [row_to_event(row) for row in rows]


def read_missing(conn: apsw.Connection, theirs: VersionVector, limit: int = 1000) -> list[Event]:
    """Up to `limit` events this log holds and `theirs` lacks, each origin's in sequence order."""
    events: list[Event] = []
    for origin, (first, last) in sorted(version_vector(conn).missing_from(theirs).items()):
        if len(events) >= limit:
            break
        events.extend(read_origin(conn, origin, first, last, limit - len(events)))
    return events


def read_after(
    conn: apsw.Connection,
    pos: int,
    limit: int = 1000,
    *,
    kinds: Iterable[str] = (),
    scope: str | None = None,
) -> list[Event]:
    """Events committed here after local position `pos`, in commit order."""
    clauses = ["pos > ?"]
    params: list[Any] = [pos]
    kind_list = list(kinds)
    if kind_list:
        clauses.append(f"kind IN ({', '.join('?' * len(kind_list))})")
        params.extend(kind_list)
    if scope is not None:
        clauses.append("scope = ?")
        params.append(scope)
    params.append(limit)
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(clauses)} ORDER BY pos LIMIT ?",
        params,
    ).fetchall()
    return [row_to_event(row) for row in rows]


def last_position(conn: apsw.Connection) -> int:
    """The highest position an event has had here, compacted ones included."""
    row = conn.execute("SELECT max(pos) FROM events").fetchone()
    held = int(row[0]) if row and row[0] else 0
    return max(held, _position_floor(conn))


# Positions at or below this were given to events since dropped by compaction. SQLite gives a
# new row max(pos) + 1, so a log compacted empty would hand out 1, 2, ... again, and readers
# that remember a position (Last-Event-ID, trigger followers, `after=`) would skip events.
POSITION_FLOOR_KEY = "log_position_floor"


def _position_floor(conn: apsw.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (POSITION_FLOOR_KEY,)).fetchone()
    return int(row[0]) if row else 0


def keep_positions(conn: apsw.Connection) -> None:
    """Before events are dropped: remember the highest position, so it is never given again."""
    conn.execute(
        "INSERT INTO meta(key, value) SELECT ?, max(pos) FROM events HAVING max(pos) IS NOT NULL "
        "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
        (POSITION_FLOOR_KEY,),
    )


def count_events(conn: apsw.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def iter_all(conn: apsw.Connection, *, order: str = "pos", chunk: int = 5000) -> Iterator[Event]:
    """Every event, in `pos` order or `(origin, seq)` order, read in chunks."""
    if order == "pos":
        last = 0
        while True:
            batch = read_after(conn, last, chunk)
            if not batch:
                return
            yield from batch
            last = batch[-1].pos
    elif order == "origin":
        for origin in sorted(version_vector(conn)):
            seq = 0
            while True:
                batch = read_origin(conn, origin, seq + 1, None, chunk)
                if not batch:
                    break
                yield from batch
                seq = batch[-1].seq
    else:
        raise ValueError(f"unknown order {order!r}")
