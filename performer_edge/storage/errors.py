"""Storage's errors, with the codes storage-api uses (`NoSuchKey`, `EntityTooLarge`, ...).

`http.wire` renders them as `{"statusCode", "code", "error", "message"}` (supabase-wire.md §3.5).
"""

from __future__ import annotations

from performer_edge.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge


def no_such_bucket() -> NotFound:
    return NotFound("Bucket not found", code="NoSuchBucket")


def no_such_key() -> NotFound:
    return NotFound("Object not found", code="NoSuchKey")


def bucket_exists() -> Conflict:
    return Conflict("The resource already exists", code="BucketAlreadyExists")


def key_exists() -> Conflict:
    return Conflict("The resource already exists", code="KeyAlreadyExists")


def bucket_not_empty() -> Conflict:
    return Conflict("The bucket you tried to delete is not empty", code="BucketNotEmpty")


def invalid_key(name: str, reason: str) -> InvalidInput:
    return InvalidInput(f"Invalid key: {name!r}: {reason}", code="InvalidKey")


def invalid_bucket_name(name: str, reason: str) -> InvalidInput:
    return InvalidInput(f"Invalid bucket name: {name!r}: {reason}", code="InvalidBucketName")


def invalid_request(message: str) -> InvalidInput:
    return InvalidInput(message, code="InvalidRequest")


def entity_too_large() -> TooLarge:
    return TooLarge("The object exceeded the maximum allowed size", code="EntityTooLarge")


def invalid_mime_type(mimetype: str) -> InvalidInput:
    return InvalidInput(f"mime type {mimetype} is not supported", code="InvalidMimeType")


def access_denied() -> Forbidden:
    return Forbidden("new row violates row-level security policy", code="AccessDenied")


def invalid_signature(reason: str) -> InvalidInput:
    return InvalidInput(f"Invalid signature: {reason}", code="InvalidSignature")
