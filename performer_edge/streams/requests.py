"""Parsing and authorising a streams request: the scope, the caller's policies, versions,
page sizes, and an event as JSON (shared by `api` and `sse`)."""

from __future__ import annotations

from aiohttp import web

from performer_edge.errors import Forbidden, InvalidInput, Unauthorized
from performer_edge.http.middleware import principal_of
from performer_edge.realtime.access import verify_caller
from performer_edge.rest.catalog import PolicyCommand
from performer_edge.rest.compile_context import RequestContext
from performer_edge.streams.component import STREAMS
from performer_edge.streams.service import MAX_PAGE, Stream

DEFAULT_PAGE = 100


def scope_of(request: web.Request) -> str:
    return request.match_info["scope"]


async def authorized(
    request: web.Request, command: PolicyCommand, stream: Stream | None = None
) -> Stream:
    """The stream the path names, once the caller's policies allow `command` on it."""
    component = request.app[STREAMS]
    if stream is None:
        stream = component.streams.resolve(scope_of(request))
    context = caller_context(request)
    if not await component.policies.allows(context, stream, command):
        action = "read" if command is PolicyCommand.SELECT else "append to"
        raise Forbidden(
            f"no policy lets this caller {action} stream {stream.scope!r}",
            code="stream_forbidden",
        )
    return stream


def caller_context(request: web.Request) -> RequestContext:
    """The policy context of the `token` query parameter (EventSource cannot send headers),
    else of the request's credentials."""
    token = request.query.get("token")
    if token:
        return verify_caller(request.app[STREAMS].tokens, token).context
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("No API key found in request", code="no_api_key")
    return RequestContext.for_claims(principal.claims)


def caller_expiry(request: web.Request) -> float | None:
    """When the caller's token stops being valid (None: it does not expire)."""
    token = request.query.get("token")
    if token:
        return verify_caller(request.app[STREAMS].tokens, token).expires_at
    principal = principal_of(request)
    expires = principal.claims.get("exp") if principal is not None else None
    return float(expires) if isinstance(expires, int | float) else None


def version_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a version (an integer >= 0), not {raw!r}", code="invalid_version"
        ) from None
    if value < 0:
        raise InvalidInput(f"{name} must be a version >= 0, not {value}", code="invalid_version")
    return value


def page_param(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    return int(raw)
