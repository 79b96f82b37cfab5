"""Typed errors of the blob store; each has a stable string `code` callers may map to responses.

Every error the store raises on purpose is a `BlobStoreError`; the filesystem's own `OSError`s pass.
"""

from __future__ import annotations

from typing import ClassVar


class BlobStoreError(Exception):
    """Base of every error the store raises on purpose. `code` never changes between releases."""

    code: ClassVar[str] = "blob_store_error"

    def __init__(self, message: str, *ctor_args: object) -> None:
        super().__init__(message)
        self.message = message
        self._ctor_args: tuple[object, ...] = ctor_args or (message,)

    def __reduce__(self) -> tuple[type[BlobStoreError], tuple[object, ...]]:
        # Rebuild with the subclass's own constructor arguments, so errors survive pickling
        # (e.g. when raised in a worker process).
        return (type(self), self._ctor_args)


class InvalidArgument(BlobStoreError, ValueError):
    """An argument is out of its documented domain; retrying unchanged fails again."""

    code = "invalid_argument"


class InvalidHash(InvalidArgument):
    """A hash is not exactly 64 lowercase hex characters. Raised before any filesystem access."""

    code = "invalid_hash"

    def __init__(self, value: object) -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"not a sha256 hex digest (64 lowercase hex chars): {shown}", value)
        self.value = value


class InvalidRange(InvalidArgument):
    """A byte range cannot be satisfied for a blob of this size (HTTP would answer 416)."""

    code = "invalid_range"

    def __init__(self, start: int, end: int | None, size: int) -> None:
        super().__init__(
            f"range start={start} end={end} (exclusive) not satisfiable for size {size}",
            start,
            end,
            size,
        )
        self.start = start
        self.end = end
        self.size = size


class BlobNotFound(BlobStoreError, LookupError):
    """No blob with this hash is stored (never stored, deleted, collected or quarantined)."""

    code = "blob_not_found"

    def __init__(self, blob_hash: str) -> None:
        super().__init__(f"blob not found: {blob_hash}", blob_hash)
        self.hash = blob_hash


class BlobTooLarge(BlobStoreError):
    """An upload exceeded `max_size`; nothing was stored and its temp file is gone."""

    code = "blob_too_large"

    def __init__(self, max_size: int) -> None:
        super().__init__(f"blob exceeds the maximum size of {max_size} bytes", max_size)
        self.max_size = max_size


class BlobCorrupt(BlobStoreError):
    """Bytes do not match their hash: a stored blob damaged on disk, or a bad upload."""

    code = "blob_corrupt"

    def __init__(self, blob_hash: str, reason: str) -> None:
        super().__init__(f"blob {blob_hash} is corrupt: {reason}", blob_hash, reason)
        self.hash = blob_hash
        self.reason = reason


class HashMismatch(BlobCorrupt):
    """An upload's content hashed to something other than its `expected_hash`; nothing kept."""

    code = "hash_mismatch"

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(expected, f"upload hashed to {actual}")
        self._ctor_args = (expected, actual)
        self.expected = expected
        self.actual = actual


__all__ = [
    "BlobCorrupt",
    "BlobNotFound",
    "BlobStoreError",
    "BlobTooLarge",
    "HashMismatch",
    "InvalidArgument",
    "InvalidHash",
    "InvalidRange",
]
