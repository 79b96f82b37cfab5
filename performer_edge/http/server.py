"""Run a node's HTTP server until SIGINT/SIGTERM, then close the node cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

from performer_edge.http.app import make_app
from performer_edge.node import Node
from performer_edge.peers.compactor import Compactor
from performer_edge.peers.dialer import Dialer, configured_targets
from performer_edge.peers.discovery import Discovery
from performer_edge.peers.manager import PeerManager


async def serve(node: Node, *, on_ready: Callable[[str, int], None] | None = None) -> None:
    """Serve until a stop signal. `on_ready(host, port)` runs once the socket is listening."""
    loop = asyncio.get_running_loop()
    node.bus.attach(loop)
    peers = node.peers
    targets = configured_targets(node.settings.peer, node.settings.hub, peers is not None)
    app = make_app(node)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, node.settings.host, node.settings.port, reuse_address=True)
    await site.start()
    host, port = _bound_address(runner)
    if peers is not None:  # announced in HELLO: where peers fetch this node's blobs
        peers.api_url = node.settings.api_url or f"http://{_url_host(host)}:{port}"
    dialer = Dialer(peers, targets) if peers is not None else None
    if peers is not None:
        await peers.start()
    if dialer is not None:
        await dialer.start()
    compactor = None
    if node.settings.compact_interval > 0:
        settings = node.settings
        compactor = Compactor(
            node.snapshots,
            node.log,
            peers,
            interval=settings.compact_interval,
            keep=settings.compact_keep_events,
        )
        compactor.start()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    discovery: Discovery | None = None
    try:
        if peers is not None and dialer is not None and node.settings.discovery:
            discovery = _discovery(node, peers, dialer, host, port)
            await discovery.start()
        if on_ready is not None:
            on_ready(host, port)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if compactor is not None:
            await compactor.close()
        if discovery is not None:
            await discovery.close()
        if peers is not None:
            await peers.close()  # says BYE to every peer
        if dialer is not None:
            await dialer.close()
        await runner.cleanup()


def _discovery(node: Node, peers: PeerManager, dialer: Dialer, host: str, port: int) -> Discovery:
    def connected(node_id: bytes) -> bool:
        return any(c.peer_id == node_id for c in peers.connections)

    return Discovery(
        node.identity.public_key,
        peers.local.cluster_id,
        host,
        port,
        dial=dialer.add,
        forget=dialer.forget,
        connected=connected,
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bound_address(runner: web.AppRunner) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    raise RuntimeError("the server is not listening")
