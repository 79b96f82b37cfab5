"""Object keys and bucket ids from untrusted input: decoded and checked before anything uses them.

Pure. A key never becomes a file path (blobs are named by their hash), yet keys are held to the
rules a file system would want, so that two keys that look alike are the same key: valid UTF-8
in NFC, relative, no empty, `.` or `..` segment, no backslash, NUL or control character, at most
`MAX_KEY_BYTES` bytes. A key in another normal form is refused rather than normalised, so no
upload can land on an object whose name it does not spell exactly.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

from performer_edge.errors import InvalidInput
from performer_edge.storage import errors

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255
MAX_BUCKET_ID = 100
# storage-api's bucket name rule: word characters and a few punctuation marks, no slash.
_BUCKET_ID = re.compile(r"^[\w!\-.*'() &$@=;:+,?]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def decode_path_bytes(raw: str) -> str:
    """Percent-decode a raw URL path piece as strict UTF-8 (InvalidKey otherwise)."""
    data = unquote_to_bytes(raw)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.invalid_key(raw, "not valid UTF-8") from None


def key_problem(name: str) -> str | None:
    """Why `name` cannot be an object key, or None."""
    if not name:
        return "empty"
    encoded = name.encode("utf-8", errors="surrogatepass")
    if len(encoded) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return "not valid UTF-8"
    if _CONTROL.search(name):
        return "contains a control character"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/"):
        return "is absolute (starts with /)"
    if unicodedata.normalize("NFC", name) != name:
        return "is not in Unicode normal form C"
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            return f"has an empty, '.' or '..' segment ({segment!r})"
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return f"has a segment longer than {MAX_SEGMENT_BYTES} bytes"
    return None


def check_key(name: object) -> str:
    if not isinstance(name, str):
        raise errors.invalid_key(repr(name), "must be a string")
    problem = key_problem(name)
    if problem is not None:
        raise errors.invalid_key(name[:200], problem)
    return name


def check_bucket_id(bucket_id: object) -> str:
    if not isinstance(bucket_id, str) or not bucket_id:
        raise errors.invalid_bucket_name(repr(bucket_id), "must be a non-empty string")
    if len(bucket_id) > MAX_BUCKET_ID:
        raise errors.invalid_bucket_name(bucket_id[:40], f"longer than {MAX_BUCKET_ID}")
    if bucket_id in (".", "..") or not _BUCKET_ID.match(bucket_id):
        raise errors.invalid_bucket_name(
            bucket_id, "use letters, digits and !-.*'() &$@=;:+,? only"
        )
    return bucket_id


def check_prefix(prefix: object) -> str:
    """A listing prefix: '' or a key-like string, perhaps ending in '/'."""
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise InvalidInput("prefix must be a string", code="InvalidRequest")
    trimmed = prefix.rstrip("/")
    if trimmed:
        check_key(trimmed)
    return prefix


def split_bucket_and_key(tail: str) -> tuple[str, str]:
    """`bucket/a/b.png` (raw, still percent-encoded) → checked (bucket id, key)."""
    bucket_raw, sep, key_raw = tail.partition("/")
    bucket_id = check_bucket_id(decode_path_bytes(bucket_raw))
    if not sep:
        raise errors.invalid_key("", "the path names no object after the bucket")
    return bucket_id, check_key(decode_path_bytes(key_raw))
