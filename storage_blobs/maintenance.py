"""Upkeep passes: verify (rehash) and quarantine, garbage collection with a grace period, and
removal of temp files abandoned by crashed uploads.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Container
from pathlib import Path
from typing import TypeAlias

from storage_blobs.errors import BlobNotFound, InvalidArgument
from storage_blobs.layout import GC_PREFIX, Layout, fsync_dir, is_hash
from storage_blobs.results import GcReport, TmpCleanupReport, VerifyReport
from storage_blobs.writer import hash_file, hash_stream, publish

DEFAULT_GC_GRACE_SECONDS = 3600.0
DEFAULT_TMP_MAX_AGE_SECONDS = 24 * 3600.0

Referenced: TypeAlias = Callable[[str], bool] | Container[str]
"""What gc is told is in use: a predicate, or any container of hashes (e.g. a set)."""

Guard: TypeAlias = Callable[[str, Callable[[], bool]], bool]
"""`guard(hash, move_out)`: the caller's last word before gc removes an unreferenced blob. It
calls `move_out()` (moves the blob out of the store; False if it was gone) only if the blob is
still unreferenced, and returns what that returned, or False without calling it. Run under the
caller's own lock or transaction, the check and the removal are one step for new references."""

_KEPT_BY_GUARD = -2


