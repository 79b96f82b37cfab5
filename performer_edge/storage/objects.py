"""Objects: upload (streamed into the blob store), lookups for download and info, move, copy,
remove, each under the caller's policies on `storage.objects`.

An upload is checked before its bytes are read (bucket, mime type, duplicate, policy), streamed
into the blob store with the bucket's size limit, and then checked again in the transaction
that appends its `storage.object_put` event. A small upload, whose bytes were read with its
request, is checked, stored and committed in one call on an upload thread (`upload_bytes`). A
blob whose event never commits is left for the blob store's gc to collect.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw

from performer_edge.core.db import WriteTx
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage import errors, store
from performer_edge.storage.buckets import mime_allowed
from performer_edge.storage.policies import (
    DELETE,
    INSERT,
    OBJECTS,
    SELECT,
    UPDATE,
    Access,
    object_row,
)
from performer_edge.storage.uploads import UploadBody
from storage_blobs import BlobInfo, BlobNotFound, BlobTooLarge

if TYPE_CHECKING:
    from performer_edge.storage.component import StorageComponent

# Threads for `upload_bytes`: each holds one small upload from its check to its row's commit
# (a few ms of fsyncs and a group commit), so as many as uploads that run at once.
UPLOAD_THREADS = 32


def _require_bucket(conn: apsw.Connection, bucket_id: str) -> store.Bucket:
    bucket = store.bucket_by_id(conn, bucket_id)
    if bucket is None:
        raise errors.no_such_bucket()
    return bucket


def _size_limit(bucket: store.Bucket, max_file_bytes: int) -> int:
    if bucket.file_size_limit is None:
        return max_file_bytes
    return min(max_file_bytes, bucket.file_size_limit)


def _check_content(bucket: store.Bucket, mimetype: str, size: int, max_file_bytes: int) -> None:
    """The bucket's allowed mime types and size limit."""
    if not mime_allowed(mimetype, bucket.allowed_mime_types):
        raise errors.invalid_mime_type(mimetype)
    if size > _size_limit(bucket, max_file_bytes):
        raise errors.entity_too_large()


def _check_put(
    access: Access,
    bucket_id: str,
    name: str,
    existing: store.StoredObject | None,
    *,
    upsert: bool,
    metadata: dict[str, Any],
) -> None:
    """May the caller write `name` (new, or over `existing` when upserting)?"""
    if existing is not None and not upsert:
        raise errors.key_exists()
    if access.bypass:
        return
    row = object_row(bucket_id, name, access.context.uid, metadata)
    if existing is None:
        allowed = access.new_row_allowed(OBJECTS, INSERT, row)
    else:
        allowed = access.object_allowed(UPDATE, bucket_id, name) and access.new_row_allowed(
            OBJECTS, UPDATE, row
        )
    if not allowed:
        raise errors.access_denied()


def _content(found: store.StoredObject, user_metadata: Any) -> dict[str, Any]:
    """An existing object's content, as an `object_put` (or a move's `object`) carries it."""
    return {
        "blob": found.blob,
        "size": found.size,
        "mimetype": found.mimetype,
        "cache_control": found.cache_control,
        "user_metadata": user_metadata,
    }


class _BlobElsewhere(Exception):
    """A copy's source blob is not on this node (its metadata came by sync)."""

    def __init__(self, blob: str, size: int) -> None:
        super().__init__(blob)
        self.blob = blob
        self.size = size


@dataclass(frozen=True)
class _UploadTarget:
    """What an upload's early check looks at (before its bytes are stored)."""

    context: RequestContext
    bucket_id: str
    name: str
    mimetype: str
    cache_control: str
    upsert: bool


