"""`make_app(node)`: the aiohttp application with every capability's routes and the middleware."""

from __future__ import annotations

from aiohttp import web

from performer_edge.http import events_api, node_routes
from performer_edge.http.appkeys import NODE
from performer_edge.http.middleware import Cors, errors, make_principal, make_request_log
from performer_edge.node import Node
from performer_edge.peers import cluster_api
from performer_edge.peers import routes as peer_routes


def make_app(node: Node) -> web.Application:
    cors = Cors(node.settings.cors_origins)
    app = web.Application(
        middlewares=[
            make_request_log(),
            cors.preflight,
            errors,
            make_principal(node.tokens),
        ],
        client_max_size=node.settings.max_body_bytes,
    )
    app[NODE] = node
    app.on_response_prepare.append(cors.on_prepare)
    node_routes.register(app)
    events_api.register(app)
    node.auth.install(app)
    node.rest.install(app)
    node.storage.install(app)
    node.functions.install(app)
    node.realtime.install(app)
    node.streams.install(app)
    cluster_api.register(app)
    peer_routes.register(app)
    return app
