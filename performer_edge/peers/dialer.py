"""Dial the configured peers and hub, and keep dialing: reconnect with backoff after any end.

A target URL names the peer's node (its API URL); the scheme picks the transport:
`http://` / `https://` (or `ws://` / `wss://`) sync over WebSocket at `/performer/v1/sync`;
`sse+http://` / `sse+https://` over SSE down + POST up. A hub is dialed like any peer.

Backoff: after a failed attempt or a session's end, wait a random time in [d/2, d] where d
doubles from `BACKOFF_MIN_S` up to `BACKOFF_MAX_S`; a session that stayed live for
`STABLE_S` resets d, so a peer that restarts is found again at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from performer_edge.errors import ConfigError, Unavailable
from performer_edge.peers import transport_sse_client, transport_ws
from performer_edge.peers.blob_peers import api_base
from performer_edge.peers.connection import PeerConnection
from performer_edge.peers.manager import PeerManager

log = logging.getLogger("performer.peers")

BACKOFF_MIN_S: Final = 0.5
BACKOFF_MAX_S: Final = 30.0
STABLE_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 10.0

_SCHEMES: Final = {
    "http": ("websocket", "ws"),
    "https": ("websocket", "wss"),
    "ws": ("websocket", "ws"),
    "wss": ("websocket", "wss"),
    "sse+http": ("sse", "http"),
    "sse+https": ("sse", "https"),
}


@dataclass(frozen=True)
class Target:
    given: str  # as configured
    transport: str  # "websocket" or "sse"
    url: str  # the WebSocket endpoint, or the node's base URL for SSE


def parse_target(given: str) -> Target:
    """A configured peer URL, checked; ConfigError says what is wrong with it."""
    parts = urlsplit(given.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES or not parts.hostname:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise ConfigError(f"peer URL {given!r} must be HOST:PORT after one of {known}")
    if parts.query or parts.fragment:
        raise ConfigError(f"peer URL {given!r} must not have a query or fragment")
    transport, wire_scheme = _SCHEMES[scheme]
    base = parts.path.rstrip("/")
    if transport == "websocket":
        path = base + transport_ws.SYNC_PATH
        return Target(given, transport, urlunsplit((wire_scheme, parts.netloc, path, "", "")))
    return Target(given, transport, urlunsplit((wire_scheme, parts.netloc, base, "", "")))


def configured_targets(peers: tuple[str, ...], hub: str | None, syncing: bool) -> list[Target]:
    """The `peer` and `hub` settings as targets; ConfigError when they cannot be used."""
    given = [*peers, *([hub] if hub else [])]
    if given and not syncing:
        raise ConfigError(
            "--peer and --hub need this node to belong to a cluster "
            "(keys/cluster.json in the data dir; see `performer cluster`)"
        )
    return [parse_target(url) for url in given]


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """How long to wait before attempt `attempt + 1` (0-based): jittered, bounded."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** min(attempt, 16))
    return rng.uniform(ceiling / 2, ceiling)


class Dialer:
    """One task per target, each connecting, syncing until the session ends, and retrying."""

    def __init__(self, manager: PeerManager, targets: list[Target]) -> None:
        self.manager = manager
        self.targets = targets
        self._rng = random.Random()
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._found: dict[str, asyncio.Task[None]] = {}  # discovered peers, by service name
        self._found_bases: dict[str, str] = {}  # their API URLs, by service name

    async def start(self) -> None:
        for target in self.targets:
            self._remember(target)
        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S)
        self._http = aiohttp.ClientSession(timeout=timeout)
        self._tasks = [
            asyncio.create_task(self._keep_dialing(t), name=f"sync-dial-{t.given}")
            for t in self.targets
        ]

    def add(self, name: str, url: str) -> None:
        """Keep dialing a peer found on the LAN (discovery), until `forget(name)`."""
        if name in self._found or self._http is None or self.manager.closing:
            return
        target = parse_target(url)
        base = self._remember(target)
        if base is not None:
            self._found_bases[name] = base
        self._found[name] = asyncio.create_task(
            self._keep_dialing(target), name=f"sync-dial-found-{target.given}"
        )

    def forget(self, name: str) -> None:
        """Stop redialing a discovered peer (its announcement went away)."""
        task = self._found.pop(name, None)
        if task is not None:
            task.cancel()
        base = self._found_bases.pop(name, None)
        if base is not None:
            self.manager.known_urls.pop(base, None)

    def _remember(self, target: Target) -> str | None:
        """Note the peer's API URL, where storage may fetch blobs (peers.blob_peers)."""
        base = api_base(target.given)
        if base is not None:
            self.manager.known_urls[base] = None
        return base

    async def close(self) -> None:
        tasks = [*self._tasks, *self._found.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def _keep_dialing(self, target: Target) -> None:
        attempt = 0
        while True:
            connection = await self._dial_once(target)
            if self.manager.closing:
                return
            live_since = connection.live_since if connection is not None else None
            if live_since is not None and time.monotonic() - live_since >= STABLE_S:
                attempt = 0
            delay = backoff_delay(attempt, self._rng)
            attempt += 1
            log.info("sync: dialing %s again in %.1f s", target.given, delay)
            await asyncio.sleep(delay)

    async def _dial_once(self, target: Target) -> PeerConnection | None:
        assert self._http is not None
        try:
            if target.transport == "websocket":
                return await transport_ws.dial(self._http, target.url, self.manager)
            return await transport_sse_client.dial(self._http, target.url, self.manager)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("sync: cannot reach %s: %s", target.given, exc or type(exc).__name__)
        except transport_sse_client.SyncRefused as exc:
            log.warning("sync: %s", exc)
        except Unavailable:
            pass  # the node is shutting down
        return None
