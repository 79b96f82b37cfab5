"""Middleware, outermost first: request log, CORS, errors to wire shapes, principal."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import apsw
from aiohttp import web

from performer_edge.core.tokens import TokenKeys
from performer_edge.errors import (
    InvalidInput,
    NotFound,
    PerformerError,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from performer_edge.http.principal import Principal, VerifiedTokens, resolve_principal
from performer_edge.http.wire import error_response, family_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PRINCIPAL_KEY = web.RequestKey("principal", Principal)
REQUEST_ID_KEY = web.RequestKey("request_id", str)

log = logging.getLogger("performer.http")

ALLOWED_HEADERS = (
    "authorization, x-client-info, apikey, content-type, x-retry-count, traceparent, "
    "tracestate, baggage, prefer, accept-profile, content-profile, range, x-upsert, "
    "cache-control, x-metadata, x-region, x-supabase-api-version, accept, accept-encoding, "
    "if-none-match, upload-length, upload-offset, upload-metadata, tus-resumable, "
    "upload-defer-length, upload-concat, last-event-id, x-signature"
)
EXPOSED_HEADERS = (
    "Content-Range, X-Total-Count, Link, X-Supabase-Api-Version, x-sb-error-code, "
    "x-relay-error, Content-Disposition, Content-Length, ETag, Location, Upload-Offset, "
    "Upload-Length, Tus-Resumable, Preference-Applied, Proxy-Status"
)
ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def public(handler: Handler) -> Handler:
    """Mark a route that needs no credentials; invalid ones are then ignored, not refused."""
    handler.performer_public = True  # type: ignore[attr-defined]
    return handler


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL_KEY)


def make_request_log() -> Any:
    @web.middleware
    async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request.headers.get("x-request-id") or secrets.token_hex(8)
        request[REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            if log.isEnabledFor(logging.INFO):
                principal = principal_of(request)
                fields = {
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    "role": principal.role if principal else None,
                    "remote": request.remote,
                }
                # makeRecord + handle is log.info without Logger.findCaller's walk up the stack
                # (a quarter of a request line's cost); no formatter prints the caller.
                record = log.makeRecord(
                    log.name,
                    logging.INFO,
                    __file__,
                    0,
                    "request",
                    (),
                    None,
                    extra={"fields": fields},
                )
                log.handle(record)

    return request_log


class Cors:
    """Preflight answers (a middleware) and CORS headers on every response (a prepare signal).

    The signal runs just before headers are sent, so streaming responses (SSE, WebSocket
    upgrades) get the headers too.
    """

    def __init__(self, allowed_origins: str) -> None:
        origins = {o.strip() for o in allowed_origins.split(",") if o.strip()}
        self.allow_all = "*" in origins
        self.origins = origins

    def allow_origin(self, origin: str | None) -> str | None:
        if origin is None:
            return None
        if self.allow_all:
            return "*"
        return origin if origin in self.origins else None

    @web.middleware
    async def preflight(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return await handler(request)
        response = web.Response(status=204)
        allowed = self.allow_origin(request.headers.get("Origin"))
        if allowed:
            requested = request.headers.get("Access-Control-Request-Headers")
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = (
                f"{ALLOWED_HEADERS}, {requested}" if requested else ALLOWED_HEADERS
            )
            response.headers["Access-Control-Max-Age"] = "86400"
        return response

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        allowed = self.allow_origin(request.headers.get("Origin"))
        if not allowed:
            return
        response.headers["Access-Control-Allow-Origin"] = allowed
        if request.method != "OPTIONS":
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if not self.allow_all:
            response.headers["Vary"] = "Origin"


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PerformerError as error:
        return error_response(request.path, error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(request.path, _from_http_exception(request, exc))
    except apsw.FullError:
        log.exception("the disk is full")
        return error_response(
            request.path, Unavailable("the node's disk is full", code="disk_full")
        )
    except Exception:
        log.exception(
            "unhandled error", extra={"fields": {"request_id": request.get(REQUEST_ID_KEY)}}
        )
        failure = PerformerError(
            f"internal error (request id {request.get(REQUEST_ID_KEY)}); see the node's log"
        )
        return error_response(request.path, failure)


def make_principal(keys: TokenKeys) -> Any:
    verified = VerifiedTokens(keys)

    @web.middleware
    async def principal(request: web.Request, handler: Handler) -> web.StreamResponse:
        unrouted = request.match_info.http_exception is not None
        # Like Supabase's gateway, the API prefixes check credentials before routing.
        if (unrouted and family_of(request.path) == "performer") or getattr(
            handler, "performer_public", False
        ):
            try:
                optional = resolve_principal(request, verified)
            except Unauthorized:
                optional = None
            if optional is not None:
                request[PRINCIPAL_KEY] = optional
            return await handler(request)
        found = resolve_principal(request, verified)
        if found is None:
            raise Unauthorized("No API key found in request", code="no_api_key")
        request[PRINCIPAL_KEY] = found
        return await handler(request)

    return principal


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> PerformerError:
    if exc.status == 404:
        return NotFound(f"no route for {request.method} {request.path}")
    if exc.status == 405:
        return InvalidInput(
            f"method {request.method} is not allowed on {request.path}", code="method_not_allowed"
        )
    if exc.status == 413:
        return TooLarge(exc.text or "request body too large", code="payload_too_large")
    return InvalidInput(exc.text or exc.reason, code=f"http_{exc.status}")
