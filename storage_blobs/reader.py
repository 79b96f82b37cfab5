"""Reading blobs: range resolution (half-open `[start, end)`) and a chunked range iterator.

The iterator reads from a descriptor opened up front, so a concurrent delete cannot cut it short.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from storage_blobs.errors import BlobCorrupt, BlobNotFound, InvalidArgument, InvalidRange
from storage_blobs.layout import Layout, validate_hash
from storage_blobs.writer import validate_chunk_size

DEFAULT_CHUNK_SIZE = 65536


def resolve_range(size: int, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """Resolve `[start, end)` against a blob of `size` bytes to concrete offsets.

    `end` is exclusive, like a Python slice; None means "to the end", and an `end` past the size
    is clamped to it (as HTTP clamps a last-byte-pos). `start == size` yields an empty range.
    Raises `InvalidRange` for a negative `start`, `start > size`, or `end < start`.
    HTTP `bytes=a-b` is `start=a, end=b+1`; `bytes=a-` is `start=a`; `bytes=-n` is
    `start=max(0, size-n)`. HTTP answers 416 when `start >= size` on a non-empty blob: check that
    before calling if you need it.
    """
    for value in (start, end):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidRange(start, end, size)
    if start < 0 or start > size:
        raise InvalidRange(start, end, size)
    stop = size if end is None else min(end, size)
    if end is not None and end < start:
        raise InvalidRange(start, end, size)
    return start, stop


def open_blob(layout: Layout, blob_hash: str) -> BinaryIO:
    """Open a stored blob for binary reading; `BlobNotFound` if absent."""
    try:
        fd = layout.open_fd(blob_hash)
    except FileNotFoundError:
        raise BlobNotFound(blob_hash) from None
    return os.fdopen(fd, "rb")


def read_bytes(layout: Layout, blob_hash: str, start: int, count: int) -> bytes:
    """Up to `count` bytes of a blob from `start`, in one pread; `BlobNotFound` if absent."""
    validate_hash(blob_hash)
    for value in (start, count):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"start and count must be ints >= 0, got {start!r}, {count!r}")
    try:
        fd = layout.open_fd(blob_hash)
    except FileNotFoundError:
        raise BlobNotFound(blob_hash) from None
    try:
        return os.pread(fd, count, start)
    finally:
        os.close(fd)


class BlobReader(Iterator[bytes]):
    """Yields the bytes of `[start, end)` of one blob in chunks of at most `chunk_size`.

    Also a context manager; the file is closed at exhaustion, on `close()`, or on exit. The blob
    was opened when the reader was made, so it reads the full range even if the blob is deleted
    meanwhile (POSIX semantics). A file shorter than expected raises `BlobCorrupt`.
    """

    def __init__(
        self, file: BinaryIO, blob_hash: str, start: int, end: int | None, chunk_size: int
    ) -> None:
        validate_chunk_size(chunk_size)
        self.hash = blob_hash
        self.size = os.fstat(file.fileno()).st_size
        self.start, self.end = resolve_range(self.size, start, end)
        self._file: BinaryIO | None = file
        self._remaining = self.end - self.start
        self._chunk_size = chunk_size
        if self._remaining:
            file.seek(self.start)
        else:
            self.close()

    @property
    def length(self) -> int:
        """Number of bytes in the range (what an HTTP Content-Length would say)."""
        return self.end - self.start

    def __iter__(self) -> BlobReader:
        return self

    def __next__(self) -> bytes:
        file = self._file
        if file is None or self._remaining <= 0:
            self.close()
            raise StopIteration
        data = file.read(min(self._chunk_size, self._remaining))
        if not data:
            self.close()
            raise BlobCorrupt(self.hash, "file is shorter than its recorded size")
        self._remaining -= len(data)
        if self._remaining <= 0:
            self.close()
        return data

    def close(self) -> None:
        """Release the file. Further iteration yields nothing."""
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_range(
    layout: Layout,
    blob_hash: str,
    start: int = 0,
    end: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> BlobReader:
    """Open a blob and return a `BlobReader` over `[start, end)`; errors are raised eagerly."""
    validate_chunk_size(chunk_size)
    file = open_blob(layout, blob_hash)
    try:
        return BlobReader(file, blob_hash, start, end, chunk_size)
    except BaseException:
        file.close()
        raise


__all__ = ["DEFAULT_CHUNK_SIZE", "BlobReader", "open_blob", "read_range", "resolve_range"]
