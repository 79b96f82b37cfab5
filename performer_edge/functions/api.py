"""`/functions/v1/{name}[/path]`: invoke a function with any method, path suffix, headers and
body, as `supabase.functions.invoke` sends them (supabase-wire.md §5).

`{name}@{version or sha256}` runs a given version; the name alone runs the current one. A failed
invocation answers `{"code": reason, "message", "error"}` with the reason's status (failures.py).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from performer_edge.functions.component import FunctionsComponent
from performer_edge.functions.envelope import encode_request
from performer_edge.functions.failures import FunctionFailed
from performer_edge.http.middleware import principal_of

log = logging.getLogger("performer.functions")

FUNCTIONS: web.AppKey[FunctionsComponent] = web.AppKey("performer_functions")
PREFIX = "/functions/v1"


def register(app: web.Application) -> None:
    app.router.add_route("*", PREFIX + "/{name}", invoke)
    app.router.add_route("*", PREFIX + "/{name}/{tail:.*}", invoke)


def failure_response(failure: FunctionFailed) -> web.Response:
    body = {"code": failure.reason, "message": failure.message, "error": failure.message}
    return web.Response(
        status=failure.status, body=orjson.dumps(body), content_type="application/json"
    )


def relay_error(name: str, exc: Exception) -> web.Response:
    """The node could not run the function at all (a bug or a fault of its own, not the
    function's): 502 with `x-relay-error: true`, which the clients raise as FunctionsRelayError
    rather than the function's own FunctionsHttpError."""
    log.exception("function %s could not be run", name)
    message = f"the node could not run the function: {type(exc).__name__}"
    body = {"code": "relay_error", "message": message, "error": message}
    return web.Response(
        status=502,
        body=orjson.dumps(body),
        content_type="application/json",
        headers={"x-relay-error": "true"},
    )


def caller_claims(request: web.Request) -> dict[str, Any]:
    principal = principal_of(request)
    if principal is None:
        return {"role": "anon"}
    claims = dict(principal.claims)
    claims["role"] = principal.role
    if principal.subject is not None:
        claims["sub"] = principal.subject
    return claims


async def invoke(request: web.Request) -> web.Response:
    component = request.app[FUNCTIONS]
    name, _, ref = request.match_info["name"].partition("@")
    version, loaded = await component.resolve(name, ref or None)
    body = await request.read()
    claims = caller_claims(request)
    envelope = encode_request(
        method=request.method,
        path="/" + request.match_info.get("tail", ""),
        query=request.query.items(),
        headers=request.headers.items(),
        body=body,
        principal={"role": claims["role"], "sub": claims.get("sub"), "claims": claims},
    )
    try:
        ran = await component.run(version, loaded, envelope, claims)
    except Exception as exc:  # noqa: BLE001 - not the function's doing: the relay's error
        return relay_error(name, exc)
    if ran.failure is not None:
        return failure_response(ran.failure)
    assert ran.response is not None
    headers = CIMultiDict(ran.response.headers)
    headers["X-Function-Version"] = version.version
    return web.Response(status=ran.response.status, body=ran.response.body, headers=headers)
