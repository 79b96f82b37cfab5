"""Storage metadata as events: the `storage.*` kinds, the shapes the API answers with, and the
reads the API makes of the tables `projection` keeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import apsw

BUCKET_CREATED = "storage.bucket_created"
BUCKET_UPDATED = "storage.bucket_updated"
BUCKET_DELETED = "storage.bucket_deleted"
OBJECT_PUT = "storage.object_put"
OBJECT_MOVED = "storage.object_moved"
OBJECTS_DELETED = "storage.objects_deleted"

BUCKET_SETTINGS = ("public", "file_size_limit", "allowed_mime_types", "eager_fetch")


def scope_of(bucket_id: str) -> str:
    return f"storage/{bucket_id}"


@dataclass(frozen=True)
class Bucket:
    id: str
    name: str
    owner: str | None
    public: bool
    file_size_limit: int | None
    allowed_mime_types: tuple[str, ...] | None
    created_at: str
    updated_at: str
    eager_fetch: bool = False  # Performer's: peers fetch its blobs at once (storage.peer_eager)

    def to_json(self) -> dict[str, Any]:
        """The shape both clients parse (supabase-wire.md §3.3); owner is a string, never null.
        `eager_fetch` is Performer's own; both clients ignore keys they do not know."""
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner or "",
            "public": self.public,
            "type": "STANDARD",
            "file_size_limit": self.file_size_limit,
            "allowed_mime_types": None
            if self.allowed_mime_types is None
            else list(self.allowed_mime_types),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "eager_fetch": self.eager_fetch,
        }


@dataclass(frozen=True)
class StoredObject:
    id: str
    bucket_id: str
    name: str
    owner: str | None
    metadata: dict[str, Any]
    user_metadata: Any
    blob: str
    created_at: str
    updated_at: str
    last_accessed_at: str | None

    @property
    def size(self) -> int:
        return int(self.metadata.get("size", 0))

    @property
    def mimetype(self) -> str:
        return str(self.metadata.get("mimetype") or "application/octet-stream")

    @property
    def cache_control(self) -> str:
        return str(self.metadata.get("cacheControl") or "no-cache")

    @property
    def etag(self) -> str:
        return str(self.metadata.get("eTag") or f'"{self.blob}"')

    def info_json(self) -> dict[str, Any]:
        """`GET /object/info/...`: the object's row, flattened the way storage-api answers."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.blob[:32],
            "bucket_id": self.bucket_id,
            "size": self.size,
            "content_type": self.mimetype,
            "cache_control": self.cache_control,
            "etag": self.etag,
            "metadata": self.user_metadata,
            "last_modified": self.updated_at,
            "created_at": self.created_at,
        }

    def row_json(self) -> dict[str, Any]:
        """The object row as `remove` returns it."""
        return {
            "id": self.id,
            "bucket_id": self.bucket_id,
            "name": self.name,
            "owner": self.owner,
            "metadata": self.metadata,
            "user_metadata": self.user_metadata,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_accessed_at": self.last_accessed_at,
        }


def object_metadata(blob: str, size: int, mimetype: str, cache_control: str, at: str) -> Any:
    """The `metadata` column: what list results and info read (supabase-wire.md §3.3)."""
    return {
        "eTag": f'"{blob}"',
        "size": size,
        "mimetype": mimetype,
        "cacheControl": cache_control,
        "lastModified": at,
        "contentLength": size,
        "httpStatusCode": 200,
    }


# -- reads ---------------------------------------------------------------------------------------

_BUCKET_COLUMNS = (
    "id, name, owner, public, file_size_limit, allowed_mime_types, created_at, updated_at, "
    "eager_fetch"
)
OBJECT_COLUMNS = (
    "id, bucket_id, name, owner, metadata, user_metadata, blob, created_at, updated_at, "
    "last_accessed_at"
)


def _bucket(row: tuple[Any, ...]) -> Bucket:
    mime_types = json.loads(row[5]) if row[5] else None
    return Bucket(
        id=str(row[0]),
        name=str(row[1] if row[1] is not None else row[0]),
        owner=row[2],
        public=bool(row[3]),
        file_size_limit=None if row[4] is None else int(row[4]),
        allowed_mime_types=None if mime_types is None else tuple(str(m) for m in mime_types),
        created_at=str(row[6] or ""),
        updated_at=str(row[7] or ""),
        eager_fetch=bool(row[8]),
    )


def stored_object(row: tuple[Any, ...]) -> StoredObject:
    return StoredObject(
        id=str(row[0]),
        bucket_id=str(row[1]),
        name=str(row[2]),
        owner=row[3],
        metadata=json.loads(row[4]) if row[4] else {},
        user_metadata=json.loads(row[5]) if row[5] else None,
        blob=str(row[6]),
        created_at=str(row[7]),
        updated_at=str(row[8]),
        last_accessed_at=row[9],
    )


def bucket_by_id(conn: apsw.Connection, bucket_id: str) -> Bucket | None:
    row = conn.execute(
        f"SELECT {_BUCKET_COLUMNS} FROM storage_buckets WHERE id = ?", (bucket_id,)
    ).fetchone()
    return None if row is None else _bucket(row)


def buckets(conn: apsw.Connection, where: str = "1", params: Any = ()) -> list[Bucket]:
    rows = conn.execute(
        f"SELECT {_BUCKET_COLUMNS} FROM storage_buckets WHERE {where} ORDER BY id", params
    ).fetchall()
    return [_bucket(row) for row in rows]


def object_by_name(conn: apsw.Connection, bucket_id: str, name: str) -> StoredObject | None:
    row = conn.execute(
        f"SELECT {OBJECT_COLUMNS} FROM storage_objects WHERE bucket_id = ? AND name = ?",
        (bucket_id, name),
    ).fetchone()
    return None if row is None else stored_object(row)


def objects_named(
    conn: apsw.Connection, bucket_id: str, names: Iterable[str]
) -> list[StoredObject]:
    found = (object_by_name(conn, bucket_id, name) for name in names)
    return [obj for obj in found if obj is not None]


def has_objects(conn: apsw.Connection, bucket_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM storage_objects WHERE bucket_id = ? LIMIT 1", (bucket_id,)
    ).fetchone()
    return row is not None


def object_names(conn: apsw.Connection, bucket_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM storage_objects WHERE bucket_id = ? ORDER BY name", (bucket_id,)
    ).fetchall()
    return [str(row[0]) for row in rows]
