"""Buckets: options parsed from request bodies, and the bucket operations under policies.

A write checks everything again inside its transaction (on the writer connection), so two
racing requests cannot both create the same bucket or delete a bucket an upload just filled.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from performer_edge.core.db import WriteTx
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage import errors, store
from performer_edge.storage.paths import check_bucket_id
from performer_edge.storage.policies import BUCKETS, DELETE, INSERT, SELECT, UPDATE

if TYPE_CHECKING:
    from performer_edge.storage.component import StorageComponent

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
_MIME = re.compile(r"^[\w.+-]+/([\w.+-]+|\*)$")
MAX_MIME_TYPES = 256


def parse_file_size_limit(value: Any) -> int | None:
    """A number of bytes, or storage-api's `"20GB"`, `"1MB"`, `"30KB"`, `"3B"` (1 KB = 1000 B)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise errors.invalid_request("file_size_limit must be a number of bytes or like '1MB'")
    if isinstance(value, int | float):
        if value < 0 or value != int(value):
            raise errors.invalid_request("file_size_limit must be a whole number of bytes >= 0")
        return int(value)
    if isinstance(value, str):
        found = _SIZE.match(value)
        if found:
            unit = (found.group(2) or "B").upper()
            return int(float(found.group(1)) * _UNITS[unit])
    raise errors.invalid_request(
        "the requested file_size_limit uses an invalid format, use 20GB / 20MB / 30KB / 3B"
    )


