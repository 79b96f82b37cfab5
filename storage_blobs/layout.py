"""On-disk layout: strict hash validation, `root/ab/cd/<hash>` paths, and durable directories.

Every path the store touches is built here, only ever from a validated hash.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from storage_blobs.errors import InvalidHash

_HASH_RE = re.compile(r"[0-9a-f]{64}")
_FANOUT_RE = re.compile(r"[0-9a-f]{2}")

TMP_DIR = "tmp"
QUARANTINE_DIR = "quarantine"
PUT_PREFIX = "put-"
GC_PREFIX = "gc-"


def validate_hash(value: object) -> str:
    """Return `value` if it is exactly 64 lowercase hex characters, else raise `InvalidHash`."""
    if not isinstance(value, str) or _HASH_RE.fullmatch(value) is None:
        raise InvalidHash(value)
    return value


def is_hash(value: object) -> bool:
    """True when `value` is a well-formed hash (the check `validate_hash` makes)."""
    return isinstance(value, str) and _HASH_RE.fullmatch(value) is not None


def fsync_fd(fd: int) -> None:
    """Flush a file descriptor to stable storage (F_FULLFSYNC on macOS, where fsync is weaker)."""
    if sys.platform == "darwin":
        import fcntl

        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            return
    os.fsync(fd)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (creations, renames, unlinks) durable. A no-op on Windows."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fsync_fd(fd)
    finally:
        os.close(fd)


def replace_symlink(path: Path) -> None:
    """Remove `path` if it is a symbolic link: nothing under the root may lead outside it."""
    if path.is_symlink():
        path.unlink()


def make_dir_durable(path: Path) -> None:
    """Create `path` and any missing parents, fsyncing each parent whose entries changed."""
    missing: list[Path] = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
        fsync_dir(directory.parent)


class Layout:
    """Maps hashes to paths under one root and creates fan-out directories durably.

    Thread-safe. Fan-out directories are never removed, so a put never races an `rmdir`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / TMP_DIR
        self.quarantine = root / QUARANTINE_DIR
        self._durable_dirs: set[str] = set()
        self._lock = threading.Lock()
        replace_symlink(self.tmp)
        make_dir_durable(self.tmp)

    def blob_path(self, blob_hash: str) -> Path:
        """Where the blob with this hash lives (validated; existence is not checked)."""
        h = validate_hash(blob_hash)
        return self.root / h[0:2] / h[2:4] / h

    def ensure_fanout(self, blob_hash: str) -> tuple[Path, tuple[Path, ...]]:
        """Create `root/ab/cd/` if needed; return it and the parents whose entries must still be
        fsynced (`sync_fanout`) once the blob is linked there.

        The first call per directory in this process reports its parent even when the directory
        already existed: another thread or process may have created it without having synced yet.
        The root is reported only until `ab/` has been synced into it once by this process: with
        random hashes nearly every blob of a young store lands in a new `ab/cd/`, but there are
        only 256 `ab/`. The fsyncs come after the link so that, on a journalling filesystem, the
        blob directory's fsync commits the new directories too and the parents' are cheap.
        """
        h = validate_hash(blob_hash)
        outer = self.root / h[0:2]
        inner = outer / h[2:4]
        with self._lock:
            if h[0:4] in self._durable_dirs:
                return inner, ()
            outer_durable = h[0:2] in self._durable_dirs
        for child in (outer, inner):
            replace_symlink(child)
            with contextlib.suppress(FileExistsError):
                child.mkdir()
        return inner, (outer,) if outer_durable else (outer, self.root)

    def sync_fanout(self, blob_hash: str, parents: tuple[Path, ...]) -> None:
        """fsync the parents `ensure_fanout` reported, then remember the directories as durable
        (`ab/cd` in `ab/`, and `ab/` in the root when the root was among them)."""
        if not parents:
            return
        for parent in parents:
            fsync_dir(parent)
        h = validate_hash(blob_hash)
        with self._lock:
            self._durable_dirs.add(h[0:4])
            if self.root in parents:
                self._durable_dirs.add(h[0:2])

    def open_fd(self, blob_hash: str) -> int:
        """A read-only descriptor of the blob, reached without following any symbolic link
        (fan-out directories included): a link is not a blob. FileNotFoundError if absent."""
        h = validate_hash(blob_hash)
        nofollow = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        directory = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name in (h[0:2], h[2:4]):
                inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=directory)
                os.close(directory)
                directory = inner
            fd = os.open(h, os.O_RDONLY | nofollow, dir_fd=directory)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                raise FileNotFoundError(errno.ENOENT, "no such blob", h) from None
            raise
        finally:
            os.close(directory)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise FileNotFoundError(errno.ENOENT, "no such blob", h)
        return fd

    def blob_stat(self, blob_hash: str) -> os.stat_result:
        """The blob's stat (as `open_fd` reaches it); FileNotFoundError if absent."""
        fd = self.open_fd(blob_hash)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    def refresh(self, blob_hash: str) -> bool:
        """Set the blob's mtime to now; False if it is absent. A symbolic link planted where the
        blob belongs is removed (the caller then publishes the real blob there)."""
        try:
            fd = self.open_fd(blob_hash)
        except FileNotFoundError:
            replace_symlink(self.blob_path(blob_hash))
            return False
        try:
            os.utime(fd)
        finally:
            os.close(fd)
        return True

    def trash_path(self, blob_hash: str) -> Path:
        """A fresh, unique name in `tmp/` that gc renames a doomed blob to before unlinking it."""
        h = validate_hash(blob_hash)
        return self.tmp / f"{GC_PREFIX}{h}-{secrets.token_hex(8)}"

    def quarantine_path(self, blob_hash: str) -> Path:
        """A fresh, unique name in `quarantine/` for a corrupt blob (created on first use)."""
        h = validate_hash(blob_hash)
        replace_symlink(self.quarantine)
        make_dir_durable(self.quarantine)
        return self.quarantine / f"{h}-{secrets.token_hex(8)}"

    def iter_hashes(self) -> Iterator[str]:
        """Every stored hash, sorted. Foreign or misplaced files are ignored, never yielded."""
        for outer in _sorted_subdirs(self.root, _FANOUT_RE):
            for inner in _sorted_subdirs(outer, _FANOUT_RE):
                prefix = outer.name + inner.name
                yield from (
                    name
                    for name in _sorted_file_names(inner)
                    if is_hash(name) and name.startswith(prefix)
                )


def _sorted_subdirs(directory: Path, pattern: re.Pattern[str]) -> list[Path]:
    try:
        with os.scandir(directory) as entries:
            names = [
                e.name
                for e in entries
                if pattern.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
            ]
    except FileNotFoundError:
        return []
    return [directory / name for name in sorted(names)]


def _sorted_file_names(directory: Path) -> list[str]:
    try:
        with os.scandir(directory) as entries:
            names = [e.name for e in entries if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    return sorted(names)


__all__ = [
    "GC_PREFIX",
    "PUT_PREFIX",
    "QUARANTINE_DIR",
    "TMP_DIR",
    "Layout",
    "fsync_dir",
    "fsync_fd",
    "is_hash",
    "make_dir_durable",
    "replace_symlink",
    "validate_hash",
]
