"""`BlobStore`: the public facade over one root directory of content-addressed blobs.

Every method validates hashes before touching the filesystem; see CONTRACT.md for guarantees.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from storage_blobs import ingest, maintenance, reader
from storage_blobs.errors import BlobNotFound
from storage_blobs.layout import Layout, fsync_dir
from storage_blobs.maintenance import Referenced
from storage_blobs.reader import BlobReader
from storage_blobs.results import BlobInfo, GcReport, TmpCleanupReport, VerifyReport
from storage_blobs.writer import Chunk


class BlobStore:
    """Content-addressed (sha256) blobs under `root`, laid out as `root/ab/cd/<hash>`.

    Safe to share between threads; several processes may use the same root at once.
    """

    def __init__(self, root: Path | str) -> None:
        self._layout = Layout(Path(root))

    @property
    def root(self) -> Path:
        """The directory this store owns."""
        return self._layout.root

    # -- writing ---------------------------------------------------------------------------

    def put_stream(
        self,
        chunks: Iterable[Chunk],
        *,
        max_size: int | None = None,
        expected_hash: str | None = None,
    ) -> BlobInfo:
        """Store the concatenation of `chunks`, streaming them through a temp file.

        Raises `BlobTooLarge` past `max_size` bytes and `HashMismatch` when `expected_hash` is
        given and differs; in both cases (and if `chunks` raises) nothing is stored and the temp
        file is removed. Returns once the blob is durable.
        """
        return ingest.put_stream(
            self._layout, chunks, max_size=max_size, expected_hash=expected_hash
        )

    def put_bytes(
        self, data: Chunk, *, max_size: int | None = None, expected_hash: str | None = None
    ) -> BlobInfo:
        """Store one in-memory value (`put_stream([data])`)."""
        return self.put_stream([data], max_size=max_size, expected_hash=expected_hash)

    async def put_async(
        self,
        chunks: AsyncIterable[Chunk],
        *,
        max_size: int | None = None,
        expected_hash: str | None = None,
        write_batch: int = ingest.DEFAULT_WRITE_BATCH,
    ) -> BlobInfo:
        """`put_stream` for an async iterable; file I/O runs in worker threads.

        Holds at most about `write_batch` bytes in memory. Cancelling it removes the temp file.
        """
        return await ingest.put_async(
            self._layout,
            chunks,
            max_size=max_size,
            expected_hash=expected_hash,
            write_batch=write_batch,
        )

    # -- reading ---------------------------------------------------------------------------

    def open(self, blob_hash: str) -> BinaryIO:
        """Open a blob for binary reading (caller closes it); `BlobNotFound` if absent."""
        return reader.open_blob(self._layout, blob_hash)

    def read(self, blob_hash: str, start: int, count: int) -> bytes:
        """Up to `count` bytes from offset `start` in one read (small blobs and ranges);
        `BlobNotFound` if absent."""
        return reader.read_bytes(self._layout, blob_hash, start, count)

    def get_stream(
        self,
        blob_hash: str,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = reader.DEFAULT_CHUNK_SIZE,
    ) -> BlobReader:
        """Iterate over bytes `[start, end)` of a blob (`end` exclusive, None = to the end).

        Errors (`BlobNotFound`, `InvalidRange`) are raised here, not on first iteration. The
        returned reader exposes `start`, `end`, `length` and `size` for Content-Range headers.
        """
        return reader.read_range(self._layout, blob_hash, start, end, chunk_size)

    def has(self, blob_hash: str) -> bool:
        """True if the blob is stored right now."""
        try:
            self._layout.blob_stat(blob_hash)
        except FileNotFoundError:
            return False
        return True

    def size(self, blob_hash: str) -> int:
        """Size in bytes of a stored blob; `BlobNotFound` if absent."""
        try:
            return self._layout.blob_stat(blob_hash).st_size
        except FileNotFoundError:
            raise BlobNotFound(blob_hash) from None

    # -- lifecycle -------------------------------------------------------------------------

    def touch(self, blob_hash: str) -> None:
        """Restart a blob's gc grace period (call before committing a new reference to a blob
        that was not just uploaded, e.g. a copy). `BlobNotFound` if gc got there first."""
        if not self._layout.refresh(blob_hash):
            raise BlobNotFound(blob_hash)

    def delete(self, blob_hash: str) -> bool:
        """Remove a blob now, durably; False if it was not there. Unconditional: prefer `gc`."""
        path = self._layout.blob_path(blob_hash)
        try:
            self._layout.blob_stat(blob_hash)  # never through a link, to a file outside root
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True

    def verify(self, blob_hash: str) -> bool:
        """Rehash a blob: True if its bytes still match its name; `BlobNotFound` if absent."""
        return maintenance.verify(self._layout, blob_hash)

    def verify_all(self, *, quarantine: bool = False) -> VerifyReport:
        """Rehash every blob; report corrupt ones, moving them to `root/quarantine/` if asked."""
        return maintenance.verify_all(self._layout, quarantine_corrupt=quarantine)

    def quarantine(self, blob_hash: str) -> Path:
        """Move a blob into `root/quarantine/` (kept for inspection, no longer served)."""
        return maintenance.quarantine(self._layout, blob_hash)

    def gc(
        self,
        referenced: Referenced,
        *,
        grace_seconds: float = maintenance.DEFAULT_GC_GRACE_SECONDS,
        dry_run: bool = False,
        guard: maintenance.Guard | None = None,
    ) -> GcReport:
        """Delete blobs that are not `referenced` and older than `grace_seconds` (by mtime);
        `guard` makes the last reference check and the removal one step (CONTRACT.md)."""
        return maintenance.gc(
            self._layout, referenced, grace_seconds=grace_seconds, dry_run=dry_run, guard=guard
        )

    def cleanup_tmp(
        self, older_than: float = maintenance.DEFAULT_TMP_MAX_AGE_SECONDS
    ) -> TmpCleanupReport:
        """Remove temp files of crashed uploads not written to for `older_than` seconds."""
        return maintenance.cleanup_tmp(self._layout, older_than)

    # Defined last: inside the class body the name `list` means this method from here on.
    def list(self) -> Iterator[str]:
        """Every stored hash, in sorted order (a lazy walk; concurrent changes may or may not
        show)."""
        return self._layout.iter_hashes()


__all__ = ["BlobStore"]
