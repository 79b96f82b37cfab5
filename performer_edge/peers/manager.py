"""The node's sync sessions: opens one per link, keeps them fed and ticking, reports on them.

Every event the node commits (written here or ingested from any peer) reaches the manager on
the bus; each live session is then told the log's new vector, so it pushes what its peer lacks
(that is also how events are relayed across a line of nodes). A second task ticks every session
(`TICK_S`): pings, anti-entropy summaries and dead-peer timeouts. A session the peer broke
(`Fault.PEER`) is counted against that peer and logged at WARNING.

Only a node with cluster membership syncs; its sessions use the cluster's trust policy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from performer_edge.core.bus import EventBus, SubscriptionDropped
from performer_edge.core.compaction import Snapshots
from performer_edge.core.db import Database
from performer_edge.core.identity import NodeIdentity
from performer_edge.core.log import LogWriter
from performer_edge.errors import Unavailable
from performer_edge.peers.bridge import SessionHost
from performer_edge.peers.cluster_events import REVOKED
from performer_edge.peers.connection import Link, PeerConnection
from performer_edge.peers.membership import Membership
from performer_edge.peers.trust import ClusterTrust
from sync.session import Fault, LocalNode, Session, SessionConfig
from sync.version_vector import VersionVector

log = logging.getLogger("performer.peers")

TICK_S: Final = 1.0
SHUTDOWN_S: Final = 3.0  # how long closing waits for BYEs to go out
FEATURES: Final = ("events",)
MAX_FEATURE: Final = 64  # characters of one HELLO feature (sync/codec.py)


def lag(ours: VersionVector, theirs: VersionVector) -> int:
    """Events `ours` holds that `theirs` lacks."""
    return sum(last - first + 1 for first, last in ours.missing_from(theirs).values())


class PeerManager:
    """Every live session of one node. `start()` on the node's loop; `close()` at shutdown."""

    def __init__(
        self,
        db: Database,
        log_writer: LogWriter,
        bus: EventBus,
        identity: NodeIdentity,
        membership: Membership,
        *,
        revoked: set[bytes],
        snapshots: Snapshots | None = None,
        config: SessionConfig | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        """`revoked`: the keys refused, one set its owner updates in place as revocations
        commit (the trust policy reads it at each handshake)."""
        self.db = db
        self.log = log_writer
        self.bus = bus
        self.snapshots = snapshots
        self.config = config or SessionConfig()
        self.trust = ClusterTrust(membership.cluster_id, clock_ms, revoked)
        key = identity.signing_key
        self.local = LocalNode(
            identity.public_key,
            membership.cluster_id,
            lambda message: key.sign(message).signature,
            membership.certificate,
            FEATURES,
            self.trust.check,
        )
        self.connections: set[PeerConnection] = set()
        # Where peers' HTTP APIs are (the dialer's targets), and this node's own, announced in
        # HELLO as `api=<url>` once the server listens: storage fetches blobs there.
        self.known_urls: dict[str, None] = {}
        self.api_url: str | None = None
        self.faults: Counter[str] = Counter()  # peer (node id hex, else address) -> faults
        self.events_received = 0
        self.sessions_opened = 0
        self.sessions_closed = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closers: set[asyncio.Task[None]] = set()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin feeding and ticking sessions. Call on the loop the bus is attached to."""
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._follow_log(), name="sync-follow-log"),
            asyncio.create_task(self._tick_all(), name="sync-tick"),
        ]

    async def close(self) -> None:
        """Say BYE on every session (waiting a little for it to go out), then stop."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        connections = list(self.connections)
        await asyncio.gather(
            *(c.close("the node is shutting down") for c in connections), return_exceptions=True
        )
        waiting = [asyncio.create_task(c.wait_finished()) for c in connections]
        if waiting:
            _, pending = await asyncio.wait(waiting, timeout=SHUTDOWN_S)
            for task in pending:
                task.cancel()
        for connection in connections:
            if not connection.finished:
                await connection.abort()

    @property
    def closing(self) -> bool:
        return self._closing

    def open(self, link: Link, direction: str) -> PeerConnection:
        """A new session over `link`, started (it says HELLO at once)."""
        if self._closing:
            raise Unavailable("the node is shutting down", code="shutting_down")
        snapshots = self.snapshots
        horizon = snapshots.horizon if snapshots is not None else VersionVector()
        local = self.local
        if self.api_url is not None and len(self.api_url) <= MAX_FEATURE - len("api="):
            local = replace(local, features=(*local.features, f"api={self.api_url}"))
        session = Session(local, vector=self.log.vector(), horizon=horizon, config=self.config)
        host = SessionHost(
            self.db, self.log, session, on_installed=self.state_replaced, snapshots=snapshots
        )
        connection = PeerConnection(
            host, link, direction, self._finished, self._one_per_peer, self._link_fault
        )
        self.connections.add(connection)
        self.sessions_opened += 1
        connection.start()
        log.info("sync session opened (%s %s, %s)", direction, link.address, link.transport)
        return connection

    # -- reports -----------------------------------------------------------------------------

    def peers(self) -> list[dict[str, Any]]:
        """Connected peers, for `GET /performer/v1/peers` and `performer peers`."""
        ours = self.log.vector()
        listed = []
        for connection in sorted(self.connections, key=lambda c: c.connected_at):
            peer_id = connection.peer_id
            theirs = connection.peer_vector
            listed.append(
                {
                    "node_id": peer_id.hex() if peer_id else None,
                    "address": connection.link.address,
                    "transport": connection.link.transport,
                    "direction": connection.direction,
                    "state": "live" if connection.session.live else "handshake",
                    "connected_at": round(connection.connected_at, 3),
                    "last_seen": round(connection.last_seen, 3),
                    "lag_events": lag(ours, theirs) if connection.session.live else None,
                    "behind_events": lag(theirs, ours) if connection.session.live else None,
                    "events_received": connection.host.delivered,
                    "frames_in": connection.frames_in,
                    "frames_out": connection.frames_out,
                    "faults": self.faults[self._name(connection)],
                }
            )
        return listed

    def health(self) -> dict[str, Any]:
        """Sync metrics for `/health`."""
        ours = self.log.vector()
        live = [c for c in self.connections if c.session.live]
        return {
            "cluster_id": self.local.cluster_id.hex(),
            "peers_connected": len(self.connections),
            "peers_live": len(live),
            "max_lag_events": max((lag(ours, c.peer_vector) for c in live), default=0),
            "events_received": self.events_received
            + sum(c.host.delivered for c in self.connections),
            "sessions_opened": self.sessions_opened,
            "sessions_closed": self.sessions_closed,
            "peer_faults": sum(self.faults.values()),
            "clock_ahead_events": self.log.clock_ahead_events,
            "snapshots_installed": self.snapshots.installed if self.snapshots else 0,
            "horizon_events": self.snapshots.horizon.total() if self.snapshots else 0,
        }

    # -- internals ---------------------------------------------------------------------------

    def _finished(self, connection: PeerConnection) -> None:
        self.connections.discard(connection)
        self.sessions_closed += 1
        self.events_received += connection.host.delivered
        closed = connection.closed
        reason = closed.reason if closed else "ended"
        name = self._name(connection)
        if closed is not None and closed.fault is Fault.PEER:
            self.faults[name] += 1
            log.warning(
                "sync peer %s (%s %s) faulted: %s",
                name,
                connection.link.transport,
                connection.link.address,
                reason,
            )
        else:
            log.info("sync session with %s ended: %s", name, reason)

    def _link_fault(self, connection: PeerConnection, reason: str) -> None:
        """The peer broke the rules on a link whose session had already ended otherwise."""
        name = self._name(connection)
        self.faults[name] += 1
        log.warning("sync peer %s (%s) faulted: %s", name, connection.link.address, reason)

    @staticmethod
    def _name(connection: PeerConnection) -> str:
        peer_id = connection.peer_id
        return peer_id.hex() if peer_id is not None else connection.link.address

    async def _follow_log(self) -> None:
        while True:
            subscription = self.bus.subscribe("sync-peers")
            try:
                while True:
                    event = await subscription.get()
                    if event.kind == REVOKED:
                        self._drop_revoked()
                    self._poke_all()
            except SubscriptionDropped:
                self._drop_revoked()  # fell behind: a revocation may be among what it missed
                self._poke_all()  # the vector says what is new anyway
            finally:
                subscription.close()

    def _one_per_peer(self, connection: PeerConnection) -> None:
        """A session just went live: if another one with the same peer is live too (both
        nodes dialed each other, or discovery found a configured peer), keep one. Both nodes
        keep the session that the smaller node id dialed, so they close the same one; of two
        dialed the same way, the newer (the older may be a dead link not yet noticed)."""
        peer_id = connection.peer_id
        if peer_id is None:
            return
        same = [
            c
            for c in self.connections
            if c.peer_id == peer_id and c.live_since is not None and not c.finished
        ]
        if len(same) < 2:
            return
        ours = self.local.node_id
        kept_direction = "dialed" if ours < peer_id else "accepted"
        keep = max(same, key=lambda c: (c.direction == kept_direction, c.live_since or 0.0))
        for other in same:
            if other is not keep:
                log.info("sync: a second session with %s; closing one", peer_id.hex()[:16])
                task = asyncio.create_task(other.close("duplicate session with this peer"))
                self._closers.add(task)
                task.add_done_callback(self._closers.discard)

    def _drop_revoked(self) -> None:
        """A revocation committed (appended here or received): end the sessions of revoked
        keys now, not at their next handshake. The trust policy's set is already current (the
        node updates it on commit, before the bus hears of the event)."""
        for connection in list(self.connections):
            peer_id = connection.peer_id
            if peer_id is None or peer_id not in self.trust.revoked:
                continue
            log.warning("sync peer %s is revoked: ending its session", peer_id.hex())
            task = asyncio.create_task(connection.close("your node key is revoked"))
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    def state_replaced(self) -> None:
        """A snapshot was installed or the log compacted (from any thread): every session
        learns the new vector and horizon; no event on the bus says so."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._poke_all)

    def _poke_all(self) -> None:
        for connection in self.connections:
            connection.changed()

    async def _tick_all(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for connection in list(self.connections):
                connection.tick()
