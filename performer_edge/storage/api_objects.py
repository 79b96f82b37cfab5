"""`/storage/v1/object`: upload, update, list, list-v2, move, copy, remove."""

from __future__ import annotations

from typing import Any

import apsw
from aiohttp import web

from performer_edge.errors import PerformerError
from performer_edge.http.responses import json_response
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage import errors, listing
from performer_edge.storage.api import (
    bucket_and_key,
    bucket_param,
    caller,
    int_field,
    json_body,
    storage_of,
)
from performer_edge.storage.paths import check_bucket_id, check_key, check_prefix
from performer_edge.storage.uploads import drain, open_upload, read_small


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


async def store_upload(
    request: web.Request, context: RequestContext, after: str, *, upsert: bool
) -> tuple[str, str, str]:
    """Stream the request's file into `bucket/key` (the path after `after`): (id, bucket, key).
    A refused upload's remaining body is read and dropped, so the client sees the error."""
    try:
        bucket_id, name = bucket_and_key(request, after)
        body = await open_upload(request)
        objects = storage_of(request).objects
        data = await read_small(request, body)
        if data is not None:
            object_id = await objects.upload_bytes(
                context, bucket_id, name, body, data, upsert=upsert
            )
        else:
            object_id = await objects.upload(context, bucket_id, name, body, upsert=upsert)
    except PerformerError:
        await drain(request)
        raise
    return object_id, bucket_id, name


async def upload(request: web.Request) -> web.Response:
    upsert = is_true(request.headers.get("x-upsert"))
    object_id, bucket_id, name = await store_upload(
        request, caller(request), "/object/", upsert=upsert
    )
    return json_response({"Id": object_id, "Key": f"{bucket_id}/{name}"})


async def update(request: web.Request) -> web.Response:
    """PUT replaces the object, creating it if need be (storage-api's upsert upload)."""
    object_id, bucket_id, name = await store_upload(
        request, caller(request), "/object/", upsert=True
    )
    return json_response({"Id": object_id, "Key": f"{bucket_id}/{name}"})


def _sort_by(body: dict[str, Any]) -> tuple[str, str]:
    sort_by = body.get("sortBy") or {}
    if not isinstance(sort_by, dict):
        raise errors.invalid_request("sortBy must be an object")
    column = sort_by.get("column") or "name"
    order = str(sort_by.get("order") or "asc").lower()
    return str(column), order


async def list_objects(request: web.Request) -> web.Response:
    bucket_id = bucket_param(request, "/object/list/")
    body = await json_body(request, optional=True)
    context = caller(request)
    prefix = check_prefix(body.get("prefix"))
    search = body.get("search") or ""
    if not isinstance(search, str):
        raise errors.invalid_request("search must be a string")
    column, order = _sort_by(body)
    limit = int_field(body.get("limit"), "limit", 100, maximum=listing.MAX_LIMIT)
    offset = int_field(body.get("offset"), "offset", 0)
    storage = storage_of(request)

    def read(conn: apsw.Connection) -> list[dict[str, Any]]:
        return listing.list_folder(
            conn,
            storage.access(conn, context),
            bucket_id,
            prefix=prefix,
            search=search,
            limit=limit,
            offset=offset,
            column=column,
            order=order,
        )

    return json_response(await storage.db.read(read))


async def list_objects_v2(request: web.Request) -> web.Response:
    bucket_id = bucket_param(request, "/object/list-v2/")
    body = await json_body(request, optional=True)
    context = caller(request)
    prefix = check_prefix(body.get("prefix"))
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise errors.invalid_request("cursor must be a string")
    column, order = _sort_by(body)
    limit = int_field(body.get("limit"), "limit", listing.MAX_LIMIT, maximum=listing.MAX_LIMIT)
    storage = storage_of(request)

    def read(conn: apsw.Connection) -> dict[str, Any]:
        return listing.list_v2(
            conn,
            storage.access(conn, context),
            bucket_id,
            prefix=prefix,
            limit=max(limit, 1),
            cursor=cursor,
            with_delimiter=bool(body.get("with_delimiter")),
            column=column,
            order=order,
        )

    return json_response(await storage.db.read(read))


def _move_or_copy_fields(body: dict[str, Any]) -> tuple[str, str, str, str]:
    bucket_id = check_bucket_id(body.get("bucketId"))
    source = check_key(body.get("sourceKey"))
    destination = check_key(body.get("destinationKey"))
    destination_bucket = check_bucket_id(body.get("destinationBucket") or bucket_id)
    return bucket_id, source, destination, destination_bucket


async def move(request: web.Request) -> web.Response:
    bucket_id, source, destination, target_bucket = _move_or_copy_fields(await json_body(request))
    object_id = await storage_of(request).objects.move(
        caller(request), bucket_id, source, destination, target_bucket
    )
    return json_response(
        {"message": "Successfully moved", "Id": object_id, "Key": f"{target_bucket}/{destination}"}
    )


async def copy(request: web.Request) -> web.Response:
    body = await json_body(request)
    bucket_id, source, destination, target_bucket = _move_or_copy_fields(body)
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise errors.invalid_request("metadata must be an object")
    if body.get("copyMetadata") is False and metadata is None:
        metadata = {}
    object_id = await storage_of(request).objects.copy(
        caller(request),
        bucket_id,
        source,
        destination,
        target_bucket,
        upsert=is_true(request.headers.get("x-upsert")),
        user_metadata=metadata,
    )
    return json_response({"Id": object_id, "Key": f"{target_bucket}/{destination}"})


async def remove(request: web.Request) -> web.Response:
    bucket_id = bucket_param(request, "/object/")
    body = await json_body(request)
    prefixes = body.get("prefixes")
    if not isinstance(prefixes, list) or not prefixes:
        raise errors.invalid_request("prefixes must be a non-empty list of object keys")
    names = [check_key(name) for name in prefixes]
    removed = await storage_of(request).objects.remove(caller(request), bucket_id, names)
    return json_response([found.row_json() for found in removed])
