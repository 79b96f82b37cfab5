"""`/storage/v1/render/image/{authenticated,public,sign}/...`: transformed images.

Access is the download's: the caller's policies, a public bucket, or a signed URL (whose token
may carry the transformation). A JPEG, PNG or WebP source is transformed (`render`) once per
content hash, transformation and output format, then served from `render_cache`; other types
are served as they are, as storage-api does for what imgproxy cannot read. Without `format`,
the output format follows the request's Accept header, so those answers say `Vary: Accept`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import partial
from typing import Any

from aiohttp import web

from performer_edge.http.middleware import public
from performer_edge.storage import errors
from performer_edge.storage.api import bucket_and_key, caller, storage_of
from performer_edge.storage.api_download import content_disposition, etag_matches, serve_object
from performer_edge.storage.component import StorageComponent
from performer_edge.storage.render import (
    MAX_SOURCE_BYTES,
    MIME_OF,
    RASTER_TYPES,
    Transform,
    output_format,
    parse_transform,
    transform_image,
)
from performer_edge.storage.signing import DOWNLOAD, uploader_context
from performer_edge.storage.store import StoredObject

# Transformations decode whole images: at most this many at once, to bound memory and CPU.
_RENDERING = threading.BoundedSemaphore(2)


def _rendered(
    storage: StorageComponent, stored: StoredObject, transform: Transform, target: str
) -> bytes:
    key = transform.key(target)
    cached = storage.renders.get(stored.blob, key)
    if cached is not None:
        return cached
    with _RENDERING:
        with storage.blobs.open(stored.blob) as file:
            source = file.read(MAX_SOURCE_BYTES + 1)
        data = transform_image(source, stored.mimetype, transform, target)
    storage.renders.put(stored.blob, key, data)
    return data


async def render(
    request: web.Request, stored: StoredObject, transform: Transform
) -> web.StreamResponse:
    mimetype = stored.mimetype.split(";", 1)[0].strip().lower()
    if mimetype not in RASTER_TYPES:
        return await serve_object(request, stored)
    if stored.size > MAX_SOURCE_BYTES:
        raise errors.invalid_request("the image is too large to transform (25 MB at most)")
    target = output_format(transform, mimetype, request.headers.get("Accept"))
    etag = f'"{stored.blob}-{transform.key(target)}"'
    headers = {"ETag": etag, "Cache-Control": stored.cache_control, "X-Robots-Tag": "none"}
    if transform.format is None:  # the format was chosen by the Accept header
        headers["Vary"] = "Accept"
    if etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    disposition = content_disposition(request.query.get("download"))
    if disposition:
        headers["Content-Disposition"] = disposition
    storage = storage_of(request)
    data = await storage.fetcher.read(
        stored.blob, stored.size, partial(_rendered, storage, stored, transform, target)
    )
    return web.Response(body=data, content_type=MIME_OF[target], headers=headers)


async def render_authenticated(request: web.Request) -> web.StreamResponse:
    transform = parse_transform(request.query)
    bucket_id, name = bucket_and_key(request, "/render/image/authenticated/")
    stored = await storage_of(request).objects.find(caller(request), bucket_id, name)
    return await render(request, stored, transform)


@public
async def render_public(request: web.Request) -> web.StreamResponse:
    transform = parse_transform(request.query)
    bucket_id, name = bucket_and_key(request, "/render/image/public/")
    stored = await storage_of(request).objects.find(None, bucket_id, name)
    return await render(request, stored, transform)


@public
async def render_signed(request: web.Request) -> web.StreamResponse:
    bucket_id, name = bucket_and_key(request, "/render/image/sign/")
    storage = storage_of(request)
    claims = storage.signer.verify(request.query.get("token"), DOWNLOAD, bucket_id, name)
    signed: Any = claims.get("transform")
    params: Mapping[str, Any] = signed if isinstance(signed, dict) else request.query
    transform = parse_transform(params)
    stored = await storage.objects.find(uploader_context({}), bucket_id, name)
    return await render(request, stored, transform)


def register(app: web.Application, prefix: str) -> None:
    add = app.router.add_route
    for method in ("GET", "HEAD"):
        add(method, f"{prefix}/render/image/authenticated/{{tail:.+}}", render_authenticated)
        add(method, f"{prefix}/render/image/public/{{tail:.+}}", render_public)
        add(method, f"{prefix}/render/image/sign/{{tail:.+}}", render_signed)
