"""The JSON contract between the node and a function (README, Functions: the ABI).

Request: `{"method", "path", "query", "headers", "body" | "body_base64", "principal"}`, and
for a triggered run `"trigger"` with `"event"` or `"cron"`. Response: `{"status", "headers",
"body" | "body_base64" | "json"}`. Pure functions: no I/O, nothing from `http`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# Never handed to the function: the caller's credentials are given as `principal` instead.
HIDDEN_REQUEST_HEADERS = frozenset({"authorization", "apikey", "cookie"})
# Set by the node from the body it sends, never taken from the function.
HOP_BY_HOP = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}
)
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


class BadResponse(ValueError):
    """The function's output is not a response of the contract."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def encode_request(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
    principal: Mapping[str, Any] | None,
    trigger: Mapping[str, Any] | None = None,
) -> bytes:
    """The request JSON. The body goes as text when it is UTF-8 and its content type is text
    or JSON, else base64 in `body_base64`; repeated query keys and headers keep the last."""
    header_map = {k.lower(): v for k, v in headers if k.lower() not in HIDDEN_REQUEST_HEADERS}
    request: dict[str, Any] = {
        "method": method,
        "path": path,
        "query": dict(query),
        "headers": header_map,
        "principal": principal,
    }
    content_type = header_map.get("content-type", "")
    text = _as_text(body, content_type)
    if text is not None:
        request["body"] = text
    else:
        request["body_base64"] = base64.b64encode(body).decode()
    if trigger is not None:
        request.update(trigger)
    return orjson.dumps(request)


def _as_text(body: bytes, content_type: str) -> str | None:
    if not body:
        return ""
    if content_type and not content_type.lower().startswith(TEXT_TYPES):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def decode_response(output: bytes) -> Response:
    """Parse the function's output (BadResponse saying what is wrong)."""
    try:
        found = orjson.loads(output)
    except orjson.JSONDecodeError as exc:
        preview = output[:80].decode("utf-8", "replace")
        raise BadResponse(f"the output is not JSON ({exc}): {preview!r}") from None
    if not isinstance(found, dict):
        raise BadResponse("the output must be a JSON object")
    status = found.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadResponse(f"status must be an integer from 100 to 599, not {status!r}")
    headers = _headers(found.get("headers"))
    names = {k.lower() for k, _ in headers}
    bodies = [k for k in ("body", "body_base64", "json") if k in found]
    if len(bodies) > 1:
        raise BadResponse(f"give one of body, body_base64 and json, not {' and '.join(bodies)}")
    body: bytes
    default_type: str | None = None
    if not bodies:
        body = b""
    elif bodies[0] == "json":
        body = orjson.dumps(found["json"])
        default_type = "application/json"
    elif bodies[0] == "body":
        if not isinstance(found["body"], str):
            raise BadResponse("body must be a string (use json for a JSON value)")
        body = found["body"].encode()
        default_type = "text/plain; charset=utf-8"
    else:
        try:
            body = base64.b64decode(str(found["body_base64"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadResponse(f"body_base64 is not base64: {exc}") from None
        default_type = "application/octet-stream"
    if default_type is not None and "content-type" not in names:
        headers = (*headers, ("Content-Type", default_type))
    return Response(status, headers, body)


def _headers(given: Any) -> tuple[tuple[str, str], ...]:
    if given is None:
        return ()
    if not isinstance(given, dict):
        raise BadResponse("headers must be an object of strings")
    found: list[tuple[str, str]] = []
    for name, value in given.items():
        if not isinstance(value, str) or not _valid_header(name, value):
            raise BadResponse(f"header {name!r} must be a valid name with a string value")
        if name.lower() not in HOP_BY_HOP:
            found.append((name, value))
    return tuple(found)


def _valid_header(name: str, value: str) -> bool:
    token = name and all(33 <= ord(c) <= 126 and c not in '()<>@,;:\\"/[]?={}' for c in name)
    return bool(token) and not any(c in value for c in "\r\n\0")
