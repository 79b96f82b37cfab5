"""`/storage/v1/upload/resumable`: TUS 1.0.0 uploads as Supabase serves them.

Creation (POST, with `Upload-Length`, `Upload-Metadata` of `bucketName`, `objectName`,
`contentType`, `cacheControl`, optional `metadata`, and `x-upsert`) is checked like an upload:
bucket, mime type, size limit, existing object, policies. PATCHes append at `Upload-Offset`; the
last one stores the object (policies checked again at commit). HEAD gives the offset to resume
from; DELETE abandons the upload. Extensions: creation, creation-with-upload, termination,
expiration. Errors keep their real HTTP status (TUS clients act on it) in the storage shape.
"""

from __future__ import annotations

import base64
import binascii
from email.utils import formatdate

from aiohttp import web

from performer_edge.errors import Conflict, InvalidInput
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage import errors
from performer_edge.storage.api import caller, storage_of
from performer_edge.storage.paths import check_bucket_id, check_key
from performer_edge.storage.resumable import ResumableUpload
from performer_edge.storage.uploads import (
    CHUNK_BYTES,
    DEFAULT_MIMETYPE,
    UploadBody,
    cache_control_value,
    parse_metadata_json,
)

TUS_VERSION = "1.0.0"
OCTET_STREAM = "application/offset+octet-stream"
EXTENSIONS = "creation,creation-with-upload,termination,expiration"
MAX_METADATA_BYTES = 16 * 1024


def principal_key(context: RequestContext) -> str:
    return f"{context.role}:{context.uid or ''}"


def parse_upload_metadata(header: str | None) -> dict[str, str]:
    """`key base64,key base64,...` (TUS `Upload-Metadata`), values decoded as UTF-8."""
    if not header:
        raise errors.invalid_request("Upload-Metadata with bucketName and objectName is required")
    if len(header) > MAX_METADATA_BYTES:
        raise errors.invalid_request("Upload-Metadata is too long")
    values: dict[str, str] = {}
    for pair in header.split(","):
        key, _, encoded = pair.strip().partition(" ")
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise errors.invalid_request(f"Upload-Metadata {key!r} is not base64 text") from None
    return values


def _non_negative(request: web.Request, header: str) -> int:
    raw = request.headers.get(header, "")
    if not raw.isdigit():
        raise errors.invalid_request(f"{header} must be a whole number >= 0")
    return int(raw)


def tus_headers(upload: ResumableUpload | None = None, offset: int | None = None) -> dict[str, str]:
    headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
    if offset is not None:
        headers["Upload-Offset"] = str(offset)
    if upload is not None:
        headers["Upload-Length"] = str(upload.length)
        headers["Upload-Expires"] = formatdate(upload.expires_at, usegmt=True)
    return headers


async def options(request: web.Request) -> web.Response:
    headers = tus_headers()
    headers.update(
        {
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(storage_of(request).max_file_bytes),
        }
    )
    return web.Response(status=204, headers=headers)


async def create(request: web.Request) -> web.Response:
    context = caller(request)
    storage = storage_of(request)
    length = _non_negative(request, "Upload-Length")
    meta = parse_upload_metadata(request.headers.get("Upload-Metadata"))
    bucket_id = check_bucket_id(meta.get("bucketName"))
    name = check_key(meta.get("objectName"))
    mimetype = meta.get("contentType") or DEFAULT_MIMETYPE
    cache_control = cache_control_value(meta.get("cacheControl"))
    upsert = request.headers.get("x-upsert", "").strip().lower() == "true"
    limit = await storage.objects.check_upload(
        context, bucket_id, name, mimetype, cache_control, upsert=upsert
    )
    if length > limit:
        raise errors.entity_too_large()
    upload = storage.resumable.create(
        bucket_id=bucket_id,
        name=name,
        length=length,
        mimetype=mimetype,
        cache_control=cache_control,
        user_metadata=parse_metadata_json(meta.get("metadata")),
        upsert=upsert,
        principal=principal_key(context),
    )
    location = f"{request.scheme}://{request.host}{request.path.rstrip('/')}/{upload.id}"
    offset = 0
    if request.content_type == OCTET_STREAM or length == 0:
        offset = await _receive(request, context, upload)
    headers = tus_headers(upload, offset)
    headers["Location"] = location
    return web.Response(status=201, headers=headers)


async def patch(request: web.Request) -> web.Response:
    context = caller(request)
    if request.content_type != OCTET_STREAM:
        raise InvalidInput(f"Content-Type must be {OCTET_STREAM}", code="unsupported_media_type")
    storage = storage_of(request)
    upload_id = request.match_info["upload_id"]
    async with storage.resumable.lock(upload_id):
        upload = storage.resumable.get(upload_id, principal_key(context))
        claimed = _non_negative(request, "Upload-Offset")
        offset = storage.resumable.offset(upload)
        if claimed != offset:
            raise Conflict(
                f"Upload-Offset {claimed} does not match the upload's offset {offset}",
                code="InvalidUploadOffset",
            )
        offset = await _receive(request, context, upload)
    return web.Response(status=204, headers=tus_headers(upload, offset))


async def _receive(request: web.Request, context: RequestContext, upload: ResumableUpload) -> int:
    """Append the body; once the upload is complete, store the object. The new offset."""
    storage = storage_of(request)
    offset = await storage.resumable.append(upload, request.content.iter_chunked(CHUNK_BYTES))
    if offset < upload.length:
        return offset
    body = UploadBody(
        upload.mimetype, upload.cache_control, upload.user_metadata, storage.resumable.read(upload)
    )
    try:
        await storage.objects.upload(
            context, upload.bucket_id, upload.name, body, upsert=upload.upsert
        )
    finally:
        storage.resumable.remove(upload.id)  # stored, or refused for good (policy, conflict)
    return offset


async def head(request: web.Request) -> web.Response:
    storage = storage_of(request)
    upload = storage.resumable.get(request.match_info["upload_id"], principal_key(caller(request)))
    return web.Response(status=200, headers=tus_headers(upload, storage.resumable.offset(upload)))


async def delete(request: web.Request) -> web.Response:
    storage = storage_of(request)
    upload_id = request.match_info["upload_id"]
    async with storage.resumable.lock(upload_id):
        storage.resumable.get(upload_id, principal_key(caller(request)))
        storage.resumable.remove(upload_id)
    return web.Response(status=204, headers=tus_headers())


def register(app: web.Application, prefix: str) -> None:
    base = f"{prefix}/upload/resumable"
    add = app.router.add_route
    for path in (base, base + "/"):
        add("OPTIONS", path, options)
        add("POST", path, create)
    item = base + "/{upload_id}"
    add("HEAD", item, head)
    add("PATCH", item, patch)
    add("DELETE", item, delete)
    add("OPTIONS", item, options)
