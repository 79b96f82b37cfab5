"""Node-level routes: `/health` and the JWKS every node publishes for offline token checks."""

from __future__ import annotations

from aiohttp import web

from performer_edge.http.appkeys import NODE
from performer_edge.http.middleware import public
from performer_edge.http.responses import json_response


@public
async def health(request: web.Request) -> web.Response:
    node = request.app[NODE]
    body = {
        "status": "healthy",
        "version": node.version,
        "node_id": node.identity.node_id,
        "uptime_s": round(node.uptime_s, 3),
        "realtime": node.realtime.health(),
    }
    if node.peers is not None:
        body["sync"] = node.peers.health()
    return json_response(body)


@public
async def jwks(request: web.Request) -> web.Response:
    return json_response(
        request.app[NODE].tokens.jwks(), headers={"Cache-Control": "public, max-age=600"}
    )


def register(app: web.Application) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/auth/v1/.well-known/jwks.json", jwks)
