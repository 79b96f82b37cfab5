"""Blob garbage collection: blobs no object row references leave the blob store.

What keeps a blob: a row of `storage_objects` naming it (any row: policies only filter what a
caller sees, and a row hidden from everyone is still an object that syncs), or a pin held by an
upload between storing its bytes and committing its row. The blob store's grace period (every
put and touch restarts it) covers the instants before a pin is taken, and a copy touches the
blob it reuses inside its transaction (`objects.copy`). Tombstones reference nothing. A blob
being fetched from a peer is kept too (`peer_fetch`). The check is made per blob, at the last
moment before deleting it, twice: first on a reader connection, then again inside a writer
transaction that also moves the blob out of the store (`last_check`, the blob store's `guard`),
so that a row arriving from a peer between the first check and the removal (rows from peers
commit through the same writer) keeps its blob. Imports nothing from the HTTP layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

import apsw

from performer_edge.core.db import WriteTx
from storage_blobs import GcReport

if TYPE_CHECKING:
    from performer_edge.storage.component import StorageComponent

log = logging.getLogger(__name__)


class BlobPins:
    """Hashes in-flight uploads hold: stored, not yet referenced by a committed row."""

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def holding(self, blob: str) -> Iterator[None]:
        with self._lock:
            self._held[blob] += 1
        try:
            yield
        finally:
            with self._lock:
                self._held[blob] -= 1
                if self._held[blob] <= 0:
                    del self._held[blob]

    def __contains__(self, blob: object) -> bool:
        with self._lock:
            return blob in self._held


def _row_names(conn: apsw.Connection, blob: str) -> bool:
    found = conn.execute("SELECT 1 FROM storage_objects WHERE blob = ? LIMIT 1", (blob,))
    return found.fetchone() is not None


def _held(storage: StorageComponent, blob: str) -> bool:
    return blob in storage.pins or storage.fetcher.fetching(blob)


def referenced_by(storage: StorageComponent) -> Callable[[str], bool]:
    """The live predicate gc asks about each candidate blob (from any thread)."""

    def referenced(blob: str) -> bool:
        return _held(storage, blob) or storage.db.read_sync(lambda conn: _row_names(conn, blob))

    return referenced


def last_check(storage: StorageComponent) -> Callable[[str, Callable[[], bool]], bool]:
    """The blob store's gc `guard`: asks again inside a writer transaction, and removes the blob
    there, so no row can commit between the answer and the removal."""

    def guard(blob: str, move_out: Callable[[], bool]) -> bool:
        def step(tx: WriteTx) -> bool:
            if _held(storage, blob) or _row_names(tx.conn, blob):
                return False
            return move_out()

        return storage.db.write_sync(step)

    return guard


def collect_garbage(
    storage: StorageComponent, *, grace_seconds: int, dry_run: bool = False
) -> GcReport:
    """One pass (blocking: run it in a thread while the node serves)."""
    return storage.blobs.gc(
        referenced_by(storage),
        grace_seconds=grace_seconds,
        dry_run=dry_run,
        guard=last_check(storage),
    )


def maintenance_pass(storage: StorageComponent, grace_seconds: int) -> GcReport:
    """What the running node does on its schedule: clear crash leftovers and abandoned
    resumable uploads, collect, then drop rendered images of collected blobs."""
    storage.blobs.cleanup_tmp()
    storage.resumable.expire()
    report = collect_garbage(storage, grace_seconds=grace_seconds)
    storage.renders.trim(storage.blobs.has)
    if report.deleted:
        log.info(
            "storage gc: %d blobs deleted (%d bytes) of %d",
            len(report.deleted),
            report.bytes_freed,
            report.scanned,
        )
    return report


async def run_on_schedule(
    storage: StorageComponent, *, interval: float, grace_seconds: int
) -> AsyncIterator[None]:
    """A cleanup context: a pass at startup, then one every `interval` seconds (0: none)."""

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(maintenance_pass, storage, grace_seconds)
            except OSError as exc:  # a full or failing disk: say so, try again next time
                log.warning("storage gc pass failed: %s", exc)
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name="storage-gc") if interval > 0 else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
