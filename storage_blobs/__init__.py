"""Content-addressed (sha256) blob store on a local filesystem; stdlib only, usable standalone.

The guarantees of every operation are written down in `storage_blobs/CONTRACT.md`.
"""

from storage_blobs.errors import (
    BlobCorrupt,
    BlobNotFound,
    BlobStoreError,
    BlobTooLarge,
    HashMismatch,
    InvalidArgument,
    InvalidHash,
    InvalidRange,
)
from storage_blobs.layout import is_hash, validate_hash
from storage_blobs.reader import BlobReader, resolve_range
from storage_blobs.results import BlobInfo, GcReport, TmpCleanupReport, VerifyReport
from storage_blobs.store import BlobStore
from storage_blobs.writer import Chunk

__all__ = [
    "BlobCorrupt",
    "BlobInfo",
    "BlobNotFound",
    "BlobReader",
    "BlobStore",
    "BlobStoreError",
    "BlobTooLarge",
    "Chunk",
    "GcReport",
    "HashMismatch",
    "InvalidArgument",
    "InvalidHash",
    "InvalidRange",
    "TmpCleanupReport",
    "VerifyReport",
    "is_hash",
    "resolve_range",
    "validate_hash",
]
