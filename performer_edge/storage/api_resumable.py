"""`/storage/v1/upload/resumable`: TUS 1.0.0 uploads as Supabase serves them.

Creation (POST, with `Upload-Length`, `Upload-Metadata` of `bucketName`, `objectName`,
`contentType`, `cacheControl`, optional `metadata`, and `x-upsert`) is checked like an upload:
bucket, mime type, size limit, existing object, policies. PATCHes append at `Upload-Offset`; the
last one stores the object (policies checked again at commit). HEAD gives the offset to resume
from; DELETE abandons the upload. Extensions: creation, creation-with-upload, termination,
expiration. Errors keep their real HTTP status (TUS clients act on it) in the storage shape.

Under `/upload/resumable/sign` the same protocol needs no credentials: every request carries a
signed upload URL's token in `x-signature`, which must be valid, unexpired and made for the
upload's bucket and object; upsert and the owner come from the token, as for `PUT
/object/upload/sign/...`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any

from aiohttp import web

from performer_edge.errors import Conflict, InvalidInput
from performer_edge.http.middleware import public
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage import errors
from performer_edge.storage.api import caller, storage_of
from performer_edge.storage.paths import check_bucket_id, check_key
from performer_edge.storage.resumable import ResumableUpload, upload_not_found
from performer_edge.storage.signing import UPLOAD, uploader_context
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


def signed_principal(claims: Mapping[str, Any]) -> str:
    """Who may continue a signed upload: holders of a token from the same signer (no role is
    named `signed`, so a JWT caller never matches)."""
    owner = claims.get("owner")
    return f"signed:{owner if isinstance(owner, str) else ''}"


def _signature(request: web.Request) -> str:
    token = request.headers.get("x-signature", "").strip()
    if not token:
        raise errors.invalid_signature("missing x-signature header")
    return token


def _signed_claims(request: web.Request, bucket_id: str, name: str) -> Mapping[str, Any]:
    """The x-signature token's claims, if it is a signed upload URL's token for this object."""
    return storage_of(request).signer.verify(_signature(request), UPLOAD, bucket_id, name)


def _find(request: web.Request, *, signed: bool) -> tuple[ResumableUpload, RequestContext]:
    """The upload the request names, and who continues it: the caller, or a signed upload's
    token holder (the token checked against the upload's object, then its signer)."""
    storage = storage_of(request)
    upload_id = request.match_info["upload_id"]
    if not signed:
        context = caller(request)
        return storage.resumable.get(upload_id, principal_key(context)), context
    token = _signature(request)
    upload = storage.resumable.load(upload_id)
    claims = storage.signer.verify(token, UPLOAD, upload.bucket_id, upload.name)
    if upload.principal != signed_principal(claims):
        raise upload_not_found()
    return upload, uploader_context(claims)


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


@public  # capabilities only; storage-api answers OPTIONS without credentials too
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
    return await _create(request, signed=False)


@public
async def create_signed(request: web.Request) -> web.Response:
    return await _create(request, signed=True)


async def _create(request: web.Request, *, signed: bool) -> web.Response:
    storage = storage_of(request)
    length = _non_negative(request, "Upload-Length")
    meta = parse_upload_metadata(request.headers.get("Upload-Metadata"))
    bucket_id = check_bucket_id(meta.get("bucketName"))
    name = check_key(meta.get("objectName"))
    mimetype = meta.get("contentType") or DEFAULT_MIMETYPE
    cache_control = cache_control_value(meta.get("cacheControl"))
    if signed:  # upsert and owner from the token, never from the request's headers
        claims = _signed_claims(request, bucket_id, name)
        context, principal = uploader_context(claims), signed_principal(claims)
        upsert = bool(claims.get("upsert"))
    else:
        context = caller(request)
        principal = principal_key(context)
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
        principal=principal,
    )
    location = f"{request.scheme}://{request.host}{request.path.rstrip('/')}/{upload.id}"
    offset = 0
    if request.content_type == OCTET_STREAM or length == 0:
        offset = await _receive(request, context, upload)
    headers = tus_headers(upload, offset)
    headers["Location"] = location
    return web.Response(status=201, headers=headers)


async def patch(request: web.Request) -> web.Response:
    return await _patch(request, signed=False)


@public
async def patch_signed(request: web.Request) -> web.Response:
    return await _patch(request, signed=True)


async def _patch(request: web.Request, *, signed: bool) -> web.Response:
    if request.content_type != OCTET_STREAM:
        raise InvalidInput(f"Content-Type must be {OCTET_STREAM}", code="unsupported_media_type")
    storage = storage_of(request)
    async with storage.resumable.lock(request.match_info["upload_id"]):
        upload, context = _find(request, signed=signed)
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
    upload, _ = _find(request, signed=False)
    offset = storage_of(request).resumable.offset(upload)
    return web.Response(status=200, headers=tus_headers(upload, offset))


@public
async def head_signed(request: web.Request) -> web.Response:
    upload, _ = _find(request, signed=True)
    offset = storage_of(request).resumable.offset(upload)
    return web.Response(status=200, headers=tus_headers(upload, offset))


async def delete(request: web.Request) -> web.Response:
    return await _delete(request, signed=False)


@public
async def delete_signed(request: web.Request) -> web.Response:
    return await _delete(request, signed=True)


async def _delete(request: web.Request, *, signed: bool) -> web.Response:
    storage = storage_of(request)
    async with storage.resumable.lock(request.match_info["upload_id"]):
        upload, _ = _find(request, signed=signed)
        storage.resumable.remove(upload.id)
    return web.Response(status=204, headers=tus_headers())


def register(app: web.Application, prefix: str) -> None:
    base = f"{prefix}/upload/resumable"
    add = app.router.add_route
    for path in (base, base + "/"):
        add("OPTIONS", path, options)
        add("POST", path, create)
    signed = base + "/sign"
    for path in (signed, signed + "/"):
        add("OPTIONS", path, options)
        add("POST", path, create_signed)
    add("HEAD", signed + "/{upload_id}", head_signed)
    add("PATCH", signed + "/{upload_id}", patch_signed)
    add("DELETE", signed + "/{upload_id}", delete_signed)
    add("OPTIONS", signed + "/{upload_id}", options)
    item = base + "/{upload_id}"
    add("HEAD", item, head)
    add("PATCH", item, patch)
    add("DELETE", item, delete)
    add("OPTIONS", item, options)
