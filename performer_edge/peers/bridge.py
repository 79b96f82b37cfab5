"""Between a sync session (sync/session.py, sans-IO) and this node's event log.

`SessionHost` carries out a session's actions: `Fetch` reads the events the peer lacks from a
reader connection; `Deliver` checks the peer's events (shape and origin signature, off the
writer thread), then ingests them in one write request, skipping any that does not follow what
is held (the ACK's vector tells the sender, which re-sends). A refused event ends the session
and nothing of its batch is applied. The calls block on the database, so a transport runs them
off its event loop (`asyncio.to_thread`), one action at a time per session; the in-process
simulation calls them directly.

Snapshots (`core.compaction`): a peer behind this node's compaction horizon is offered the base
snapshot and pulls it chunk by chunk; a snapshot a peer offers is pulled (resuming a partial
file), checked against its offer's size and digest, and installed, unless it lacks events this
node compacted. Without a `Snapshots` store (tests) the host offers none and declines offers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from performer_edge.core.compaction import STALE, Snapshots
from performer_edge.core.db import Database, WriteTx
from performer_edge.core.events import Event, check_shape
from performer_edge.core.log import LogWriter, read_missing
from performer_edge.errors import PerformerError
from sync.messages import SnapshotOffer, WireEvent
from sync.session import (
    Action,
    Closed,
    Deliver,
    Fetch,
    NeedSnapshot,
    ReadSnapshot,
    Session,
    SnapshotData,
    SnapshotOffered,
)
from sync.version_vector import VersionVector

VERIFY_THREADS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_FROM = 64  # events in a batch worth spreading over threads


def to_wire(event: Event) -> WireEvent:
    return WireEvent(
        event.origin, event.seq, event.hlc, event.kind, event.scope, event.payload, event.sig
    )


def from_wire(event: WireEvent) -> Event:
    return Event(
        event.origin, event.seq, event.hlc, event.kind, event.scope, event.payload, event.sig
    )


def refusal(events: Sequence[Event]) -> str | None:
    """Why a peer's batch must be refused (malformed or forged event), or None.

    Checking signatures is most of a catch-up's cost (~50-100 us an event); libsodium releases
    the GIL, so a large batch is split over `VERIFY_THREADS` threads (made per batch, a few
    hundred microseconds against tens of milliseconds of checking)."""
    if len(events) < PARALLEL_FROM:
        return _first_refusal(events)
    size = -(-len(events) // VERIFY_THREADS)
    chunks = [events[i : i + size] for i in range(0, len(events), size)]
    with ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="performer-verify") as pool:
        return next((r for r in pool.map(_first_refusal, chunks) if r is not None), None)


def _first_refusal(events: Sequence[Event]) -> str | None:
    for event in events:
        try:
            check_shape(event)
            event.verify_signature()
        except PerformerError as error:
            return f"event {event.origin.hex()[:16]}:{event.seq} refused: {error.message}"
    return None


def ingest_batch(tx: WriteTx, log: LogWriter, events: Sequence[Event]) -> VersionVector:
    """Ingest checked events in order; repeats are no-ops and an event after a gap is skipped."""
    for event in events:
        if event.seq == log.head(event.origin) + 1:
            log.ingest(tx, event, verified=True)
    return log.vector()


@dataclass
class SessionHost:
    """One session's actions against one node. `on_ingested` is told the node's vector after
    each delivered batch, so the node can push to its other peers (relaying)."""

    db: Database
    log: LogWriter
    session: Session
    on_ingested: Callable[[VersionVector], None] = lambda vector: None
    on_installed: Callable[[], None] = lambda: None  # a snapshot replaced the node's state
    snapshots: Snapshots | None = None
    closed: Closed | None = None
    delivered: int = field(default=0)  # events taken from this peer
    snapshots_sent: int = field(default=0)

    def handle(self, action: Action, now: float) -> None:
        session = self.session
        match action:
            case Fetch():
                events = self.db.read_sync(lambda c: read_missing(c, action.after, action.limit))
                session.provide([to_wire(e) for e in events], now)
            case Deliver():
                self._deliver(action, now)
            case NeedSnapshot():
                self._offer(action.peer_horizon, now)
            case ReadSnapshot():
                self._read_snapshot(action, now)
            case SnapshotOffered():
                self._pull(action.offer, now)
            case SnapshotData():
                self._store_chunk(action, now)
            case Closed():
                self.closed = action
            case _:
                pass

    def handle_all(self, now: float) -> int:
        """Carry out every pending action (and those they cause). How many."""
        count = 0
        while actions := self.session.take_actions():
            for action in actions:
                self.handle(action, now)
                count += 1
        return count

    def _deliver(self, action: Deliver, now: float) -> None:
        events = [from_wire(e) for e in action.events]
        reason = refusal(events)
        if reason is not None:
            self.session.refuse(reason, now)
            return
        before = self.log.vector().total()
        try:
            vector = self.db.write_sync(lambda tx: ingest_batch(tx, self.log, events))
        except PerformerError as error:
            self.session.refuse(f"batch {action.batch} not applied: {error.message}", now)
            return
        self.delivered += vector.total() - before
        self.session.delivered(action.batch, vector, now)
        self.on_ingested(vector)

    # -- snapshots ---------------------------------------------------------------------------

    def _offer(self, peer_horizon: VersionVector, now: float) -> None:
        try:
            snapshot = self.snapshots.offer(peer_horizon) if self.snapshots is not None else None
        except (OSError, PerformerError) as error:
            self.session.close(f"no snapshot could be made: {error}", now)
            return
        if snapshot is None:
            self.session.offer_snapshot(None, now)
            return
        if not snapshot.vector.dominates(peer_horizon):
            self.session.postpone_snapshot(now)
            return
        offer = SnapshotOffer(snapshot.id, snapshot.vector, snapshot.size, snapshot.digest)
        self.snapshots_sent += 1
        self.session.offer_snapshot(offer, now)

    def _read_snapshot(self, action: ReadSnapshot, now: float) -> None:
        assert self.snapshots is not None  # only a host with snapshots offers one
        try:
            data = self.snapshots.read(action.snapshot, action.offset, action.length)
        except (OSError, PerformerError) as error:
            self.session.close(f"snapshot unavailable: {error}", now)
            return
        self.session.provide_chunk(action.snapshot, action.offset, data, now)

    def _pull(self, offer: SnapshotOffer, now: float) -> None:
        snapshots = self.snapshots
        if snapshots is None:
            self.session.decline_snapshot("this node does not install snapshots", now)
            return
        reason = snapshots.refusal(offer.vector)
        if reason is not None:  # made before a compaction here: the summary asks for a newer one
            self.session.horizon_changed(snapshots.horizon, now)
            self.session.decline_snapshot(reason, now, retry=True)
            return
        try:
            offset = snapshots.received(offer.snapshot)
        except PerformerError as error:
            self.session.refuse(error.message, now)
            return
        # A complete leftover is pulled again: a chunk is never empty.
        self.session.accept_snapshot(offer.snapshot, offset if offset < offer.size else 0, now)

    def _store_chunk(self, action: SnapshotData, now: float) -> None:
        assert self.snapshots is not None  # only a host with snapshots accepts one
        offer = action.offer
        try:
            self.snapshots.receive(offer.snapshot, action.offset, action.data)
            if not action.complete:
                return
            vector = self.snapshots.install(offer.snapshot, offer.size, offer.digest)
        except PerformerError as error:
            if error.error_code == STALE:  # this node compacted meanwhile: ask for a newer one
                self.session.horizon_changed(self.snapshots.horizon, now)
                self.session.decline_snapshot(error.message, now, retry=True)
            else:
                self.session.refuse(f"snapshot not installed: {error.message}", now)
            return
        except OSError as error:
            self.session.close(f"snapshot not stored: {error}", now)
            return
        self.session.snapshot_installed(vector, now)
        self.on_installed()
