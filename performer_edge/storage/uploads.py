"""Upload request bodies, in the three encodings the clients send (supabase-wire.md §3.2):

1. storage3 multipart: fields `cacheControl`, `metadata`, then the part named `file`;
2. storage-js raw body: the bytes, with `content-type`, `cache-control` and base64 `x-metadata`;
3. storage-js multipart: fields, then a part with an empty name (`name=""; filename="blob"`).

The file's bytes are not read here: `UploadBody.chunks` streams them from the socket (or
`read_small` reads those of a small request at once).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import BodyPartReader, MultipartReader, web

from performer_edge.storage import errors

CHUNK_BYTES = 256 * 1024
SMALL_UPLOAD_BYTES = 256 * 1024  # read whole, then checked and stored in one thread call
MAX_FIELD_BYTES = 64 * 1024
DEFAULT_MIMETYPE = "application/octet-stream"
DEFAULT_CACHE_CONTROL = "no-cache"
_FIELDS = ("cacheControl", "metadata", "userMetadata", "contentType", "contentEncoding")


@dataclass
class UploadBody:
    mimetype: str
    cache_control: str
    user_metadata: Any
    chunks: AsyncIterator[bytes]


def cache_control_value(raw: str | None) -> str:
    """`3600` (what both clients send by default) means `max-age=3600`; other text is kept."""
    if raw is None or not raw.strip():
        return DEFAULT_CACHE_CONTROL
    value = raw.strip()
    return f"max-age={value}" if value.isdigit() else value


def parse_metadata_json(text: str | None) -> Any:
    """User metadata sent as JSON text: an object, or None when absent."""
    if text is None or not text.strip():
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise errors.invalid_request("metadata must be a JSON object") from None
    if not isinstance(value, dict):
        raise errors.invalid_request("metadata must be a JSON object")
    return value


def _header_metadata(header: str | None) -> Any:
    if header is None:
        return None
    try:
        text = base64.b64decode(header, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise errors.invalid_request("x-metadata must be base64 of a JSON object") from None
    return parse_metadata_json(text)


async def _raw_chunks(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        yield chunk


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK_BYTES):
        yield chunk


async def _field_text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(MAX_FIELD_BYTES):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise errors.invalid_request(f"form field {part.name!r} is too long")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.invalid_request(f"form field {part.name!r} is not UTF-8 text") from None


async def open_upload(request: web.Request) -> UploadBody:
    """Read what comes before the file's bytes; the bytes stay on the wire for `chunks`."""
    if request.content_type == "multipart/form-data":
        return await _open_multipart(request)
    return UploadBody(
        mimetype=request.headers.get("Content-Type") or DEFAULT_MIMETYPE,
        cache_control=cache_control_value(request.headers.get("Cache-Control")),
        user_metadata=_header_metadata(request.headers.get("x-metadata")),
        chunks=_raw_chunks(request),
    )


async def _open_multipart(request: web.Request) -> UploadBody:
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError) as exc:  # aiohttp asserts on a missing boundary
        raise errors.invalid_request(f"malformed multipart body: {exc}") from None
    fields: dict[str, str] = {}
    while True:
        try:
            part = await reader.next()
        except ValueError as exc:
            raise errors.invalid_request(f"malformed multipart body: {exc}") from None
        if part is None:
            raise errors.invalid_request("the multipart body has no file part")
        if isinstance(part, MultipartReader):
            raise errors.invalid_request("nested multipart bodies are not accepted")
        if part.filename is not None or part.name in (None, "", "file"):
            break
        if part.name in _FIELDS:
            fields[part.name] = await _field_text(part)
        else:
            await part.release()
    mimetype = fields.get("contentType") or part.headers.get("Content-Type") or DEFAULT_MIMETYPE
    metadata = fields.get("metadata", fields.get("userMetadata"))
    return UploadBody(
        mimetype=mimetype,
        cache_control=cache_control_value(fields.get("cacheControl")),
        user_metadata=parse_metadata_json(metadata),
        chunks=_part_chunks(part),
    )


async def read_small(request: web.Request, body: UploadBody) -> bytes | None:
    """The file's bytes when the whole request body is at most `SMALL_UPLOAD_BYTES` (as its
    Content-Length says), else None: its bytes then stream into the blob store as they come."""
    length = request.content_length
    if length is None or length > SMALL_UPLOAD_BYTES:
        return None
    return b"".join([chunk async for chunk in body.chunks])


async def drain(request: web.Request, limit: int = 64 * 1024 * 1024) -> None:
    """Read and drop what is left of a refused upload, so the client gets to read our answer
    instead of a reset connection (up to `limit` bytes; past that the connection closes)."""
    remaining = limit
    while remaining > 0:
        chunk = await request.content.readany()
        if not chunk:
            return
        remaining -= len(chunk)
