"""Downloads and object info: authenticated, public, and the response both share (streamed from
the blob store, with ETag/If-None-Match, Range and `download=` → Content-Disposition)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import quote

from aiohttp import web

from performer_edge.errors import InvalidInput
from performer_edge.http.middleware import Handler, public
from performer_edge.http.responses import json_response
from performer_edge.storage import errors
from performer_edge.storage.api import bucket_and_key, caller, storage_of
from performer_edge.storage.store import StoredObject
from storage_blobs import BlobNotFound, BlobReader

CHUNK_BYTES = 256 * 1024


class RangeNotSatisfiable(InvalidInput):
    """A Range outside the object: HTTP 416 with `Content-Range: bytes */size`."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range as [start, end); None to serve the whole object (no header, or
    one this server does not honour: several ranges, other units, malformed)."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # bytes=-n: the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            raise _unsatisfiable()
        return max(0, size - count), size
    start = int(first)
    if last and not last.isdigit():
        return None
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable()
    end = size if not last else min(int(last) + 1, size)
    return start, end


def _unsatisfiable() -> RangeNotSatisfiable:
    return RangeNotSatisfiable("Range Not Satisfiable", code="InvalidRange")


def content_disposition(download: str | None) -> str | None:
    """`download=` (empty) → `attachment;`; `download=name` → both filename forms."""
    if download is None:
        return None
    if not download:
        return "attachment;"
    encoded = quote(download, safe="!*'()")
    return f"attachment; filename={encoded}; filename*=UTF-8''{encoded}"


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


def _http_date(iso: str) -> str | None:
    try:
        return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")), usegmt=True)
    except ValueError:
        return None


async def serve_object(request: web.Request, stored: StoredObject) -> web.StreamResponse:
    """The object's bytes (or its 304/206/416), streamed from the blob store chunk by chunk."""
    headers = {
        "ETag": stored.etag,
        "Cache-Control": stored.cache_control,
        "Accept-Ranges": "bytes",
        "X-Robots-Tag": "none",
    }
    modified = _http_date(stored.updated_at)
    if modified:
        headers["Last-Modified"] = modified
    if etag_matches(request.headers.get("If-None-Match"), stored.etag):
        return web.Response(status=304, headers=headers)
    disposition = content_disposition(request.query.get("download"))
    if disposition:
        headers["Content-Disposition"] = disposition
    size = stored.size
    try:
        wanted = parse_range(request.headers.get("Range"), size)
    except RangeNotSatisfiable:
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if wanted is not None else (0, size)
    blobs = storage_of(request).blobs
    try:
        reader: BlobReader = await asyncio.to_thread(
            blobs.get_stream, stored.blob, start, end, CHUNK_BYTES
        )
    except BlobNotFound:
        raise errors.no_such_key() from None
    try:
        response = web.StreamResponse(status=200 if wanted is None else 206, headers=headers)
        if wanted is not None:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        response.content_type = (
            stored.mimetype.split(";", 1)[0].strip() or "application/octet-stream"
        )
        if ";" in stored.mimetype and "charset=" in stored.mimetype.lower():
            response.charset = stored.mimetype.lower().split("charset=", 1)[1].split(";")[0]
        response.content_length = reader.length
        await response.prepare(request)
        if request.method != "HEAD":
            while chunk := await asyncio.to_thread(next, reader, b""):
                await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        reader.close()


async def download(request: web.Request) -> web.StreamResponse:
    bucket_id, name = bucket_and_key(request, "/object/")
    stored = await storage_of(request).objects.find(caller(request), bucket_id, name)
    return await serve_object(request, stored)


async def download_authenticated(request: web.Request) -> web.StreamResponse:
    bucket_id, name = bucket_and_key(request, "/object/authenticated/")
    stored = await storage_of(request).objects.find(caller(request), bucket_id, name)
    return await serve_object(request, stored)


@public
async def download_public(request: web.Request) -> web.StreamResponse:
    bucket_id, name = bucket_and_key(request, "/object/public/")
    stored = await storage_of(request).objects.find(None, bucket_id, name)
    return await serve_object(request, stored)


def _info_handler(after: str, *, public_bucket: bool = False) -> Handler:
    async def info(request: web.Request) -> web.Response:
        bucket_id, name = bucket_and_key(request, after)
        context = None if public_bucket else caller(request)
        stored = await storage_of(request).objects.find(context, bucket_id, name)
        return json_response(stored.info_json())

    return public(info) if public_bucket else info


def register(app: web.Application, prefix: str) -> None:
    add = app.router.add_route
    add("GET", f"{prefix}/object/info/public/{{tail:.+}}", _info_handler(
        "/object/info/public/", public_bucket=True
    ))  # fmt: skip
    add("GET", f"{prefix}/object/info/authenticated/{{tail:.+}}", _info_handler(
        "/object/info/authenticated/"
    ))  # fmt: skip
    add("GET", f"{prefix}/object/info/{{tail:.+}}", _info_handler("/object/info/"))
    for method in ("GET", "HEAD"):
        add(method, f"{prefix}/object/public/{{tail:.+}}", download_public)
        add(method, f"{prefix}/object/authenticated/{{tail:.+}}", download_authenticated)
        add(method, f"{prefix}/object/{{tail:.+}}", download)
