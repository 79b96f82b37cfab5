"""`/storage/v1`: route table, request helpers, and the bucket endpoints.

Objects are in `api_objects`, downloads in `api_download`, signed URLs in `api_signed`. Object
keys are taken from the raw request path and checked by `paths` (never from aiohttp's decoded
match, which would hide a `%2e%2e` or invalid UTF-8). Errors are rendered by `http.wire`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from performer_edge.http.responses import json_response, read_json
from performer_edge.rest.api import context_of
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage import errors
from performer_edge.storage.paths import check_bucket_id, decode_path_bytes, split_bucket_and_key

if TYPE_CHECKING:
    from performer_edge.storage.component import StorageComponent

STORAGE: web.AppKey[StorageComponent] = web.AppKey("performer_storage")
PREFIX = "/storage/v1"


def storage_of(request: web.Request) -> StorageComponent:
    return request.app[STORAGE]


def caller(request: web.Request) -> RequestContext:
    return context_of(request)


def raw_tail(request: web.Request, after: str) -> str:
    """What follows `PREFIX + after` in the raw (still percent-encoded) request path."""
    raw = request.raw_path
    if not raw.startswith("/"):
        raw = urlsplit(raw).path  # an absolute-form request target
    raw = raw.split("?", 1)[0]
    start = len(PREFIX + after)
    return raw[start:]


def bucket_and_key(request: web.Request, after: str) -> tuple[str, str]:
    return split_bucket_and_key(raw_tail(request, after))


def bucket_param(request: web.Request, after: str = "/bucket/") -> str:
    """The bucket id that follows `after` in the raw path."""
    return check_bucket_id(decode_path_bytes(raw_tail(request, after).split("/", 1)[0]))


async def json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    if optional and not request.can_read_body:
        return {}
    if optional:
        raw = await request.read()
        if not raw.strip():
            return {}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise errors.invalid_request("the request body must be a JSON object")
    return body


def int_field(value: Any, name: str, default: int, *, maximum: int | None = None) -> int:
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.invalid_request(f"{name} must be a whole number >= 0")
    return value if maximum is None else min(value, maximum)


# -- buckets ------------------------------------------------------------------------------------


async def list_buckets(request: web.Request) -> web.Response:
    query = request.query
    column = query.get("sortColumn", "id")
    if column not in ("id", "name", "created_at", "updated_at"):
        raise errors.invalid_request("sortColumn must be id, name, created_at or updated_at")
    limit = query.get("limit")
    found = await storage_of(request).buckets.list(
        caller(request),
        limit=None if limit is None else int_field(limit, "limit", 0),
        offset=int_field(query.get("offset"), "offset", 0),
        sort_column=column,
        descending=query.get("sortOrder", "asc").lower() == "desc",
        search=query.get("search", ""),
    )
    return json_response([bucket.to_json() for bucket in found])


async def get_bucket(request: web.Request) -> web.Response:
    bucket = await storage_of(request).buckets.get(caller(request), bucket_param(request))
    return json_response(bucket.to_json())


async def create_bucket(request: web.Request) -> web.Response:
    body = await json_body(request)
    created = await storage_of(request).buckets.create(caller(request), body)
    return json_response({"name": created})


async def update_bucket(request: web.Request) -> web.Response:
    body = await json_body(request)
    await storage_of(request).buckets.update(caller(request), bucket_param(request), body)
    return json_response({"message": "Successfully updated"})


async def empty_bucket(request: web.Request) -> web.Response:
    await storage_of(request).buckets.empty(caller(request), bucket_param(request))
    return json_response({"message": "Successfully emptied"})


async def delete_bucket(request: web.Request) -> web.Response:
    await storage_of(request).buckets.delete(caller(request), bucket_param(request))
    return json_response({"message": "Successfully deleted"})


def register(app: web.Application) -> None:
    from performer_edge.storage import (
        api_download,
        api_objects,
        api_render,
        api_resumable,
        api_signed,
    )

    add = app.router.add_route
    add("GET", f"{PREFIX}/bucket", list_buckets)
    add("GET", f"{PREFIX}/bucket/", list_buckets)
    add("POST", f"{PREFIX}/bucket", create_bucket)
    add("POST", f"{PREFIX}/bucket/", create_bucket)
    add("POST", f"{PREFIX}/bucket/{{bucket}}/empty", empty_bucket)
    add("GET", f"{PREFIX}/bucket/{{bucket}}", get_bucket)
    add("PUT", f"{PREFIX}/bucket/{{bucket}}", update_bucket)
    add("DELETE", f"{PREFIX}/bucket/{{bucket}}", delete_bucket)
    # Specific object routes first: aiohttp tries routes in the order they were added.
    add("POST", f"{PREFIX}/object/list/{{bucket}}", api_objects.list_objects)
    add("POST", f"{PREFIX}/object/list-v2/{{bucket}}", api_objects.list_objects_v2)
    add("POST", f"{PREFIX}/object/move", api_objects.move)
    add("POST", f"{PREFIX}/object/copy", api_objects.copy)
    api_signed.register(app, PREFIX)
    api_resumable.register(app, PREFIX)
    api_render.register(app, PREFIX)
    api_download.register(app, PREFIX)
    add("POST", f"{PREFIX}/object/{{tail:.+}}", api_objects.upload)
    add("PUT", f"{PREFIX}/object/{{tail:.+}}", api_objects.update)
    add("DELETE", f"{PREFIX}/object/{{bucket}}", api_objects.remove)
