"""Drive a `BlobWriter` from a sync iterable or an async iterable of byte chunks.

The async path batches chunks and does every file operation in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable

from storage_blobs.errors import BlobTooLarge, InvalidArgument
from storage_blobs.layout import Layout, validate_hash
from storage_blobs.results import BlobInfo
from storage_blobs.writer import BlobWriter, Chunk, check_chunk, check_max_size

DEFAULT_WRITE_BATCH = 1 << 20
"""The async path hands chunks to a worker thread once this many bytes are queued (1 MiB)."""


def _check_common(max_size: int | None, expected_hash: str | None) -> None:
    check_max_size(max_size)
    if expected_hash is not None:
        validate_hash(expected_hash)


def _reject_bare_bytes(chunks: object) -> None:
    # Iterating bytes yields ints: almost certainly a caller meant put_bytes(data).
    if isinstance(chunks, bytes | bytearray | memoryview | str):
        raise TypeError("put_stream takes an iterable of chunks; use put_bytes(data) for one value")


def put_stream(
    layout: Layout,
    chunks: Iterable[Chunk],
    *,
    max_size: int | None = None,
    expected_hash: str | None = None,
) -> BlobInfo:
    """Store the concatenation of `chunks`; see `BlobStore.put_stream` for the contract."""
    _check_common(max_size, expected_hash)
    _reject_bare_bytes(chunks)
    writer = BlobWriter(layout, max_size=max_size)
    try:
        for chunk in chunks:
            writer.write(chunk)
        return writer.commit(expected_hash)
    except BaseException:
        writer.abort()
        raise


async def put_async(
    layout: Layout,
    chunks: AsyncIterable[Chunk],
    *,
    max_size: int | None = None,
    expected_hash: str | None = None,
    write_batch: int = DEFAULT_WRITE_BATCH,
) -> BlobInfo:
    """Store the concatenation of an async stream of chunks without blocking the event loop.

    At most about `write_batch` bytes (plus one chunk) are held in memory; creating the temp file,
    each batch's hashing and writing, fsync and publishing all run via `asyncio.to_thread`.
    """
    _check_common(max_size, expected_hash)
    _reject_bare_bytes(chunks)
    if isinstance(write_batch, bool) or not isinstance(write_batch, int) or write_batch <= 0:
        raise InvalidArgument(f"write_batch must be a positive int, got {write_batch!r}")
    # The temp file is made by the first batch's worker call, and the last batch is written in
    # the same call that commits: a blob smaller than `write_batch` costs one thread hop.
    writer: BlobWriter | None = None
    admitted = 0
    try:
        pending: list[Chunk] = []
        pending_bytes = 0
        async for chunk in chunks:
            n = check_chunk(chunk)
            if n == 0:
                continue
            if max_size is not None and admitted + n > max_size:
                raise BlobTooLarge(max_size)
            admitted += n
            # Queued until a worker thread writes it: copy mutable buffers the producer may reuse.
            pending.append(chunk if isinstance(chunk, bytes) else bytes(chunk))
            pending_bytes += n
            if pending_bytes >= write_batch:
                batch, pending, pending_bytes = pending, [], 0
                writer = await _write_batch(layout, writer, batch)
        # Runs to the end in its thread even if this task is cancelled meanwhile: it either
        # publishes the blob (unreferenced; gc collects it) or removes its temp file.
        return await asyncio.to_thread(_finish, layout, writer, pending, expected_hash)
    except BaseException:
        # Synchronous on purpose: it waits (briefly) for a write still running in a worker
        # thread, then removes the temp file, even when this task is being cancelled.
        if writer is not None:
            writer.abort()
        raise


def _write(layout: Layout, writer: BlobWriter | None, batch: list[Chunk]) -> BlobWriter:
    writer = writer if writer is not None else BlobWriter(layout)
    try:
        for chunk in batch:
            writer.admit(chunk)  # counted (max_size was checked as the chunks arrived)
        writer.write_admitted(batch)
    except BaseException:
        writer.abort()
        raise
    return writer


async def _write_batch(layout: Layout, writer: BlobWriter | None, batch: list[Chunk]) -> BlobWriter:
    # Shielded so that a cancellation arriving while the worker thread creates the temp file
    # still gets that file removed once it exists, instead of leaving it for cleanup_tmp.
    future = asyncio.ensure_future(asyncio.to_thread(_write, layout, writer, batch))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_abort_created)
        raise


def _finish(
    layout: Layout, writer: BlobWriter | None, batch: list[Chunk], expected_hash: str | None
) -> BlobInfo:
    writer = _write(layout, writer, batch) if batch or writer is None else writer
    try:
        return writer.commit(expected_hash)
    except BaseException:
        writer.abort()
        raise


def _abort_created(future: asyncio.Future[BlobWriter]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().abort()


__all__ = ["DEFAULT_WRITE_BATCH", "put_async", "put_stream"]
