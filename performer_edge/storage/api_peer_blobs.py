"""`GET|HEAD /performer/v1/blobs/{sha256}`: a blob, by its hash, for the cluster's other nodes.

Only a member's node-signed request is served (`PeerBlobs.authenticate`: 401 without or with a
bad signature, 403 for a key the cluster does not admit); a node that belongs to no cluster
answers 503. Unknown hash: 404 `blob_not_found`. One `Range: bytes=a-b` is honoured (206).
The bytes are sent as stored; the fetching node verifies them against the hash.
"""

from __future__ import annotations

import asyncio
from typing import BinaryIO

from aiohttp import web

from performer_edge.errors import InvalidInput, NotFound, Unavailable
from performer_edge.http.middleware import public
from performer_edge.storage.api import storage_of
from performer_edge.storage.api_download import RangeNotSatisfiable, parse_range, send_range
from performer_edge.storage.peer_fetch import BLOB_PATH
from storage_blobs import BlobNotFound, BlobStore, is_hash


def _open(blobs: BlobStore, blob: str) -> tuple[BinaryIO, int]:
    file = blobs.open(blob)
    try:
        file.seek(0, 2)
        return file, file.tell()
    except BaseException:
        file.close()
        raise


@public  # no API key: the node-signed request is the credential
async def serve_blob(request: web.Request) -> web.StreamResponse:
    storage = storage_of(request)
    peers = storage.fetcher.peers
    if peers is None:
        raise Unavailable("this node belongs to no cluster", code="sync_unavailable")
    peers.authenticate(request.headers, request.method, request.raw_path)
    blob = request.match_info["hash"]
    if not is_hash(blob):
        raise InvalidInput("a blob is named by 64 lowercase hex digits", code="invalid_hash")
    try:
        file, size = await asyncio.to_thread(_open, storage.blobs, blob)
    except BlobNotFound:
        raise NotFound("this node does not hold that blob", code="blob_not_found") from None
    try:
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
        try:
            wanted = parse_range(request.headers.get("Range"), size)
        except RangeNotSatisfiable:
            return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        start, end = wanted if wanted is not None else (0, size)
        response = web.StreamResponse(status=200 if wanted is None else 206, headers=headers)
        if wanted is not None:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        response.content_type = "application/octet-stream"
        response.content_length = end - start
        await response.prepare(request)
        if request.method != "HEAD" and end > start:
            await send_range(request, response, file, blob, (start, end - start))
        await response.write_eof()
        return response
    finally:
        file.close()


def register(app: web.Application) -> None:
    for method in ("GET", "HEAD"):
        app.router.add_route(method, BLOB_PATH + "{hash}", serve_blob)
