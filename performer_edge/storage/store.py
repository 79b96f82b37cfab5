"""Storage metadata as events: `storage.*` kinds, their projection onto `storage_buckets` and
`storage_objects`, and the reads the API makes.

Timestamps come from the event's HLC, so every node (and a replay) projects the same rows. An
object write wins over the row it finds only when its (hlc, origin) is newer: two nodes that
wrote the same name while apart agree once both writes have arrived.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import apsw

from performer_edge.core import hlc as hlc_mod
from performer_edge.core.events import Event
from performer_edge.core.projections import Projection
from performer_edge.errors import IntegrityError

BUCKET_CREATED = "storage.bucket_created"
BUCKET_UPDATED = "storage.bucket_updated"
BUCKET_DELETED = "storage.bucket_deleted"
OBJECT_PUT = "storage.object_put"
OBJECT_MOVED = "storage.object_moved"
OBJECTS_DELETED = "storage.objects_deleted"

BUCKET_SETTINGS = ("public", "file_size_limit", "allowed_mime_types")


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

    def to_json(self) -> dict[str, Any]:
        """The shape both clients parse (supabase-wire.md §3.3); owner is a string, never null."""
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


# -- projection ------------------------------------------------------------------------------------


def _apply(conn: apsw.Connection, event: Event) -> None:
    data = event.data
    if not isinstance(data, dict):
        raise IntegrityError(f"{event.kind} event without a map payload")
    at = hlc_mod.to_iso(event.hlc)
    try:
        if event.kind == BUCKET_CREATED:
            _create_bucket(conn, data, at)
        elif event.kind == BUCKET_UPDATED:
            _update_bucket(conn, data, at)
        elif event.kind == BUCKET_DELETED:
            conn.execute("DELETE FROM storage_objects WHERE bucket_id = ?", (data["id"],))
            conn.execute("DELETE FROM storage_buckets WHERE id = ?", (data["id"],))
        elif event.kind == OBJECT_PUT:
            _put_object(conn, event, data, at)
        elif event.kind == OBJECT_MOVED:
            _move_object(conn, event, data, at)
        elif event.kind == OBJECTS_DELETED:
            conn.executemany(
                "DELETE FROM storage_objects WHERE bucket_id = ? AND name = ?",
                [(data["bucket_id"], name) for name in data["names"]],
            )
        else:
            raise IntegrityError(f"unknown storage event {event.kind}")
    except (KeyError, TypeError) as exc:
        raise IntegrityError(f"malformed {event.kind} event: {exc}") from exc


def _mime_types_text(value: Any) -> str | None:
    return None if value is None else json.dumps(list(value), ensure_ascii=False)


def _create_bucket(conn: apsw.Connection, data: dict[str, Any], at: str) -> None:
    conn.execute(
        "INSERT INTO storage_buckets(id, name, owner, public, file_size_limit, "
        "allowed_mime_types, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO NOTHING",
        (
            data["id"],
            data["name"],
            data.get("owner"),
            int(bool(data.get("public"))),
            data.get("file_size_limit"),
            _mime_types_text(data.get("allowed_mime_types")),
            at,
            at,
        ),
    )


def _update_bucket(conn: apsw.Connection, data: dict[str, Any], at: str) -> None:
    changes: dict[str, Any] = {"updated_at": at}
    if "public" in data:
        changes["public"] = int(bool(data["public"]))
    if "file_size_limit" in data:
        changes["file_size_limit"] = data["file_size_limit"]
    if "allowed_mime_types" in data:
        changes["allowed_mime_types"] = _mime_types_text(data["allowed_mime_types"])
    assignments = ", ".join(f"{column} = ?" for column in changes)
    conn.execute(
        f"UPDATE storage_buckets SET {assignments} WHERE id = ?", [*changes.values(), data["id"]]
    )


def _newer(conn: apsw.Connection, event: Event, bucket_id: str, name: str) -> bool:
    row = conn.execute(
        "SELECT hlc, origin FROM storage_objects WHERE bucket_id = ? AND name = ?",
        (bucket_id, name),
    ).fetchone()
    return row is None or (event.hlc, event.origin) > (row[0], row[1])


def _put_object(conn: apsw.Connection, event: Event, data: dict[str, Any], at: str) -> None:
    bucket_id, name = data["bucket_id"], data["name"]
    if not _newer(conn, event, bucket_id, name):
        return
    metadata = object_metadata(
        data["blob"], int(data["size"]), data["mimetype"], data["cache_control"], at
    )
    conn.execute(
        "INSERT INTO storage_objects(id, bucket_id, name, owner, metadata, user_metadata, blob, "
        "created_at, updated_at, last_accessed_at, hlc, origin) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(bucket_id, name) DO UPDATE SET owner = excluded.owner, "
        "metadata = excluded.metadata, user_metadata = excluded.user_metadata, "
        "blob = excluded.blob, updated_at = excluded.updated_at, "
        "last_accessed_at = excluded.last_accessed_at, hlc = excluded.hlc, "
        "origin = excluded.origin",
        (
            data["id"],
            bucket_id,
            name,
            data.get("owner"),
            json.dumps(metadata),
            json.dumps(data.get("user_metadata")),
            data["blob"],
            at,
            at,
            at,
            event.hlc,
            event.origin,
        ),
    )


def _move_object(conn: apsw.Connection, event: Event, data: dict[str, Any], at: str) -> None:
    bucket_id, source = data["bucket_id"], data["source"]
    target_bucket, target = data.get("destination_bucket") or bucket_id, data["destination"]
    if conn.execute(
        "SELECT 1 FROM storage_objects WHERE bucket_id = ? AND name = ?", (bucket_id, source)
    ).fetchone() is None or not _newer(conn, event, target_bucket, target):
        return
    conn.execute(
        "DELETE FROM storage_objects WHERE bucket_id = ? AND name = ?", (target_bucket, target)
    )
    conn.execute(
        "UPDATE storage_objects SET bucket_id = ?, name = ?, owner = coalesce(?, owner), "
        "updated_at = ?, hlc = ?, origin = ? WHERE bucket_id = ? AND name = ?",
        (target_bucket, target, data.get("owner"), at, event.hlc, event.origin, bucket_id, source),
    )


def _reset(conn: apsw.Connection) -> None:
    conn.execute("DELETE FROM storage_objects")
    # Buckets a migration seeded are made again when its schema event replays.
    conn.execute("DELETE FROM storage_buckets")


PROJECTION = Projection("storage", ("storage.",), _apply, _reset)


def stamp_seeded_buckets(conn: apsw.Connection, event: Event) -> None:
    """After a migration: buckets it inserted (`insert into storage.buckets ...`) get the
    migration event's time, the same on every node that applies it."""
    at = hlc_mod.to_iso(event.hlc)
    conn.execute(
        "UPDATE storage_buckets SET created_at = coalesce(created_at, ?), "
        "updated_at = coalesce(updated_at, ?) WHERE created_at IS NULL OR updated_at IS NULL",
        (at, at),
    )


# -- reads ---------------------------------------------------------------------------------------

_BUCKET_COLUMNS = (
    "id, name, owner, public, file_size_limit, allowed_mime_types, created_at, updated_at"
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
