"""Automatic compaction in a running node: it folds only what every peer in session holds, keeps
the newest events, and a member that joins afterwards catches up through the snapshot."""

from __future__ import annotations

from pathlib import Path

from performer_edge.core.compaction import compaction_target
from performer_edge.peers.compactor import Compactor
from sync.version_vector import VersionVector
from tests.peers.peer_support import converged, dialing, join, served, wait_for

A, B = b"a" * 32, b"b" * 32


def test_the_target_keeps_the_newest_and_what_a_peer_lacks() -> None:
    ours = VersionVector({A: 100, B: 30})
    assert compaction_target(ours, None, 10) == VersionVector({A: 90, B: 20})
    assert compaction_target(ours, [VersionVector({A: 50, B: 30})], 10) == VersionVector(
        {A: 50, B: 20}
    )
    assert compaction_target(ours, [VersionVector({A: 95}), VersionVector({B: 5})], 0) == (
        VersionVector({})
    )
    assert compaction_target(ours, [], 10) == VersionVector({}), "no peer in session: nothing"


async def test_a_running_node_compacts_and_a_late_member_gets_the_snapshot(
    tmp_path: Path,
) -> None:
    for name in ("a", "b", "c"):
        join(tmp_path / name)
    async with served(tmp_path / "a") as a, served(tmp_path / "b") as b:
        await a.write(60, "a")
        async with dialing(b, a.url):
            await wait_for(lambda: converged(a, b), "b to hold a's events")
            await wait_for(lambda: a.peers.peers()[0]["lag_events"] == 0, "a to see b's ack")
            origin = a.node.identity.public_key
            head = a.node.log.vector().head(origin)  # the 60 and a's JWT key announcement
            compactor = Compactor(a.node.snapshots, a.node.log, a.peers, interval=3600, keep=10)
            assert await compactor.compact_once() == head - 10  # b's one event: under `keep`
            assert await compactor.compact_once() == 0, "too little to fold: skipped"
            assert a.node.snapshots.horizon == VersionVector({origin: head - 10})
        async with served(tmp_path / "c") as c, dialing(c, a.url):
            await wait_for(lambda: converged(a, c), "c to catch up through the snapshot")
            assert c.node.snapshots.installed == 1
            assert c.node.snapshots.horizon.head(origin) == head