def _check_seconds(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidArgument(f"{name} must be a number >= 0, got {value!r}")
    if math.isinf(value):
        raise InvalidArgument(f"{name} must be finite, got {value!r}")


def verify(layout: Layout, blob_hash: str) -> bool:
    """True when the stored bytes still hash to `blob_hash`; `BlobNotFound` if absent."""
    try:
        fd = layout.open_fd(blob_hash)
    except FileNotFoundError:
        raise BlobNotFound(blob_hash) from None
    with os.fdopen(fd, "rb") as file:
        return hash_stream(file) == blob_hash


def quarantine(layout: Layout, blob_hash: str) -> Path:
    """Move a blob out of the store into `root/quarantine/` and return its new path.

    Afterwards the hash is absent, so a re-upload of the correct bytes heals it.
    """
    path = layout.blob_path(blob_hash)
    try:
        layout.blob_stat(blob_hash)  # never through a link, to a file outside root
        target = layout.quarantine_path(blob_hash)
        os.rename(path, target)
    except FileNotFoundError:
        raise BlobNotFound(blob_hash) from None
    fsync_dir(layout.quarantine)
    fsync_dir(path.parent)
    return target


def verify_all(layout: Layout, *, quarantine_corrupt: bool = False) -> VerifyReport:
    """Rehash every blob; report the corrupt ones and optionally quarantine them.

    Blobs deleted while the pass runs are skipped, not reported.
    """
    checked = 0
    corrupt: list[str] = []
    moved: list[str] = []
    for blob_hash in layout.iter_hashes():
        try:
            ok = verify(layout, blob_hash)
        except BlobNotFound:
            continue
        checked += 1
        if ok:
            continue
        corrupt.append(blob_hash)
        if quarantine_corrupt:
            with contextlib.suppress(BlobNotFound):
                quarantine(layout, blob_hash)
                moved.append(blob_hash)
    return VerifyReport(checked=checked, corrupt=tuple(corrupt), quarantined=tuple(moved))


def _as_predicate(referenced: Referenced) -> Callable[[str], bool]:
    if isinstance(referenced, Container):
        return referenced.__contains__
    if callable(referenced):
        return referenced
    raise TypeError("referenced must be a callable or a container of hashes")


def gc(
    layout: Layout,
    referenced: Referenced,
    *,
    grace_seconds: float = DEFAULT_GC_GRACE_SECONDS,
    dry_run: bool = False,
    guard: Guard | None = None,
) -> GcReport:
    """Delete every blob that is not referenced and whose mtime is older than `grace_seconds`.

    A put (including a dedup) and `touch` set the mtime to now, so a blob uploaded but not yet
    recorded in committed metadata survives for the grace period. The delete is a rename into
    `tmp/` followed by a re-check of the mtime: a put that refreshed the blob between our check
    and the rename is detected and the blob is linked back instead of being lost.
    """
    _check_seconds("grace_seconds", grace_seconds)
    is_referenced = _as_predicate(referenced)
    scanned = kept_referenced = kept_recent = freed = 0
    deleted: list[str] = []
    touched_dirs: set[Path] = set()
    for blob_hash in layout.iter_hashes():
        scanned += 1
        path = layout.blob_path(blob_hash)
        try:
            st = layout.blob_stat(blob_hash)
        except FileNotFoundError:
            continue
        if _is_recent(st.st_mtime, grace_seconds):
            kept_recent += 1
            continue
        # Asked last, so the (possibly slow) metadata lookup is the freshest view before deleting.
        if is_referenced(blob_hash):
            kept_referenced += 1
            continue
        if dry_run:
            deleted.append(blob_hash)
            freed += st.st_size
            continue
        outcome = _collect(layout, blob_hash, path, st.st_size, grace_seconds, guard)
        if outcome is None:
            continue
        if outcome == _KEPT_BY_GUARD:
            kept_referenced += 1
            continue
        if outcome < 0:
            kept_recent += 1
            continue
        deleted.append(blob_hash)
        freed += outcome
        touched_dirs.add(path.parent)
    for directory in sorted(touched_dirs):
        fsync_dir(directory)
    return GcReport(
        scanned=scanned,
        deleted=tuple(deleted),
        kept_referenced=kept_referenced,
        kept_recent=kept_recent,
        bytes_freed=freed,
        dry_run=dry_run,
    )


def _is_recent(mtime: float, grace_seconds: float) -> bool:
    return grace_seconds > 0 and time.time() - mtime < grace_seconds


def _collect(
    layout: Layout,
    blob_hash: str,
    path: Path,
    size: int,
    grace_seconds: float,
    guard: Guard | None = None,
) -> int | None:
    """Remove one blob; its size if removed, -1 if a concurrent put saved it, None if gone,
    `_KEPT_BY_GUARD` if the guard kept it."""
    trash = layout.trash_path(blob_hash)
    moved: bool | None = None

    def move_out() -> bool:
        nonlocal moved
        if moved is None:  # once, even if a guard's transaction is retried
            try:
                os.rename(path, trash)
                moved = True
            except FileNotFoundError:
                moved = False
        return moved

    if not (move_out() if guard is None else guard(blob_hash, move_out)):
        return _KEPT_BY_GUARD if moved is None else None
    try:
        mtime = os.lstat(trash).st_mtime
    except FileNotFoundError:
        return size  # cleanup_tmp already removed our trash file: it is gone either way.
    try:
        if _is_recent(mtime, grace_seconds):
            # Refreshed by a put/touch after our first look: put it back. If a newer upload
            # re-created the blob meanwhile, replacing it swaps in identical bytes: harmless.
            os.replace(trash, path)
            return -1
        return size
    finally:
        with contextlib.suppress(FileNotFoundError):
            trash.unlink()


def cleanup_tmp(
    layout: Layout, older_than: float = DEFAULT_TMP_MAX_AGE_SECONDS
) -> TmpCleanupReport:
    """Clear `root/tmp/` of what crashed processes left behind.

    A gc leftover (`gc-<hash>-*`: gc died between moving a blob aside and deciding) is put back
    if the blob is absent and its bytes verify, whatever its age: gc may have been about to
    restore it for a put that had already returned. Any other file whose mtime is at least
    `older_than` seconds old is removed: temp files of uploads that crashed or were killed. An
    upload in progress touches its temp file on every write; one stalled longer than `older_than`
    loses its temp file and fails at commit with `FileNotFoundError`, storing nothing.
    """
    _check_seconds("older_than", older_than)
    cutoff = time.time() - older_than
    removed = freed = restored = 0
    with os.scandir(layout.tmp) as entries:
        candidates = [e for e in entries if e.is_file(follow_symlinks=False)]
    for entry in candidates:
        path = Path(entry.path)
        try:
            st = entry.stat(follow_symlinks=False)
            blob_hash = _gc_leftover_hash(entry.name)
            if blob_hash is not None and hash_file(path) == blob_hash:
                if publish(layout, path, blob_hash):  # removes `path` in either case
                    restored += 1
                    continue
            elif blob_hash is None and st.st_mtime > cutoff:
                continue
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
        freed += st.st_size
    return TmpCleanupReport(removed=removed, bytes_freed=freed, restored=restored)


def _gc_leftover_hash(name: str) -> str | None:
    """The hash in a `gc-<hash>-<token>` name, or None for any other name."""
    if not name.startswith(GC_PREFIX):
        return None
    candidate = name[len(GC_PREFIX) : len(GC_PREFIX) + 64]
    rest = name[len(GC_PREFIX) + 64 :]
    return candidate if is_hash(candidate) and rest.startswith("-") else None


__all__ = [
    "DEFAULT_GC_GRACE_SECONDS",
    "DEFAULT_TMP_MAX_AGE_SECONDS",
    "Guard",
    "Referenced",
    "cleanup_tmp",
    "gc",
    "quarantine",
    "verify",
    "verify_all",
]
