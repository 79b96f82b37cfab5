"""The snapshot path between two real nodes (SQLite logs and row tables) over an in-memory link:
a node behind the compaction horizon gets a snapshot plus the events after it; what it wrote
itself survives; a snapshot that does not match its offer, or that carries SQL a node never
makes, is refused with nothing applied; a compacted node replays from its base snapshot."""

from __future__ import annotations

import random
from pathlib import Path

import apsw
import pytest
from simulation import Network, SimNode

from performer_edge.core.log import iter_all, last_position
from performer_edge.core.replay import replay
from performer_edge.core.snapshot import LOCAL_TABLES, file_digest
from performer_edge.errors import IntegrityError
from sync.codec import decode, encode
from sync.messages import SnapshotChunk


@pytest.fixture
def network(tmp_path: Path):  # type: ignore[no-untyped-def]
    net = Network(seed=7, size=2, directory=tmp_path)
    yield net
    net.close()


def write(node: SimNode, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        node.write(rng)


def tables(node: SimNode) -> dict[str, object]:
    state = node.state()
    return {k: state[k] for k in ("items", "conflicts", "hidden")}


def test_a_node_behind_the_horizon_catches_up_through_a_snapshot(network: Network) -> None:
    a, b = network.nodes
    write(a, 60)
    network.compact(0)
    assert a.state()["events"] == [], "a full compaction leaves no event in the log"
    assert a.state()["horizon"] == a.log.vector()

    network.connect(0, 1)
    network.drain()
    assert network.stats["snapshots"] == 1
    assert b.log.vector() == a.log.vector()
    assert tables(b) == tables(a)
    assert b.state()["horizon"] == a.log.vector()  # b holds those events only as state

    write(a, 10, seed=2)  # after the snapshot: plain events
    network.wrote(0)
    network.drain()
    assert network.stats["snapshots"] == 1
    assert b.log.vector() == a.log.vector() and tables(b) == tables(a)


def test_what_the_behind_node_wrote_itself_survives_the_snapshot(network: Network) -> None:
    a, b = network.nodes
    write(a, 40, seed=3)
    network.compact(0)
    write(b, 25, seed=4)
    written = set(b.acked)
    assert written

    network.connect(0, 1)
    network.drain()
    assert network.stats["snapshots"] == 1
    assert a.log.vector() == b.log.vector()
    assert tables(a) == tables(b)
    for node in (a, b):
        vector = node.log.vector()
        assert all(seq <= vector.head(origin) for origin, seq in written)
    held_by_a = {(origin, seq) for origin, seq, _ in a.state()["events"]}
    assert written <= held_by_a  # a got b's writes as events


def test_a_partial_compaction_serves_events_above_the_horizon(network: Network) -> None:
    a, b = network.nodes
    write(a, 30, seed=5)
    network.connect(0, 1)
    network.drain()
    network.links.clear()
    write(a, 30, seed=6)
    network.compact(0, b.log.vector())  # what the peer holds: it needs no snapshot
    network.connect(0, 1)
    network.drain()
    assert network.stats["snapshots"] == 0
    assert b.log.vector() == a.log.vector() and tables(b) == tables(a)


def test_an_altered_snapshot_is_refused_and_nothing_applied(network: Network) -> None:
    a, b = network.nodes
    write(a, 50, seed=8)
    network.compact(0)
    connection = network.connect(0, 1)
    altered = 0
    for _ in range(200):
        queue = connection.queues[0]  # a -> b
        for index, frame in enumerate(queue):
            message = decode(frame)
            if isinstance(message, SnapshotChunk) and not altered:
                data = bytearray(message.data)
                data[len(data) // 2] ^= 0xFF
                chunk = SnapshotChunk(message.snapshot, message.offset, bytes(data))
                queue[index] = encode(chunk)
                altered += 1
        if not network._deliver_one():
            break
    assert altered == 1
    assert b.log.vector().total() == 0, "nothing of the snapshot was applied"
    assert tables(b)["items"] == []
    assert network.stats["snapshots"] == 0
    assert (0, 1) not in network.links, "the session ended"
    assert not list(b.snapshots.directory.glob("incoming-*")), "the partial file is gone"


def test_a_snapshot_carrying_foreign_sql_is_refused(network: Network) -> None:
    a, b = network.nodes
    write(a, 20, seed=9)
    network.compact(0)
    base = a.snapshots.base
    assert base is not None
    hostile = b.snapshots.directory / "hostile.db"
    b.snapshots.directory.mkdir(parents=True, exist_ok=True)
    hostile.write_bytes(base.path.read_bytes())
    conn = apsw.Connection(str(hostile))
    conn.execute("CREATE TRIGGER wipe AFTER INSERT ON items BEGIN DELETE FROM events; END")
    conn.close()
    data = hostile.read_bytes()
    digest = file_digest(hostile)
    snapshot_id = digest.hex()
    b.snapshots.receive(snapshot_id, 0, data)
    with pytest.raises(IntegrityError, match="not allowed"):
        b.snapshots.install(snapshot_id, len(data), digest)
    assert b.log.vector().total() == 0 and tables(b)["items"] == []


def test_a_compacted_node_replays_to_the_same_state(network: Network) -> None:
    a, b = network.nodes
    write(a, 40, seed=10)
    write(b, 20, seed=11)
    network.connect(0, 1)
    network.drain()
    network.compact(0, b.log.vector())
    write(a, 15, seed=12)
    before = tables(a)
    report = a.db.run_exclusive(lambda conn: replay(conn, a.projections))
    assert report.from_snapshot
    assert tables(a) == before


def test_a_snapshot_from_an_older_release_is_brought_to_the_schema_of_the_new(
    network: Network, tmp_path: Path
) -> None:
    a = network.nodes[0]
    write(a, 30, seed=13)
    network.compact(0)
    base = a.snapshots.base
    assert base is not None
    newer = SimNode(5, tmp_path, later_steps=("CREATE TABLE later(x);",))
    older = SimNode(6, tmp_path)
    try:
        data = base.path.read_bytes()
        newer.snapshots.receive(base.id, 0, data)
        assert newer.snapshots.install(base.id, base.size, base.digest) == a.log.vector()
        assert tables(newer) == tables(a)
        newer.db.read_sync(lambda c: c.execute("SELECT count(*) FROM later").fetchall())

        made_by_newer = newer.snapshots.compact()  # one schema step ahead of `older`
        data = made_by_newer.snapshot.path.read_bytes()
        snapshot = made_by_newer.snapshot
        older.snapshots.receive(snapshot.id, 0, data)
        with pytest.raises(IntegrityError, match="upgrade performer"):
            older.snapshots.install(snapshot.id, snapshot.size, snapshot.digest)
        assert older.log.vector().total() == 0
    finally:
        newer.close()
        older.close()


def test_a_node_local_table_is_neither_carried_nor_replaced(tmp_path: Path) -> None:
    steps = ("CREATE TABLE work(x);",)  # like the trigger runs a node owes: its own business
    a, b = SimNode(7, tmp_path, later_steps=steps), SimNode(8, tmp_path, later_steps=steps)
    try:
        for node, mark in ((a, "a's"), (b, "b's")):
            node.snapshots.local_tables = LOCAL_TABLES | {"work"}
            node.db.write_sync(
                lambda tx, m=mark: tx.conn.execute("INSERT INTO work VALUES (?)", [m])
            )
        write(a, 10, seed=14)
        snapshot = a.snapshots.compact().snapshot
        carried = apsw.Connection(str(snapshot.path))
        assert carried.execute("SELECT count(*) FROM work").fetchone() == (0,)
        carried.close()
        b.snapshots.receive(snapshot.id, 0, snapshot.path.read_bytes())
        b.snapshots.install(snapshot.id, snapshot.size, snapshot.digest)
        assert tables(b) == tables(a)
        kept = b.db.read_sync(lambda c: c.execute("SELECT x FROM work").fetchall())
        assert kept == [("b's",)]
    finally:
        a.close()
        b.close()


def test_positions_are_never_given_twice_after_a_compaction_empties_the_log(
    network: Network,
) -> None:
    """Readers remember positions (Last-Event-ID, trigger followers): a log compacted empty
    must go on from the highest position it gave, across a restart too."""
    a = network.nodes[0]
    write(a, 5)
    network.compact(0)
    assert a.state()["events"] == []
    assert a.db.read_sync(last_position) == 5
    write(a, 1, seed=2)
    assert positions(a) == [6]
    network.compact(0)
    a.restart()
    write(a, 2, seed=3)
    assert positions(a) == [7, 8]


def positions(node: SimNode) -> list[int]:
    return [e.pos for e in node.db.read_sync(lambda conn: list(iter_all(conn)))]
