"""Assembles the storage capability (blob store, services, signer) and adds `/storage/v1`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import apsw
from aiohttp import web

from performer_edge.core.db import Database, WriteTx
from performer_edge.core.events import Event
from performer_edge.core.log import LogWriter
from performer_edge.core.tokens import TokenKeys
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage import store
from performer_edge.storage.blob_gc import BlobPins, run_on_schedule
from performer_edge.storage.policies import Access, CatalogSource
from storage_blobs import BlobStore

BLOBS_DIR = "blobs"


class StorageComponent:
    """Everything storage needs from the node: the database and log (metadata as events), a
    blob store under the data dir, the node's JWT keys (signed URLs any member verifies), and
    the current schema catalog (policies on `storage.objects`, compiled by the REST layer)."""

    def __init__(
        self,
        db: Database,
        log: LogWriter,
        blobs: BlobStore,
        tokens: TokenKeys,
        catalog: CatalogSource,
        *,
        max_file_bytes: int,
        gc_interval: int = 0,
        gc_grace: int = 3600,
    ) -> None:
        from performer_edge.storage.buckets import BucketService
        from performer_edge.storage.objects import ObjectService
        from performer_edge.storage.signing import Signer

        self.db = db
        self.log = log
        self.blobs = blobs
        self.tokens = tokens
        self.catalog = catalog
        self.max_file_bytes = max_file_bytes
        self.gc_interval = gc_interval
        self.gc_grace = gc_grace
        self.pins = BlobPins()  # blobs of uploads not yet committed: gc keeps them
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
        *,
        max_file_bytes: int,
        gc_interval: int = 0,
        gc_grace: int = 3600,
    ) -> StorageComponent:
        blobs = BlobStore(data_root / BLOBS_DIR)
        blobs.cleanup_tmp()  # uploads a crash cut short
        return cls(
            db,
            log,
            blobs,
            tokens,
            catalog,
            max_file_bytes=max_file_bytes,
            gc_interval=gc_interval,
            gc_grace=gc_grace,
        )

    def access(self, conn: apsw.Connection, context: RequestContext) -> Access:
        return Access(conn, self.catalog(conn), context)

    def append(self, tx: WriteTx, kind: str, bucket_id: str, data: Any) -> Event:
        return self.log.append(tx, kind, store.scope_of(bucket_id), data)

    def install(self, app: web.Application) -> None:
        from performer_edge.storage import api

        app[api.STORAGE] = self
        api.register(app)
        app.cleanup_ctx.append(self._collect_garbage)

    def _collect_garbage(self, app: web.Application) -> AsyncIterator[None]:
        return run_on_schedule(self, interval=self.gc_interval, grace_seconds=self.gc_grace)