class ObjectService:
    def __init__(self, storage: StorageComponent) -> None:
        self.storage = storage
        self._upload_threads = ThreadPoolExecutor(UPLOAD_THREADS, "performer-upload")

    def close(self) -> None:
        """Wait for the small uploads in progress; their threads end."""
        self._upload_threads.shutdown()

    # -- upload --------------------------------------------------------------------------------

    async def check_upload(
        self,
        context: RequestContext,
        bucket_id: str,
        name: str,
        mimetype: str,
        cache_control: str,
        *,
        upsert: bool,
    ) -> int:
        """May the caller upload `bucket_id/name` (checked before any byte is read)? The most
        bytes it may have."""
        target = _UploadTarget(context, bucket_id, name, mimetype, cache_control, upsert)
        return await self.storage.db.read(lambda conn: self._may_upload(conn, target))

    def _may_upload(self, conn: apsw.Connection, target: _UploadTarget) -> int:
        bucket = _require_bucket(conn, target.bucket_id)
        max_file_bytes = self.storage.max_file_bytes
        _check_content(bucket, target.mimetype, 0, max_file_bytes)
        existing = store.object_by_name(conn, target.bucket_id, target.name)
        access = self.storage.access(conn, target.context)
        early = {"mimetype": target.mimetype, "cacheControl": target.cache_control}
        _check_put(
            access, target.bucket_id, target.name, existing, upsert=target.upsert, metadata=early
        )
        return _size_limit(bucket, max_file_bytes)

    async def upload_bytes(
        self,
        context: RequestContext,
        bucket_id: str,
        name: str,
        body: UploadBody,
        data: bytes,
        *,
        upsert: bool,
    ) -> str:
        """`upload` of a body already read (`uploads.read_small`): the check, the blob's write
        and fsync, and the wait for the row's commit run in one upload-thread call, one hop
        instead of three, each of which costs a thread handoff on a busy node."""
        storage = self.storage
        target = _UploadTarget(context, bucket_id, name, body.mimetype, body.cache_control, upsert)

        def run() -> str:
            limit = storage.db.read_sync(lambda conn: self._may_upload(conn, target))
            if len(data) > limit:
                raise errors.entity_too_large()
            try:
                blob = storage.blobs.put_bytes(data, max_size=limit)
            except BlobTooLarge:
                raise errors.entity_too_large() from None
            with storage.pins.holding(blob.hash):  # until its row commits (blob_gc)
                return storage.db.submit(
                    lambda tx: self._commit_put(
                        tx, context, bucket_id, name, blob, body, upsert=upsert
                    )
                ).result()

        return await asyncio.get_running_loop().run_in_executor(self._upload_threads, run)

    async def upload(
        self,
        context: RequestContext,
        bucket_id: str,
        name: str,
        body: UploadBody,
        *,
        upsert: bool,
    ) -> str:
        """Store the body as `bucket_id/name`; the object's id."""
        storage = self.storage
        limit = await self.check_upload(
            context, bucket_id, name, body.mimetype, body.cache_control, upsert=upsert
        )
        try:
            blob = await storage.blobs.put_async(body.chunks, max_size=limit)
        except BlobTooLarge:
            raise errors.entity_too_large() from None
        with storage.pins.holding(blob.hash):  # until its row commits (blob_gc)
            return await storage.db.write(
                lambda tx: self._commit_put(tx, context, bucket_id, name, blob, body, upsert=upsert)
            )

    def _commit_put(
        self,
        tx: WriteTx,
        context: RequestContext,
        bucket_id: str,
        name: str,
        blob: BlobInfo,
        body: UploadBody,
        *,
        upsert: bool,
    ) -> str:
        # Again at commit: the bucket's settings may have changed while the bytes streamed.
        bucket = _require_bucket(tx.conn, bucket_id)
        _check_content(bucket, body.mimetype, blob.size, self.storage.max_file_bytes)
        existing = store.object_by_name(tx.conn, bucket_id, name)
        metadata = store.object_metadata(
            blob.hash, blob.size, body.mimetype, body.cache_control, ""
        )
        access = self.storage.access(tx.conn, context)
        _check_put(access, bucket_id, name, existing, upsert=upsert, metadata=metadata)
        content = {
            "blob": blob.hash,
            "size": blob.size,
            "mimetype": body.mimetype,
            "cache_control": body.cache_control,
            "user_metadata": body.user_metadata,
        }
        return self._append_put(tx, context, bucket_id, name, existing, content)

    def _append_put(
        self,
        tx: WriteTx,
        context: RequestContext,
        bucket_id: str,
        name: str,
        existing: store.StoredObject | None,
        content: dict[str, Any],
    ) -> str:
        """Append the `object_put` event (an overwrite keeps the object's id and creation
        time); the id."""
        object_id = existing.id if existing is not None else str(uuid.uuid4())
        data = {"id": object_id, "bucket_id": bucket_id, "name": name, "owner": context.uid}
        if existing is not None:
            data["created_at"] = existing.created_at
        self.storage.append(tx, store.OBJECT_PUT, bucket_id, {**data, **content})
        return object_id

    # -- reads ---------------------------------------------------------------------------------

    async def find(
        self, context: RequestContext | None, bucket_id: str, name: str
    ) -> store.StoredObject:
        """The object, if the caller may read it (`context` None: through a public bucket)."""
        return await self.storage.db.read(lambda conn: self._find(conn, context, bucket_id, name))

    async def fetch(
        self, context: RequestContext | None, bucket_id: str, name: str, *, inline: int
    ) -> tuple[store.StoredObject, bytes | None]:
        """`find`, and the object's bytes too when it holds at most `inline` of them: read in
        the same reader-thread call, so serving a small object costs one thread hop."""

        def read(conn: apsw.Connection) -> tuple[store.StoredObject, bytes | None]:
            found = self._find(conn, context, bucket_id, name)
            if found.size > inline:
                return found, None
            try:  # a blob shorter than its object shows up in serve_object
                return found, self.storage.blobs.read(found.blob, 0, found.size)
            except BlobNotFound:
                return found, None  # the caller's own open says so, in its error shape

        return await self.storage.db.read(read)

    def _find(
        self, conn: apsw.Connection, context: RequestContext | None, bucket_id: str, name: str
    ) -> store.StoredObject:
        bucket = _require_bucket(conn, bucket_id)
        found = store.object_by_name(conn, bucket_id, name)
        if found is None:
            raise errors.no_such_key()
        if context is None:
            if not bucket.public:
                raise errors.no_such_bucket()
        elif not self.storage.access(conn, context).object_allowed(SELECT, bucket_id, name):
            raise errors.no_such_key()
        return found

    # -- move, copy, remove --------------------------------------------------------------------

    async def move(
        self,
        context: RequestContext,
        bucket_id: str,
        source: str,
        destination: str,
        destination_bucket: str,
    ) -> str:
        def write(tx: WriteTx) -> str:
            access = self.storage.access(tx.conn, context)
            found = self._readable(tx.conn, access, bucket_id, source)
            if not access.object_allowed(UPDATE, bucket_id, source):
                raise errors.no_such_key()
            _require_bucket(tx.conn, destination_bucket)
            if store.object_by_name(tx.conn, destination_bucket, destination) is not None:
                raise errors.key_exists()
            row = object_row(destination_bucket, destination, found.owner, found.metadata)
            if not access.bypass and not access.new_row_allowed(OBJECTS, UPDATE, row):
                raise errors.access_denied()
            # The event carries what it moves, so it projects the same whatever arrived before
            # it; a fresh id, as a concurrent overwrite of the source keeps the old one.
            moved_id = str(uuid.uuid4())
            moved = {
                **_content(found, found.user_metadata),
                "id": moved_id,
                "owner": found.owner,
                "created_at": found.created_at,
            }
            data = {
                "bucket_id": bucket_id,
                "source": source,
                "destination_bucket": destination_bucket,
                "destination": destination,
                "object": moved,
            }
            self.storage.append(tx, store.OBJECT_MOVED, bucket_id, data)
            return moved_id

        return await self.storage.db.write(write)

    async def copy(
        self,
        context: RequestContext,
        bucket_id: str,
        source: str,
        destination: str,
        destination_bucket: str,
        *,
        upsert: bool,
        user_metadata: Any = None,
    ) -> str:
        def write(tx: WriteTx) -> str:
            access = self.storage.access(tx.conn, context)
            found = self._readable(tx.conn, access, bucket_id, source)
            _require_bucket(tx.conn, destination_bucket)
            existing = store.object_by_name(tx.conn, destination_bucket, destination)
            _check_put(
                access,
                destination_bucket,
                destination,
                existing,
                upsert=upsert,
                metadata=found.metadata,
            )
            try:
                self.storage.blobs.touch(found.blob)  # restart its gc grace (CONTRACT.md)
            except BlobNotFound:
                raise _BlobElsewhere(found.blob, found.size) from None
            content = _content(
                found, found.user_metadata if user_metadata is None else user_metadata
            )
            return self._append_put(tx, context, destination_bucket, destination, existing, content)

        try:
            return await self.storage.db.write(write)
        except _BlobElsewhere as missing:  # metadata that came by sync: fetch, then copy
            await self.storage.fetcher.ensure(missing.blob, missing.size)
        try:
            return await self.storage.db.write(write)
        except _BlobElsewhere:
            raise errors.no_such_key() from None

    async def remove(
        self, context: RequestContext, bucket_id: str, names: list[str]
    ) -> list[store.StoredObject]:
        """Delete the named objects the caller may see and delete; those are returned."""

        def write(tx: WriteTx) -> list[store.StoredObject]:
            access = self.storage.access(tx.conn, context)
            _require_bucket(tx.conn, bucket_id)
            removed = [
                found
                for found in store.objects_named(tx.conn, bucket_id, dict.fromkeys(names))
                if access.object_allowed(SELECT, bucket_id, found.name)
                and access.object_allowed(DELETE, bucket_id, found.name)
            ]
            if removed:
                data = {"bucket_id": bucket_id, "names": [found.name for found in removed]}
                self.storage.append(tx, store.OBJECTS_DELETED, bucket_id, data)
            return removed

        return await self.storage.db.write(write)

    @staticmethod
    def _readable(
        conn: apsw.Connection, access: Access, bucket_id: str, name: str
    ) -> store.StoredObject:
        found = store.object_by_name(conn, bucket_id, name)
        if found is None or not access.object_allowed(SELECT, bucket_id, name):
            raise errors.no_such_key()
        return found
