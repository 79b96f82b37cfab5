"""Downloads and object info: authenticated, public, and the response both share (streamed from
the blob store, with ETag/If-None-Match, Range and `download=` → Content-Disposition)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from email.utils import format_datetime
from functools import partial
from typing import BinaryIO
from urllib.parse import quote

from aiohttp import web

from performer_edge.errors import InvalidInput
from performer_edge.http.middleware import Handler, public
from performer_edge.http.responses import json_response
from performer_edge.rest.compile_context import RequestContext
from performer_edge.storage.api import bucket_and_key, caller, storage_of
from performer_edge.storage.store import StoredObject
from storage_blobs import BlobCorrupt, BlobStore

CHUNK_BYTES = 256 * 1024
SMALL_READ_BYTES = 256 * 1024  # ranges up to this are read at once; larger ones sendfile(2)


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


async def serve_object(
    request: web.Request, stored: StoredObject, content: bytes | None = None
) -> web.StreamResponse:
    """The object's bytes (or its 304/206/416): `content` when the caller already read them
    (`ObjectService.fetch`), else read here, sendfile(2) for large ranges."""
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
    file: BinaryIO | None = None
    if content is not None:
        head: bytes | None = content[start:end]
    else:
        storage = storage_of(request)
        file, head = await storage.fetcher.read(
            stored.blob,
            stored.size,
            partial(_open_blob, storage.blobs, stored.blob, start, end - start),
        )
    try:
        status = 200 if wanted is None else 206
        if wanted is not None:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        if head is not None:
            # Bytes in hand: one Response, its headers and body sent in one write.
            if len(head) != end - start:
                raise BlobCorrupt(stored.blob, "shorter than its object's size")
            response: web.StreamResponse = web.Response(status=status, headers=headers, body=head)
            _set_content_type(response, stored.mimetype)
            return response
        response = web.StreamResponse(status=status, headers=headers)
        _set_content_type(response, stored.mimetype)
        response.content_length = end - start
        await response.prepare(request)  # sends the headers
        if request.method != "HEAD" and end > start:
            assert file is not None
            await send_range(request, response, file, stored.blob, (start, end - start))
        await response.write_eof()
        return response
    finally:
        if file is not None:
            file.close()


def _set_content_type(response: web.StreamResponse, mimetype: str) -> None:
    response.content_type = mimetype.split(";", 1)[0].strip() or "application/octet-stream"
    if ";" in mimetype and "charset=" in mimetype.lower():
        response.charset = mimetype.lower().split("charset=", 1)[1].split(";")[0]


def _open_blob(
    blobs: BlobStore, blob: str, start: int, count: int
) -> tuple[BinaryIO, bytes | None]:
    """The blob's file and, for a small range, its bytes already read (one thread hop)."""
    file = blobs.open(blob)
    if count > SMALL_READ_BYTES:
        return file, None
    try:
        return file, os.pread(file.fileno(), count, start)
    except BaseException:
        file.close()
        raise


async def send_range(
    request: web.Request,
    response: web.StreamResponse,
    file: BinaryIO,
    blob: str,
    window: tuple[int, int],
) -> None:
    """The bytes by sendfile(2) (the kernel copies them, no thread hop per chunk), or chunk
    by chunk where the transport cannot (TLS, or a platform without it)."""
    offset, count = window
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("Connection lost")
    try:
        await asyncio.get_running_loop().sendfile(transport, file, offset, count)
        return
    except NotImplementedError:
        pass
    await asyncio.to_thread(file.seek, offset)
    while count > 0:
        chunk = await asyncio.to_thread(file.read, min(CHUNK_BYTES, count))
        if not chunk:
            raise BlobCorrupt(blob, "shorter than its object's size")
        count -= len(chunk)
        await response.write(chunk)


async def fetch_and_serve(
    request: web.Request, context: RequestContext | None, bucket_id: str, name: str
) -> web.StreamResponse:
    """A download: the object looked up (and, when small, read) in one reader-thread call."""
    objects = storage_of(request).objects
    stored, content = await objects.fetch(context, bucket_id, name, inline=SMALL_READ_BYTES)
    return await serve_object(request, stored, content)


async def download(request: web.Request) -> web.StreamResponse:
    bucket_id, name = bucket_and_key(request, "/object/")
    return await fetch_and_serve(request, caller(request), bucket_id, name)


async def download_authenticated(request: web.Request) -> web.StreamResponse:
    bucket_id, name = bucket_and_key(request, "/object/authenticated/")
    return await fetch_and_serve(request, caller(request), bucket_id, name)


@public
async def download_public(request: web.Request) -> web.StreamResponse:
    bucket_id, name = bucket_and_key(request, "/object/public/")
    return await fetch_and_serve(request, None, bucket_id, name)


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
