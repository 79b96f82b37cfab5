"""Listing a bucket: `list` (one folder level, storage-api's `storage.search`) and `list-v2`
(flat or by delimiter, cursor paging). Rows come through the caller's SELECT policies.

Folders are not stored: they are the first path segments of keys below the prefix.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from performer_edge.storage import errors, store
from performer_edge.storage.policies import OBJECTS, Access

SORT_COLUMNS = ("name", "created_at", "updated_at", "last_accessed_at")
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Entry:
    """A folder (`stored` None) or an object, named relative to the listed prefix."""

    name: str
    stored: store.StoredObject | None

    def sort_key(self, column: str) -> tuple[str, str]:
        if column == "name" or self.stored is None:
            return ("" if column != "name" else self.name, self.name)
        return (str(getattr(self.stored, column) or ""), self.name)


def _successor(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix`."""
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def objects_under(
    conn: apsw.Connection, access: Access, bucket_id: str, prefix: str
) -> list[store.StoredObject]:
    """Objects of the bucket whose key starts with `prefix`, as the caller may read them."""
    params: dict[str, Any] = {**access.context.auth_values(), "pe_bucket": bucket_id}
    where = "o.bucket_id = :pe_bucket"
    if prefix:
        params["pe_low"] = prefix
        where += " AND o.name >= :pe_low"
        upper = _successor(prefix)
        if upper is not None:
            params["pe_high"] = upper
            where += " AND o.name < :pe_high"
    columns = ", ".join(f"o.{c.strip()}" for c in store.OBJECT_COLUMNS.split(","))
    sql = f"SELECT {columns} FROM {access.source(OBJECTS)} AS o WHERE {where} ORDER BY o.name"
    return [store.stored_object(row) for row in conn.execute(sql, params).fetchall()]


def _entries(objects: list[store.StoredObject], base: str, *, folders: bool) -> list[Entry]:
    found: dict[str, Entry] = {}
    for stored in objects:
        relative = stored.name[len(base) :]
        if folders and "/" in relative:
            folder = relative.split("/", 1)[0]
            found.setdefault(folder + "/", Entry(folder, None))
        else:
            found[relative] = Entry(relative, stored)
    return list(found.values())


def _sort(entries: list[Entry], column: str, order: str) -> list[Entry]:
    if column not in SORT_COLUMNS:
        raise errors.invalid_request(f"sortBy.column must be one of {', '.join(SORT_COLUMNS)}")
    if order not in ("asc", "desc"):
        raise errors.invalid_request("sortBy.order must be asc or desc")
    return sorted(entries, key=lambda e: e.sort_key(column), reverse=order == "desc")


def _folder_json(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": None,
        "updated_at": None,
        "created_at": None,
        "last_accessed_at": None,
        "metadata": None,
    }


def list_folder(
    conn: apsw.Connection,
    access: Access,
    bucket_id: str,
    *,
    prefix: str,
    search: str,
    limit: int,
    offset: int,
    column: str,
    order: str,
) -> list[dict[str, Any]]:
    """`POST /object/list/{bucket}`: the folder `prefix` (`a` is `a/`), one level deep."""
    folder = prefix.strip("/")
    base = f"{folder}/" if folder else ""
    entries = _entries(objects_under(conn, access, bucket_id, base), base, folders=True)
    if search:
        wanted = search.lower()
        entries = [e for e in entries if e.name.lower().startswith(wanted)]
    page = _sort(entries, column, order)[offset : offset + limit]
    result = []
    for entry in page:
        if entry.stored is None:
            result.append(_folder_json(entry.name))
        else:
            stored = entry.stored
            result.append(
                {
                    "name": entry.name,
                    "id": stored.id,
                    "updated_at": stored.updated_at,
                    "created_at": stored.created_at,
                    "last_accessed_at": stored.last_accessed_at,
                    "metadata": stored.metadata,
                }
            )
    return result


def _encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise errors.invalid_request("cursor is not one this server returned") from None
    if not (isinstance(key, list) and len(key) == 2 and all(isinstance(k, str) for k in key)):
        raise errors.invalid_request("cursor is not one this server returned")
    return (key[0], key[1])


def list_v2(
    conn: apsw.Connection,
    access: Access,
    bucket_id: str,
    *,
    prefix: str,
    limit: int,
    cursor: str | None,
    with_delimiter: bool,
    column: str,
    order: str,
) -> dict[str, Any]:
    """`POST /object/list-v2/{bucket}`: keys starting with `prefix`, flat or cut at the next
    `/` (folders), `limit` per page, resumed after `cursor`."""
    objects = objects_under(conn, access, bucket_id, prefix)
    entries = _sort(_entries(objects, prefix, folders=with_delimiter), column, order)
    if cursor:
        after = _decode_cursor(cursor)
        if order == "desc":
            entries = [e for e in entries if e.sort_key(column) < after]
        else:
            entries = [e for e in entries if e.sort_key(column) > after]
    page, has_next = entries[:limit], len(entries) > limit
    result: dict[str, Any] = {"hasNext": has_next, "folders": [], "objects": []}
    if has_next:
        result["nextCursor"] = _encode_cursor(page[-1].sort_key(column))
    for entry in page:
        if entry.stored is None:
            result["folders"].append({"key": entry.name, "name": f"{prefix}{entry.name}/"})
        else:
            stored = entry.stored
            result["objects"].append(
                {
                    "id": stored.id,
                    "key": entry.name,
                    "name": stored.name,
                    "metadata": stored.metadata,
                    "created_at": stored.created_at,
                    "updated_at": stored.updated_at,
                    "last_accessed_at": stored.last_accessed_at,
                }
            )
    return result
