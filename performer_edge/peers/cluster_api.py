"""Membership over HTTP at `/performer/v1/cluster`: joining with an invite, revoking a node.

- `POST /performer/v1/cluster/join` (no credentials: the joining node has none yet; rate limited
  per IP like the auth endpoints): `{invite_secret, node_id, proof[, cluster_id]}` -> 200
  `{cluster_id, certificate, roles}`; the invite is burned.
- `POST /performer/v1/cluster/revocations` (service_role, on the root node): `{node_id}` -> 201
  with the `cluster.revoked` event, which then replicates like any other.
"""

from __future__ import annotations

import asyncio
import base64

from aiohttp import web

from performer_edge.auth.ratelimit import RateLimiter
from performer_edge.core.hlc import wall_clock_ms
from performer_edge.errors import InvalidInput
from performer_edge.http.appkeys import NODE
from performer_edge.http.middleware import principal_of, public
from performer_edge.http.principal import require_service_role
from performer_edge.http.responses import json_response, read_json
from performer_edge.peers import admission, cluster_events

JOIN_LIMITER = web.AppKey("cluster_join_limiter", RateLimiter)


@public
async def join(request: web.Request) -> web.Response:
    node = request.app[NODE]
    limit = node.settings.cluster_join_rate_limit
    request.app[JOIN_LIMITER].hit("cluster_join", request.remote or "unknown", limit)
    parsed = admission.parse_join(await read_json(request))
    joined = await asyncio.to_thread(
        admission.admit, node.data_dir, node.cluster, parsed, wall_clock_ms()
    )
    return json_response(
        {
            "cluster_id": joined.cluster_id.hex(),
            "certificate": base64.b64encode(joined.certificate).decode(),
            "roles": list(joined.roles),
        }
    )


async def revoke(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) != {"node_id"}:
        raise InvalidInput('expected {"node_id": "<64 hex digits>"}', code="invalid_node_id")
    node = request.app[NODE]
    node_id = admission.parse_node_id(body["node_id"])
    payload = admission.plan_revocation(node.data_dir, node.cluster, node_id, wall_clock_ms())
    event = await node.append(cluster_events.REVOKED, node_id.hex(), payload)
    return json_response({"node_id": node_id.hex(), "event": event.to_json()}, status=201)


def register(app: web.Application) -> None:
    app[JOIN_LIMITER] = RateLimiter()
    app.router.add_post("/performer/v1/cluster/join", join)
    app.router.add_post("/performer/v1/cluster/revocations", revoke)