def parse_mime_types(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_MIME_TYPES:
        raise errors.invalid_request("allowed_mime_types must be a list of mime types")
    checked = []
    for item in value:
        if not isinstance(item, str) or not _MIME.match(item.strip()):
            raise errors.invalid_request(f"invalid mime type in allowed_mime_types: {item!r}")
        checked.append(item.strip().lower())
    return checked or None


def mime_allowed(mimetype: str, allowed: tuple[str, ...] | None) -> bool:
    """`image/*` allows every image type; parameters (`;charset=...`) are ignored."""
    if not allowed:
        return True
    base = mimetype.split(";", 1)[0].strip().lower()
    kind = base.split("/", 1)[0]
    return any(pattern in (base, f"{kind}/*", "*/*") for pattern in allowed)


def bucket_settings(body: dict[str, Any]) -> dict[str, Any]:
    """The settings a create or update body gives (only the keys it has)."""
    settings: dict[str, Any] = {}
    if "public" in body:
        if not isinstance(body["public"], bool):
            raise errors.invalid_request("public must be true or false")
        settings["public"] = body["public"]
    if "file_size_limit" in body:
        settings["file_size_limit"] = parse_file_size_limit(body["file_size_limit"])
    if "allowed_mime_types" in body:
        settings["allowed_mime_types"] = parse_mime_types(body["allowed_mime_types"])
    if "eager_fetch" in body:
        if not isinstance(body["eager_fetch"], bool):
            raise errors.invalid_request("eager_fetch must be true or false")
        settings["eager_fetch"] = body["eager_fetch"]
    return settings


def _candidate(bucket: dict[str, Any]) -> dict[str, Any]:
    """The `storage.buckets` row a policy's WITH CHECK sees."""
    mime_types = bucket.get("allowed_mime_types")
    return {
        **bucket,
        "public": int(bool(bucket.get("public"))),
        "eager_fetch": int(bool(bucket.get("eager_fetch"))),
        "allowed_mime_types": None if mime_types is None else str(mime_types),
    }


class BucketService:
    def __init__(self, storage: StorageComponent) -> None:
        self.storage = storage

    async def create(self, context: RequestContext, body: dict[str, Any]) -> str:
        bucket_id = check_bucket_id(body.get("id", body.get("name")))
        name = body.get("name") or bucket_id
        if not isinstance(name, str):
            raise errors.invalid_request("name must be a string")
        row = {"id": bucket_id, "name": name, "owner": context.uid, **bucket_settings(body)}

        def write(tx: WriteTx) -> None:
            access = self.storage.access(tx.conn, context)
            if store.bucket_by_id(tx.conn, bucket_id) is not None:
                raise errors.bucket_exists()
            if not access.bypass and not access.new_row_allowed(BUCKETS, INSERT, _candidate(row)):
                raise errors.access_denied()
            self.storage.append(tx, store.BUCKET_CREATED, bucket_id, row)

        await self.storage.db.write(write)
        return bucket_id

    async def get(self, context: RequestContext, bucket_id: str) -> store.Bucket:
        def read(conn: Any) -> store.Bucket:
            bucket = store.bucket_by_id(conn, bucket_id)
            if bucket is None or not self.storage.access(conn, context).bucket_allowed(
                SELECT, bucket_id
            ):
                raise errors.no_such_bucket()
            return bucket

        return await self.storage.db.read(read)

    async def list(
        self,
        context: RequestContext,
        *,
        limit: int | None,
        offset: int,
        sort_column: str,
        descending: bool,
        search: str,
    ) -> list[store.Bucket]:
        def read(conn: Any) -> list[store.Bucket]:
            access = self.storage.access(conn, context)
            allowed = {
                str(r[0])
                for r in conn.execute(
                    f"SELECT id FROM {access.source(BUCKETS)} AS b", context.auth_values()
                ).fetchall()
            }
            found = [b for b in store.buckets(conn) if b.id in allowed]
            if search:
                found = [b for b in found if search.lower() in b.name.lower()]
            found.sort(key=lambda b: (getattr(b, sort_column) or "", b.id), reverse=descending)
            return found[offset : None if limit is None else offset + limit]

        return await self.storage.db.read(read)

    async def update(self, context: RequestContext, bucket_id: str, body: dict[str, Any]) -> None:
        changes = bucket_settings(body)

        def write(tx: WriteTx) -> None:
            access = self.storage.access(tx.conn, context)
            bucket = store.bucket_by_id(tx.conn, bucket_id)
            if bucket is None or not access.bucket_allowed(UPDATE, bucket_id):
                raise errors.no_such_bucket()
            row = {**bucket.to_json(), "owner": bucket.owner, **changes}
            if not access.bypass and not access.new_row_allowed(BUCKETS, UPDATE, _candidate(row)):
                raise errors.access_denied()
            self.storage.append(tx, store.BUCKET_UPDATED, bucket_id, {"id": bucket_id, **changes})

        await self.storage.db.write(write)

    async def empty(self, context: RequestContext, bucket_id: str) -> int:
        """Delete every object of the bucket the caller may delete; how many that was."""

        def write(tx: WriteTx) -> int:
            access = self.storage.access(tx.conn, context)
            if store.bucket_by_id(tx.conn, bucket_id) is None or not access.bucket_allowed(
                SELECT, bucket_id
            ):
                raise errors.no_such_bucket()
            names = [
                n
                for n in store.object_names(tx.conn, bucket_id)
                if access.object_allowed(DELETE, bucket_id, n)
            ]
            if names:
                data = {"bucket_id": bucket_id, "names": names}
                self.storage.append(tx, store.OBJECTS_DELETED, bucket_id, data)
            return len(names)

        return await self.storage.db.write(write)

    async def delete(self, context: RequestContext, bucket_id: str) -> None:
        def write(tx: WriteTx) -> None:
            access = self.storage.access(tx.conn, context)
            if store.bucket_by_id(tx.conn, bucket_id) is None or not access.bucket_allowed(
                DELETE, bucket_id
            ):
                raise errors.no_such_bucket()
            if store.has_objects(tx.conn, bucket_id):
                raise errors.bucket_not_empty()
            self.storage.append(tx, store.BUCKET_DELETED, bucket_id, {"id": bucket_id})

        await self.storage.db.write(write)
