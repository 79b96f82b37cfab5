"""Typed errors to wire shapes: each API family answers in the shape its official client parses.

Families by path: PostgREST (`/rest/v1`), GoTrue (`/auth/v1`), Storage (`/storage/v1`),
Functions (`/functions/v1`) and Performer's own APIs (everything else). See supabase-wire.md.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from performer_edge.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    InvalidInput,
    NotFound,
    PerformerError,
    RateLimited,
    TooLarge,
    Unauthorized,
    Unavailable,
)

GOTRUE_API_VERSION = "2024-01-01"

STATUS_BY_CLASS: tuple[tuple[type[PerformerError], int], ...] = (
    (InvalidInput, 400),
    (IntegrityError, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooLarge, 413),
    (RateLimited, 429),
    (Unavailable, 503),
)

# Codes whose HTTP status differs from their class's.
STATUS_BY_CODE = {
    "method_not_allowed": 405,
    "unsupported_media_type": 415,
    # GoTrue answers these with 422 Unprocessable Entity.
    "weak_password": 422,
    "user_already_exists": 422,
    "email_exists": 422,
    "phone_exists": 422,
    "signup_disabled": 422,
    "anonymous_provider_disabled": 422,
    "same_password": 422,
    "mfa_verification_failed": 422,
    "mfa_challenge_expired": 422,
    "mfa_factor_name_conflict": 422,
    "otp_disabled": 422,
    "email_address_invalid": 400,
    # Streams: the events a version needs were compacted out of this node's log.
    "stream_history_compacted": 410,
    # PostgREST's codes whose status is not their class's (supabase-wire.md §1.4).
    "PGRST103": 416,
    "PGRST106": 406,
    "PGRST107": 406,
    "PGRST116": 406,
    "PGRST201": 300,
    "PGRST202": 404,
    "PGRST205": 404,
    "23505": 409,
    "23503": 409,
    "42883": 404,
    # Storage's codes whose logical status is not their class's.
    "InvalidMimeType": 415,
    "InvalidRange": 416,
}

POSTGREST_CODES = {
    "token_invalid": "PGRST301",
    "token_expired": "PGRST303",
    "invalid_api_key": "PGRST301",
    "no_api_key": "PGRST302",
    # Routing: a path under /rest/v1 that names no resource, a method PostgREST lacks.
    "not_found": "PGRST125",
    "method_not_allowed": "PGRST117",
}
STORAGE_CODES = {
    "token_invalid": "InvalidJWT",
    "token_expired": "InvalidJWT",
    "invalid_api_key": "InvalidJWT",
    "no_api_key": "InvalidJWT",
    "not_found": "NoSuchKey",
}
# The `error` field storage-api sends for a code, where it is not the status's name. storage3's
# `exists()` reads `error == "not_found"` as "no such object".
STORAGE_ERROR_NAMES = {
    "NoSuchKey": "not_found",
    "NoSuchBucket": "Bucket not found",
    "InvalidJWT": "InvalidJWT",
    "InvalidMimeType": "invalid_mime_type",
    "AccessDenied": "Unauthorized",
    # Performer's: an object whose bytes are on a peer that cannot serve them now (503).
    "BlobUnavailable": "BlobUnavailable",
}
FUNCTIONS_CODES = {
    "token_invalid": "UNAUTHORIZED_INVALID_JWT",
    "token_expired": "UNAUTHORIZED_INVALID_JWT",
    "invalid_api_key": "UNAUTHORIZED_INVALID_JWT",
    "no_api_key": "UNAUTHORIZED_NO_AUTH_HEADER",
    "not_found": "NOT_FOUND",
}
GOTRUE_CODES = {
    "token_invalid": "bad_jwt",
    "token_expired": "bad_jwt",
    "invalid_api_key": "no_authorization",
    "no_api_key": "no_authorization",
}


def family_of(path: str) -> str:
    for prefix, family in (
        ("/rest/v1", "rest"),
        ("/auth/v1", "auth"),
        ("/storage/v1", "storage"),
        ("/functions/v1", "functions"),
    ):
        if path == prefix or path.startswith(prefix + "/"):
            return family
    return "performer"


def status_of(error: PerformerError) -> int:
    if error.error_code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.error_code]
    for cls, status in STATUS_BY_CLASS:
        if isinstance(error, cls):
            return status
    return 500


def error_response(path: str, error: PerformerError) -> web.Response:
    status = status_of(error)
    family = family_of(path)
    headers: dict[str, str] = {}
    body: dict[str, Any]
    code = error.error_code
    if family == "rest":
        body = {
            "code": POSTGREST_CODES.get(code, code),
            "details": error.details,
            "hint": error.hint,
            "message": error.message,
        }
        headers["Proxy-Status"] = f"PostgREST; error={body['code']}"
        if status == 401:
            headers["WWW-Authenticate"] = (
                f'Bearer error="invalid_token", error_description="{error.message}"'
            )
    elif family == "auth":
        gotrue_code = GOTRUE_CODES.get(code, code)
        body = {
            "code": gotrue_code,
            "error_code": gotrue_code,
            "msg": error.message,
            "message": error.message,
        }
        if isinstance(error.details, dict):
            body.update(error.details)
        headers["X-Supabase-Api-Version"] = GOTRUE_API_VERSION
        headers["x-sb-error-code"] = gotrue_code
    elif family == "storage":
        storage_code = STORAGE_CODES.get(code, code)
        body = {
            "statusCode": str(status),
            "code": storage_code,
            "error": STORAGE_ERROR_NAMES.get(storage_code) or _storage_error_name(status),
            "message": error.message,
        }
        # storage-api answers HTTP 400 with the logical status in `statusCode`; credentials
        # refused at the gateway keep their 401, server failures their 5xx, and its TUS
        # endpoint every status (TUS clients act on 404, 409, 413).
        if path.startswith("/storage/v1/upload/resumable"):
            headers["Tus-Resumable"] = "1.0.0"
        elif 400 <= status < 500 and status != 401:
            status = 400
    elif family == "functions":
        body = {"code": FUNCTIONS_CODES.get(code, code), "message": error.message}
        body["error"] = error.message
    else:
        body = {"code": code, "message": error.message}
        if error.details is not None:
            body["details"] = error.details
        if error.hint is not None:
            body["hint"] = error.hint
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def _storage_error_name(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Unauthorized",
        404: "not_found",
        409: "Duplicate",
        413: "Payload too large",
    }.get(status, "Error")
