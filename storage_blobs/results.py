"""Frozen result types returned by the blob store's operations.

Plain values: safe to share between threads, compare, hash and log.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A stored blob: its sha256 hex `hash` and `size` in bytes.

    `deduplicated` is True when identical content was already stored and the upload was discarded.
    """

    hash: str
    size: int
    deduplicated: bool = False


@dataclass(frozen=True, slots=True)
class GcReport:
    """What one `gc` pass did (or, with `dry_run`, would have done).

    `kept_recent` counts blobs within the grace period (referenced or not, `referenced` is not
    asked about them); `kept_referenced` counts older blobs that are referenced.
    `scanned` = `len(deleted) + kept_referenced + kept_recent` + blobs that vanished mid-pass.
    """

    scanned: int
    deleted: tuple[str, ...]
    kept_referenced: int
    kept_recent: int
    bytes_freed: int
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What one `verify_all` pass found.

    `corrupt` lists every blob whose bytes no longer hash to its name; `quarantined` is the subset
    that was moved to `root/quarantine/` (all of them when quarantining was asked for).
    """

    checked: int
    corrupt: tuple[str, ...]
    quarantined: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no corrupt blob was found."""
        return not self.corrupt


@dataclass(frozen=True, slots=True)
class TmpCleanupReport:
    """What one `cleanup_tmp` pass did in `root/tmp/`.

    `removed`/`bytes_freed`: files deleted. `restored`: gc leftovers put back in place.
    """

    removed: int
    bytes_freed: int
    restored: int = 0


__all__ = ["BlobInfo", "GcReport", "TmpCleanupReport", "VerifyReport"]
