"""One upload in progress: a temp file in `root/tmp/`, hashed as written, published atomically.

A blob becomes visible only by a hard link (or rename) of a complete, fsynced file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, TypeAlias

from storage_blobs.errors import BlobStoreError, BlobTooLarge, HashMismatch, InvalidArgument
from storage_blobs.layout import PUT_PREFIX, Layout, fsync_dir, fsync_fd
from storage_blobs.results import BlobInfo

Chunk: TypeAlias = bytes | bytearray | memoryview
"""A piece of an upload: any contiguous bytes-like value (memoryviews of format "B")."""

BLOB_MODE = 0o444
"""Published blobs are read-only: they are immutable by construction."""

# errnos meaning "this filesystem cannot hard-link"; publishing then falls back to rename.
_NO_LINK_ERRNOS = frozenset(
    code
    for code in (
        errno.EPERM,
        errno.EMLINK,
        errno.ENOSYS,
        getattr(errno, "ENOTSUP", None),
        getattr(errno, "EOPNOTSUPP", None),
    )
    if code is not None
)


def check_max_size(max_size: int | None) -> None:
    """Reject a negative or non-integer `max_size` (None means unlimited)."""
    if max_size is not None and (isinstance(max_size, bool) or max_size < 0):
        raise InvalidArgument(f"max_size must be None or >= 0, got {max_size!r}")


def check_chunk(chunk: object) -> int:
    """Return the byte length of a bytes-like chunk; raise TypeError for anything else."""
    if isinstance(chunk, bytes | bytearray):
        return len(chunk)
    if isinstance(chunk, memoryview):
        return chunk.nbytes
    raise TypeError(f"blob chunks must be bytes-like, got {type(chunk).__name__}")


class BlobWriter:
    """Streams chunks to a private temp file while hashing them; then `commit` or `abort`.

    Methods are serialised by an internal lock, so `abort` called from one thread (e.g. the event
    loop, on cancellation) waits for a `write` running in another instead of racing it.
    """

    def __init__(self, layout: Layout, *, max_size: int | None = None) -> None:
        check_max_size(max_size)
        self._layout = layout
        self._max_size = max_size
        self._admitted = 0
        self._hasher = hashlib.sha256()
        self._lock = threading.Lock()
        self._done = False
        # A bare descriptor, not a buffered file object: chunks are written as they come (no
        # buffer to flush), and opening one costs no fstat, isatty or seek.
        self._fd, name = tempfile.mkstemp(prefix=PUT_PREFIX, suffix=".tmp", dir=layout.tmp)
        self.temp_path = Path(name)

    @property
    def size(self) -> int:
        """Bytes admitted so far (written, or queued to be written by the async path)."""
        return self._admitted

    def admit(self, chunk: Chunk) -> int:
        """Count `chunk` against `max_size` before it is written; raise `BlobTooLarge` past it."""
        n = check_chunk(chunk)
        if self._max_size is not None and self._admitted + n > self._max_size:
            raise BlobTooLarge(self._max_size)
        self._admitted += n
        return n

    def write_admitted(self, chunks: list[Chunk]) -> None:
        """Hash and append chunks already counted by `admit`."""
        with self._lock:
            self._check_open()
            for chunk in chunks:
                self._hasher.update(chunk)
                _write_all(self._fd, chunk)

    def write(self, chunk: Chunk) -> None:
        """`admit` then write one chunk (the synchronous path)."""
        if self.admit(chunk):
            self.write_admitted([chunk])

    def commit(self, expected_hash: str | None = None) -> BlobInfo:
        """Check the hash, fsync, and publish the blob at `root/ab/cd/<hash>` (or dedup).

        On `HashMismatch` the temp file is removed and nothing is published.
        """
        with self._lock:
            self._check_open()
            actual = self._hasher.hexdigest()
            if expected_hash is not None and expected_hash != actual:
                self._abort_locked()
                raise HashMismatch(expected_hash, actual)
            try:
                os.fchmod(self._fd, BLOB_MODE)
                # mtime = publish time, so gc's grace period starts now even if the stream
                # paused after its last byte.
                os.utime(self._fd)
                fsync_fd(self._fd)
                self._close()
                created = publish(self._layout, self.temp_path, actual)
            except BaseException:
                self._abort_locked()
                raise
            self._done = True
            return BlobInfo(hash=actual, size=self._admitted, deduplicated=not created)

    def abort(self) -> None:
        """Close and remove the temp file. Idempotent; never raises for filesystem errors."""
        with self._lock:
            self._abort_locked()

    def _abort_locked(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._close()
        with contextlib.suppress(OSError):
            self.temp_path.unlink()

    def _close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def _check_open(self) -> None:
        if self._done:
            raise BlobStoreError("this upload was already committed or aborted")


def _write_all(fd: int, chunk: Chunk) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]


def publish(layout: Layout, temp_path: Path, blob_hash: str) -> bool:
    """Make the complete, fsynced `temp_path` visible as blob `blob_hash`; True if newly created.

    Uses `link` (fails if the blob exists, never clobbers) so that concurrent identical uploads
    dedup onto one file. On dedup the existing blob's mtime is refreshed so that gc's grace
    period protects it anew; if gc removed it in between, the link is retried. The temp name is
    removed in every successful case.
    """
    directory, parents = layout.ensure_fanout(blob_hash)
    dest = layout.blob_path(blob_hash)
    created: bool
    while True:
        try:
            os.link(temp_path, dest)
        except FileExistsError:
            if layout.refresh(blob_hash):
                created = False
                break
            continue  # gc or delete removed it (or it was a link) since our link: again.
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise
            created = _publish_by_rename(layout, temp_path, blob_hash)
            break
        created = True
        break
    fsync_dir(directory)
    layout.sync_fanout(blob_hash, parents)
    with contextlib.suppress(FileNotFoundError):
        temp_path.unlink()
    return created


def _publish_by_rename(layout: Layout, temp_path: Path, blob_hash: str) -> bool:
    # Fallback for filesystems without hard links: check-then-rename. Two racing identical
    # uploads may both rename; the later atomically replaces the earlier with equal bytes.
    if layout.refresh(blob_hash):
        return False
    os.replace(temp_path, layout.blob_path(blob_hash))
    return True


def hash_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """sha256 hex of a file's current bytes, read in chunks."""
    validate_chunk_size(chunk_size)
    with path.open("rb") as f:
        return hash_stream(f, chunk_size)


def hash_stream(file: BinaryIO, chunk_size: int = 1 << 20) -> str:
    """sha256 hex of what is left to read in an open binary file."""
    hasher = hashlib.sha256()
    while chunk := file.read(chunk_size):
        hasher.update(chunk)
    return hasher.hexdigest()


def validate_chunk_size(chunk_size: int) -> None:
    """Reject a chunk size that is not a positive integer."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise InvalidArgument(f"chunk_size must be a positive int, got {chunk_size!r}")


__all__ = [
    "BLOB_MODE",
    "BlobWriter",
    "Chunk",
    "check_chunk",
    "check_max_size",
    "hash_file",
    "hash_stream",
    "publish",
    "validate_chunk_size",
]
