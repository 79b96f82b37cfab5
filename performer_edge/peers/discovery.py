"""LAN discovery: nodes of one cluster find each other with mDNS/DNS-SD (zeroconf) and sync.

Each syncing node announces `_performer-sync._tcp.local.` on the interfaces it serves on, with
its port and a TXT record of public facts only: protocol version, its node id (a public key)
and a hash of the cluster id. It browses the same type; for a peer that names the same cluster
hash and is not already connected, the node with the smaller id dials the other (so two nodes
keep one session, not two), through the dialer, which redials with backoff until the peer's
announcement goes away. Whether the peer may sync is decided by the handshake (its key and
certificate), never by the announcement, which anyone on the LAN can forge.

A node listening on a single address (127.0.0.1 by default) announces and browses on that
address only; one listening on 0.0.0.0 uses every IPv4 interface.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import Any, Final

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger("performer.peers.discovery")

SERVICE_TYPE: Final = "_performer-sync._tcp.local."
TXT_VERSION: Final = "1"
RESOLVE_TIMEOUT_MS: Final = 3000


def cluster_tag(cluster_id: bytes) -> str:
    """What the announcement says of the cluster: a hash, enough to tell clusters apart."""
    return hashlib.sha256(b"performer-cluster:" + cluster_id).hexdigest()[:16]


def announcement(node_id: bytes, cluster_id: bytes) -> dict[str, str]:
    return {"v": TXT_VERSION, "node": node_id.hex(), "cluster": cluster_tag(cluster_id)}


def should_dial(ours: bytes, properties: dict[str, str], cluster_id: bytes) -> bytes | None:
    """The peer's node id when this node should dial it: same cluster, not itself, and this
    node's id the smaller. None otherwise (including for a malformed announcement)."""
    if properties.get("v") != TXT_VERSION or properties.get("cluster") != cluster_tag(cluster_id):
        return None
    try:
        theirs = bytes.fromhex(properties.get("node", ""))
    except ValueError:
        return None
    if len(theirs) != len(ours) or theirs == ours or not ours < theirs:
        return None
    return theirs


class Discovery:
    """Announce this node and dial the peers it finds. `dial(name, url)` starts keeping a
    session with a URL; `forget(name)` stops redialing it; `connected(node_id)` tells whether
    a session with that node exists already."""

    def __init__(
        self,
        node_id: bytes,
        cluster_id: bytes,
        host: str,
        port: int,
        *,
        dial: Callable[[str, str], None],
        forget: Callable[[str], None],
        connected: Callable[[bytes], bool],
    ) -> None:
        self.node_id = node_id
        self.cluster_id = cluster_id
        self.host = host
        self.port = port
        self._dial = dial
        self._forget = forget
        self._connected = connected
        self._zeroconf: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.found: dict[str, bytes] = {}  # service name -> node id dialed

    async def start(self) -> None:
        wildcard = self.host in ("0.0.0.0", "", "::")
        interfaces: Any = InterfaceChoice.All if wildcard else [self.host]
        self._zeroconf = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        name = f"{self.node_id.hex()[:16]}.{SERVICE_TYPE}"
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            name,
            port=self.port,
            properties=announcement(self.node_id, self.cluster_id),
            server=f"performer-{self.node_id.hex()[:16]}.local.",
            addresses=[socket.inet_aton(a) for a in _addresses(self.host)],
        )
        await self._zeroconf.async_register_service(self._info)
        self._browser = AsyncServiceBrowser(
            self._zeroconf.zeroconf, SERVICE_TYPE, handlers=[self._on_change]
        )
        log.info("discovery: announcing %s on %s:%d", name, self.host, self.port)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zeroconf is not None:
            if self._info is not None:
                await self._zeroconf.async_unregister_service(self._info)
            await self._zeroconf.async_close()

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            if self.found.pop(name, None) is not None:
                self._forget(name)
            return
        task = asyncio.get_running_loop().create_task(self._consider(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consider(self, name: str) -> None:
        if name in self.found or self._zeroconf is None:
            return
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(self._zeroconf.zeroconf, RESOLVE_TIMEOUT_MS):
            return
        properties = {
            k.decode(errors="replace"): (v or b"").decode(errors="replace")
            for k, v in info.properties.items()
        }
        theirs = should_dial(self.node_id, properties, self.cluster_id)
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if theirs is None or not addresses or info.port is None or self._connected(theirs):
            return
        url = f"http://{addresses[0]}:{info.port}"
        self.found[name] = theirs
        log.info("discovery: found %s at %s; dialing", theirs.hex()[:12], url)
        self._dial(name, url)


def _addresses(host: str) -> list[str]:
    """The IPv4 addresses to announce for a server listening on `host`."""
    if host not in ("0.0.0.0", "", "::"):
        return [str(ipaddress.IPv4Address(socket.gethostbyname(host)))]
    import ifaddr  # zeroconf's own dependency

    found = [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and not ipaddress.IPv4Address(ip.ip).is_loopback
    ]
    return found or ["127.0.0.1"]
