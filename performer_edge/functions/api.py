"""`/functions/v1/{name}[/path]`: invoke a function with any method, path suffix, headers and
body, as `supabase.functions.invoke` sends them (supabase-wire.md §5).

`{name}@{version or sha256}` runs a given version; the name alone runs the current one. A failed
invocation answers `{"code": reason, "message", "error"}` with the reason's status (failures.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from performer_edge.functions.component import FunctionsComponent
from performer_edge.functions.envelope import encode_request
from performer_edge.functions.failures import FunctionFailed
from performer_edge.http.middleware import principal_of

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
    ran = await component.run(version, loaded, envelope, claims)
    if ran.failure is not None:
        return failure_response(ran.failure)
    assert ran.response is not None
    headers = CIMultiDict(ran.response.headers)
    headers["X-Function-Version"] = version.version
    return web.Response(status=ran.response.status, body=ran.response.body, headers=headers)
