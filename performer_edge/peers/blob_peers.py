"""What storage asks of the cluster to move blobs (`storage.peer_fetch.PeerBlobs`): where peers
are, and node-signed requests (node_requests.py) both ways.

Where a peer's HTTP API is: the URL it announced in its HELLO (feature `api=<url>`, its wildcard
host replaced by the address it connected from), else, for a session this node dialed, the URL
it dialed; then the URLs the dialer keeps (configured `peer`/`hub`, peers found on the LAN).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from performer_edge.peers import node_requests
from performer_edge.peers.connection import PeerConnection
from performer_edge.peers.manager import PeerManager

API_FEATURE: Final = "api="
_WILDCARDS: Final = ("0.0.0.0", "::", "")
_HTTP_SCHEMES: Final = {
    "http": "http",
    "ws": "http",
    "sse+http": "http",
    "https": "https",
    "wss": "https",
    "sse+https": "https",
}


def api_base(url: str) -> str | None:
    """The node API's base URL (scheme, host, port) of a peer URL in any of the forms the
    dialer takes (`http://`, `ws://`, `sse+http://`, ...); None when it is none of them."""
    parts = urlsplit(url)
    scheme = _HTTP_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        return None
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def announced_url(connection: PeerConnection) -> str | None:
    """The API URL the peer announced in its HELLO, made reachable from here."""
    hello = connection.session.peer_hello
    if hello is None:
        return None
    for feature in hello.features:
        if not feature.startswith(API_FEATURE):
            continue
        base = api_base(feature.removeprefix(API_FEATURE))
        parts = urlsplit(base or "")
        if base is None or parts.hostname not in _WILDCARDS:
            return base
        remote = _remote_host(connection)
        if remote is None:
            return None
        host = f"[{remote}]" if ":" in remote else remote
        return urlunsplit((parts.scheme, f"{host}:{parts.port}", "", "", ""))
    return None


def _remote_host(connection: PeerConnection) -> str | None:
    address = connection.link.address
    if connection.direction == "dialed":
        return urlsplit(address.removeprefix("sse+")).hostname
    return address or None


class ClusterBlobPeers:
    """`PeerBlobs` over a node's `PeerManager`."""

    def __init__(
        self, manager: PeerManager, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    ) -> None:
        self.manager = manager
        self.clock_ms = clock_ms

    def sources(self) -> list[str]:
        found: dict[str, None] = {}
        live = [c for c in self.manager.connections if c.session.live]
        for connection in sorted(live, key=lambda c: -c.last_seen):
            url = announced_url(connection)
            if url is None and connection.direction == "dialed":
                url = api_base(connection.link.address)
            if url is not None:
                found[url] = None
        for known in self.manager.known_urls:
            found[known] = None
        return list(found)

    def sign(self, method: str, path: str) -> dict[str, str]:
        local = self.manager.local
        return node_requests.signed_headers(
            local.sign, local.cluster_id, local.certificate, method, path, self.clock_ms()
        )

    def authenticate(self, headers: Mapping[str, str], method: str, path: str) -> bytes:
        return node_requests.authenticate(
            self.manager.trust, headers, method, path, self.clock_ms()
        )
