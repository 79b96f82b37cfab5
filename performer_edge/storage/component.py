"""Assembles the storage capability (blob store, services, signer) and adds `/storage/v1`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
from aiohttp import web

from performer_edge.core.bus import EventBus
from performer_edge.core.db import Database, WriteTx
from performer_edge.core.events import Event
from performer_edge.core.log import LogWriter
from performer_edge.core.tokens import TokenKeys
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage import store
from performer_edge.storage.blob_gc import BlobPins, run_on_schedule
from performer_edge.storage.peer_eager import EagerFetch
from performer_edge.storage.peer_fetch import BlobFetcher, PeerBlobs
from performer_edge.storage.policies import Access, CatalogSource
from performer_edge.storage.render_cache import RenderCache
from performer_edge.storage.resumable import ResumableUploads
from storage_blobs import BlobStore

BLOBS_DIR = "blobs"
UPLOADS_DIR = "uploads"
DEFAULT_TMP_MAX_AGE_SECONDS = 24 * 3600  # a temp file idle this long is a crashed upload's
RENDER_CACHE_DIR = "render-cache"


@dataclass(frozen=True)
class StorageOptions:
    max_file_bytes: int = 5 * 1024**3  # the most one object may hold (a bucket may say less)
    gc_interval: int = 0  # seconds between maintenance passes; 0: none in this process
    gc_grace: int = 3600  # seconds a new blob is safe from gc (storage_blobs' grace)
    resumable_expiry: int = 24 * 3600  # seconds an idle resumable upload is kept


class StorageComponent:
    """Everything storage needs from the node: the database and log (metadata as events), a
    blob store, resumable uploads and rendered images under the data dir, the node's JWT keys
    (signed URLs any member verifies), and the current schema catalog (policies on
    `storage.objects`, compiled by the REST layer)."""

    def __init__(
        self,
        db: Database,
        log: LogWriter,
        blobs: BlobStore,
        resumable: ResumableUploads,
        renders: RenderCache,
        tokens: TokenKeys,
        catalog: CatalogSource,
        options: StorageOptions,
    ) -> None:
        from performer_edge.storage.buckets import BucketService
        from performer_edge.storage.objects import ObjectService
        from performer_edge.storage.signing import Signer

        self.db = db
        self.log = log
        self.blobs = blobs
        self.resumable = resumable
        self.renders = renders
        self.tokens = tokens
        self.catalog = catalog
        self.options = options
        self.max_file_bytes = options.max_file_bytes
        self.pins = BlobPins()  # blobs of uploads not yet committed: gc keeps them
        self.fetcher = BlobFetcher(blobs, self.pins, None)  # blobs from peers (use_peers)
        self.eager: EagerFetch | None = None
        self.buckets = BucketService(self)
        self.objects = ObjectService(self)
        self.signer = Signer(self)

    @classmethod
    def build(
        cls,
        db: Database,
        log: LogWriter,
        data_root: Path,
        tokens: TokenKeys,
        catalog: CatalogSource,
        options: StorageOptions,
        *,
        sole_owner: bool = False,
    ) -> StorageComponent:
        """`sole_owner`: this process holds the data dir's lock, so no upload can be running
        and every temp file in the blob store is what a crash (or SIGKILL) left behind."""
        blobs = BlobStore(data_root / BLOBS_DIR)
        blobs.cleanup_tmp(0 if sole_owner else DEFAULT_TMP_MAX_AGE_SECONDS)
        resumable = ResumableUploads(data_root / UPLOADS_DIR, options.resumable_expiry)
        renders = RenderCache(data_root / RENDER_CACHE_DIR)
        return cls(db, log, blobs, resumable, renders, tokens, catalog, options)

    def access(self, conn: apsw.Connection, context: RequestContext) -> Access:
        return Access(conn, self.catalog, context)

    def append(self, tx: WriteTx, kind: str, bucket_id: str, data: Any) -> Event:
        return self.log.append(tx, kind, store.scope_of(bucket_id), data)

    def use_peers(self, peers: PeerBlobs, bus: EventBus, origin: bytes) -> None:
        """Fetch missing blobs from the cluster (`origin`: this node's id), eagerly for the
        buckets that ask for it, and serve this node's to the other members."""
        self.fetcher.peers = peers
        self.eager = EagerFetch(self, bus, origin)

    def install(self, app: web.Application) -> None:
        from performer_edge.storage import api, api_peer_blobs

        app[api.STORAGE] = self
        api.register(app)
        api_peer_blobs.register(app)
        app.cleanup_ctx.append(self._collect_garbage)
        app.cleanup_ctx.append(self._fetch_from_peers)
        app.on_cleanup.append(self._close_objects)

    async def _close_objects(self, app: web.Application) -> None:
        await asyncio.to_thread(self.objects.close)

    async def _fetch_from_peers(self, app: web.Application) -> AsyncIterator[None]:
        try:
            if self.eager is None:
                yield
            else:
                async for _ in self.eager.running():
                    yield
        finally:
            await self.fetcher.close()

    def _collect_garbage(self, app: web.Application) -> AsyncIterator[None]:
        options = self.options
        return run_on_schedule(self, interval=options.gc_interval, grace_seconds=options.gc_grace)
