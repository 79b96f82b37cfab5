"""Sync's HTTP routes: the WebSocket and SSE endpoints peers use, and the peers list.

The sync endpoints take no API key: the session's handshake proves the peer's node key and the
cluster's trust policy decides. A node without cluster membership answers them 503.
"""

from __future__ import annotations

from aiohttp import web

from performer_edge.errors import Unavailable
from performer_edge.http.appkeys import NODE
from performer_edge.http.middleware import principal_of, public
from performer_edge.http.principal import require_service_role
from performer_edge.http.responses import json_response
from performer_edge.peers import transport_sse, transport_ws
from performer_edge.peers.manager import PeerManager

PEERS_PATH = "/performer/v1/peers"
SSE = web.AppKey("sync_sse", transport_sse.SseEndpoints)


def _manager(request: web.Request) -> PeerManager:
    manager = request.app[NODE].peers
    if manager is None:
        raise Unavailable(
            "this node belongs to no cluster, so it does not sync", code="sync_unavailable"
        )
    return manager


@public
async def sync_socket(request: web.Request) -> web.StreamResponse:
    manager = _manager(request)
    return await transport_ws.accept(request, manager)


@public
async def sync_stream(request: web.Request) -> web.StreamResponse:
    _manager(request)
    return await request.app[SSE].stream(request)


@public
async def sync_push(request: web.Request) -> web.Response:
    _manager(request)
    return await request.app[SSE].push(request)


async def list_peers(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    manager = request.app[NODE].peers
    if manager is None:
        return json_response({"syncing": False, "peers": [], "faults": {}})
    return json_response(
        {
            "syncing": True,
            "node_id": manager.local.node_id.hex(),
            "peers": manager.peers(),
            "faults": dict(manager.faults),
        }
    )


def register(app: web.Application) -> None:
    manager = app[NODE].peers
    if manager is not None:
        app[SSE] = transport_sse.SseEndpoints(manager)
    app.router.add_get(transport_ws.SYNC_PATH, sync_socket)
    app.router.add_get(transport_sse.STREAM_PATH, sync_stream)
    app.router.add_post(transport_sse.PUSH_PATH, sync_push)
    app.router.add_get(PEERS_PATH, list_peers)
