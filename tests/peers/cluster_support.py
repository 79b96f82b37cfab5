"""Two or three real nodes in one process, in a cluster, exchanging events as sync would:
`read_missing` on one side, `LogWriter.ingest` on the other (the transports are tested apart)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from performer_edge.config import Settings
from performer_edge.core.datadir import DataDir
from performer_edge.core.log import read_missing, version_vector
from performer_edge.node import Node
from performer_edge.peers import invites, membership, trust

NOW_MS = int(time.time() * 1000)


def make_root(path: Path, **settings: Any) -> Node:
    """A node that made a cluster (it holds the root key)."""
    data_dir = DataDir(path)
    data_dir.initialize()
    membership.create_cluster(data_dir, data_dir.load_identity(), NOW_MS)
    return Node.open(Settings(data=path, port=0, **settings))


def make_member(path: Path, root: Node, roles: tuple[str, ...] = ("node",)) -> Node:
    """A node admitted to `root`'s cluster (its certificate saved as `cluster join` does)."""
    data_dir = DataDir(path)
    data_dir.initialize()
    key = membership.load_root(root.data_dir)
    assert key is not None
    certificate = trust.issue(key, data_dir.load_identity().public_key, NOW_MS, roles=roles)
    membership.save(data_dir, membership.Membership(bytes(key.verify_key), certificate))
    return Node.open(Settings(data=path, port=0))


def pending_invite(root: Node, *, expires_ms: int | None = None) -> invites.Invite:
    made = root.cluster.membership
    assert made is not None
    book = invites.InviteBook(root.data_dir)
    expiry = NOW_MS + 3_600_000 if expires_ms is None else expires_ms
    return book.issue(made.cluster_id, ("http://127.0.0.1:1",), ("node",), NOW_MS, expiry)


async def receive(into: Node, source: Node) -> int:
    """Ingest into `into` every event `source` holds that it lacks; how many were new.

    Through the async write path, so the node's cluster state has taken the commit's effects
    by the time this returns (its `on_commit` runs with the waiter's wake-up)."""
    held = into.db.read_sync(version_vector)
    events = source.db.read_sync(lambda c: read_missing(c, held, 10_000))
    added = 0
    for event in events:
        added += await into.db.write(lambda tx, e=event: into.log.ingest(tx, e))
    return added
