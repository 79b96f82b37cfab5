"""Eager fetch: the blobs of a bucket with `eager_fetch` are fetched from peers in the background
as soon as their object's metadata arrives by sync, not at the first read.

It follows the bus for object events from other nodes (an upload here has its blob already)
and for bucket and schema events (which change the set of eager buckets; a bucket turned eager
has its missing blobs queued). At start, after the bus dropped it, and every `RESCAN_S`, it
scans the eager buckets' rows for missing blobs (events it never saw: a snapshot installed, a
restart). `WORKERS` fetches run at once; a blob no peer provides is tried again after
`RETRY_MIN_S`, doubling up to `RETRY_MAX_S`. Node-local state only: nothing here is replicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import apsw

from performer_edge.core.bus import EventBus, SubscriptionDropped
from performer_edge.core.events import Event
from performer_edge.errors import PerformerError
from performer_edge.storage import store

if TYPE_CHECKING:
    from performer_edge.storage.component import StorageComponent

log = logging.getLogger("performer.storage.peers")

WORKERS: Final = 2
RETRY_MIN_S: Final = 5.0
RETRY_MAX_S: Final = 600.0
RESCAN_S: Final = 600.0
MIGRATION_KIND: Final = "schema.migration"  # rest.schema's; not imported to keep storage apart


def _eager_buckets(conn: apsw.Connection) -> set[str]:
    rows = conn.execute("SELECT id FROM storage_buckets WHERE eager_fetch").fetchall()
    return {str(row[0]) for row in rows}


def _object_blobs(conn: apsw.Connection, buckets: set[str]) -> list[tuple[str, int]]:
    """(blob, size) of every object of the given buckets (the caller checks which are local)."""
    found: dict[str, int] = {}
    for bucket_id in sorted(buckets):
        rows = conn.execute(
            "SELECT blob, json_extract(metadata, '$.size') FROM storage_objects "
            "WHERE bucket_id = ?",
            (bucket_id,),
        ).fetchall()
        found.update((str(blob), int(size or 0)) for blob, size in rows)
    return list(found.items())


def _still_named(conn: apsw.Connection, *, blob: str) -> bool:
    found = conn.execute("SELECT 1 FROM storage_objects WHERE blob = ? LIMIT 1", (blob,))
    return found.fetchone() is not None


def _written_blobs(event: Event) -> list[tuple[str, str, int]]:
    """(bucket, blob, size) an object event writes."""
    data: Any = event.data
    if not isinstance(data, dict):
        return []
    content: Any
    if event.kind == store.OBJECT_PUT:
        bucket, content = data.get("bucket_id"), data
    elif event.kind == store.OBJECT_MOVED:
        bucket = data.get("destination_bucket") or data.get("bucket_id")
        content = data.get("object")
    else:
        return []
    if not isinstance(content, dict) or not isinstance(bucket, str):
        return []
    blob, size = content.get("blob"), content.get("size")
    if not isinstance(blob, str) or type(size) is not int:
        return []
    return [(bucket, blob, size)]


class EagerFetch:
    """The background fetches of one node. Run it as a cleanup context (`running`)."""

    def __init__(self, storage: StorageComponent, bus: EventBus, origin: bytes) -> None:
        self.storage = storage
        self.bus = bus
        self.origin = origin  # this node's id: its own uploads need no fetch
        self.eager: set[str] = set()
        self._queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._queued: set[str] = set()
        self._retry: dict[str, tuple[int, float, float]] = {}  # blob -> size, due, delay
        self.retry_min_s = RETRY_MIN_S  # tests shrink it

    async def running(self) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(self._follow(), name="storage-eager-follow"),
            asyncio.create_task(self._schedule(), name="storage-eager-schedule"),
            *(asyncio.create_task(self._work(), name=f"storage-eager-{n}") for n in range(WORKERS)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def pending(self) -> int:
        """Blobs queued or waiting for a retry."""
        return len(self._queued) + len(self._retry)

    def _accept(self, event: Event) -> bool:
        kind = event.kind
        if kind in (store.OBJECT_PUT, store.OBJECT_MOVED):
            return event.origin != self.origin
        return kind.startswith("storage.bucket_") or kind == MIGRATION_KIND

    async def _follow(self) -> None:
        while True:
            subscription = self.bus.subscribe("storage-eager-fetch", accept=self._accept)
            try:
                await self._scan()
                while True:
                    event = await subscription.get()
                    if event.kind in (store.OBJECT_PUT, store.OBJECT_MOVED):
                        for bucket, blob, size in _written_blobs(event):
                            if bucket in self.eager:
                                await self._enqueue(blob, size)
                    elif await self._refresh_eager():
                        await self._scan()
            except SubscriptionDropped:
                continue  # fell behind: subscribe again and scan
            finally:
                subscription.close()

    async def _refresh_eager(self) -> bool:
        """Reload the set of eager buckets; True when one was added."""
        before = self.eager
        self.eager = await self.storage.db.read(_eager_buckets)
        return bool(self.eager - before)

    async def _scan(self) -> None:
        self.eager = await self.storage.db.read(_eager_buckets)
        if not self.eager:
            return
        eager = set(self.eager)
        candidates = await self.storage.db.read(lambda conn: _object_blobs(conn, eager))
        has = self.storage.blobs.has
        missing = await asyncio.to_thread(lambda: [(b, s) for b, s in candidates if not has(b)])
        for blob, size in missing:
            await self._enqueue(blob, size, checked=True)

    async def _enqueue(self, blob: str, size: int, *, checked: bool = False) -> None:
        if blob in self._queued or blob in self._retry:
            return
        if not checked and await asyncio.to_thread(self.storage.blobs.has, blob):
            return
        self._queued.add(blob)
        self._queue.put_nowait((blob, size))

    async def _work(self) -> None:
        while True:
            blob, size = await self._queue.get()
            try:
                if await self.storage.db.read(partial(_still_named, blob=blob)):
                    await self.storage.fetcher.ensure(blob, size)
                self._retry.pop(blob, None)  # fetched, or no object needs it any more
            except (PerformerError, OSError) as exc:  # no peer had it, or the disk failed
                _, _, delay = self._retry.get(blob, (size, 0.0, self.retry_min_s / 2))
                delay = min(RETRY_MAX_S, delay * 2)
                self._retry[blob] = (size, time.monotonic() + delay, delay)
                log.info(
                    "storage: eager fetch of %s failed, again in %.0f s: %s",
                    blob[:16],
                    delay,
                    exc.message if isinstance(exc, PerformerError) else exc,
                )
            finally:
                self._queued.discard(blob)

    async def _schedule(self) -> None:
        """Requeue retries when due; rescan every RESCAN_S."""
        last_scan = time.monotonic()
        while True:
            await asyncio.sleep(min(self.retry_min_s, RESCAN_S) / 5)
            now = time.monotonic()
            for blob, (size, due, _) in list(self._retry.items()):
                if due <= now and blob not in self._queued:
                    self._queued.add(blob)
                    self._queue.put_nowait((blob, size))
            if now - last_scan >= RESCAN_S:
                last_scan = now
                with contextlib.suppress(OSError):
                    await self._scan()
