"""This node's cluster while it runs: its membership, the revoked keys its sync sessions refuse,
and the members' JWT keys its token verification trusts.

Loaded from the cluster projection when the node opens, then kept current from the effects of
committed `cluster.*` events (local or ingested from a peer), which `Node` hands to `on_commit`
before the bus sees them. `revoked` is one set mutated in place, so every `ClusterTrust` made
by `trust_policy()` sees a revocation as soon as it commits. Imports `core` and `peers` only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import apsw
from cryptography.hazmat.primitives.asymmetric import ec

from performer_edge.core.datadir import DataDir
from performer_edge.core.db import Database, WriteTx
from performer_edge.core.events import Event
from performer_edge.core.hlc import wall_clock_ms
from performer_edge.core.identity import NodeIdentity
from performer_edge.core.log import LogWriter
from performer_edge.core.tokens import TokenKeys, TrustedKeys
from performer_edge.peers import cluster_events, membership
from performer_edge.peers.cluster_events import JWT_KEY, MemberKey, Revoked
from performer_edge.peers.membership import Membership
from performer_edge.peers.trust import ClusterTrust


class ClusterState:
    """Membership, revoked set and member keys of one node. Thread-safe: commits are reported
    on the writer thread or the event loop, and sessions read from either."""

    def __init__(
        self,
        data_dir: DataDir,
        identity: NodeIdentity,
        ring: TrustedKeys,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.identity = identity
        self.ring = ring
        self.clock_ms = clock_ms
        self.membership: Membership | None = membership.load(data_dir)
        self.revoked: set[bytes] = set()
        self._keys: dict[tuple[bytes, str], MemberKey] = {}
        self._lock = threading.Lock()
        self._db: Database | None = None
        self._log: LogWriter | None = None

    @property
    def cluster_id(self) -> bytes | None:
        return self.membership.cluster_id if self.membership else None

    def open(self, db: Database, log: LogWriter, tokens: TokenKeys) -> None:
        """Load the projection's state; announce this node's JWT key if it never has."""
        self._db, self._log = db, log
        db.read_sync(self.load)
        self.announce(tokens)

    def joined(self, made: Membership, tokens: TokenKeys) -> None:
        """The node has just made or joined a cluster (`performer cluster init|join`)."""
        self.membership = made
        if self._db is not None:
            self._db.read_sync(self.load)
        self.announce(tokens)

    def trust_policy(self) -> ClusterTrust | None:
        """The policy for this node's sync sessions (None outside a cluster). It shares
        `revoked` with this state, so it refuses a key as soon as its revocation commits."""
        if self.membership is None:
            return None
        return ClusterTrust(self.membership.cluster_id, self.clock_ms, self.revoked)

    def members(self) -> list[MemberKey]:
        with self._lock:
            return list(self._keys.values())

    # -- keeping current -----------------------------------------------------------------------

    def load(self, conn: apsw.Connection) -> None:
        """Re-read the projection (at open, after a replay, after joining)."""
        cluster_id = self.cluster_id
        with self._lock:
            self.revoked.clear()
            self._keys.clear()
            if cluster_id is not None:
                self.revoked.update(cluster_events.revoked_nodes(conn, cluster_id))
                for key in cluster_events.member_keys(conn, cluster_id):
                    self._keys[(key.node_id, key.kid)] = key
            self._publish_ring()

    def on_commit(self, events: Iterable[Event]) -> None:
        """Take the effects of committed cluster events (the `Database.on_commit` hook)."""
        cluster_id = self.cluster_id
        if cluster_id is None:
            return
        with self._lock:
            changed = False
            for event in events:
                effect = event.effect
                if isinstance(effect, Revoked) and effect.cluster_id == cluster_id:
                    self.revoked.add(effect.node_id)
                    for member in [k for k in self._keys if k[0] == effect.node_id]:
                        del self._keys[member]
                    changed = True
                elif (
                    isinstance(effect, MemberKey)
                    and effect.cluster_id == cluster_id
                    and effect.node_id not in self.revoked
                ):
                    self._keys[(effect.node_id, effect.kid)] = effect
                    changed = True
            if changed:
                self._publish_ring()

    def _publish_ring(self) -> None:
        ring: dict[str, tuple[ec.EllipticCurvePublicKey, float | None]] = {}
        for key in self._keys.values():
            expires_at = key.expires_ms / 1000 if key.expires_ms else None
            if key.kid in ring:  # one key announced by two members: the longer-lived holds
                held = ring[key.kid][1]
                expires_at = None if held is None or expires_at is None else max(held, expires_at)
            ring[key.kid] = (key.public, expires_at)
        self.ring.replace(ring)

    # -- announcing this node's key --------------------------------------------------------------

    def announce(self, tokens: TokenKeys) -> Event | None:
        """Append `cluster.jwt_key` for this node's signing key, once per key and cluster."""
        if self.membership is None or self._db is None:
            return None
        return self._db.write_sync(lambda tx: self._announce(tx, tokens))

    def _announce(self, tx: WriteTx, tokens: TokenKeys) -> Event | None:
        made, log = self.membership, self._log
        assert made is not None
        assert log is not None
        me = self.identity.public_key
        if cluster_events.is_revoked(tx.conn, made.cluster_id, me):
            return None
        held = tx.conn.execute(
            "SELECT 1 FROM cluster_jwt_keys WHERE cluster_id = ? AND node_id = ? AND kid = ?",
            (made.cluster_id, me, tokens.kid),
        ).fetchone()
        if held is not None:
            return None
        public = tokens.signing_key.public_key()
        payload = cluster_events.jwt_key(public, made.certificate)
        return log.append(tx, JWT_KEY, self.identity.node_id, payload)
