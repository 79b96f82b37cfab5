"""A seeded network of real nodes (SQLite log + row tables) joined by sync sessions over
in-memory links, with a nemesis: random writes, random delivery order across links (delays),
dropped connections (frames in flight lost), heals, node restarts from disk and time jumps
(pings, anti-entropy summaries, dead-peer timeouts). Events reach a node several times over
different paths and after reconnections (duplicates), and in different orders (reordering).

Nodes also compact their logs (core.compaction): up to what every node but the *laggard* (the
last node) holds, as a node compacts only what its known peers have, with one long gone. The
laggard, and any node behind a horizon, then catches up through a snapshot plus the events
after it; the laggard compacts what everyone holds.

After each full heal (a random line through every node, so most events are relayed) the
network is drained and checked: identical vectors, identical events above every horizon,
identical tables, conflicts and hidden rows (a UNIQUE column with few values makes merged rows
collide), and every write a node acknowledged held by every node (Jepsen's set-full check:
in its log, or folded into its snapshot)."""

from __future__ import annotations

import itertools
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from performer_edge.core.compaction import Snapshots
from performer_edge.core.db import Database, WriteTx
from performer_edge.core.identity import NodeIdentity
from performer_edge.core.log import LogWriter, iter_all, read_horizon
from performer_edge.core.projections import Projections
from performer_edge.core.schema import CORE_MIGRATIONS, LOG_HORIZON_SCHEMA
from performer_edge.errors import PerformerError
from performer_edge.peers.bridge import SessionHost
from performer_edge.rest.row_constraints import ROW_HIDDEN_SCHEMA
from performer_edge.rest.row_events import RowStore
from performer_edge.rest.row_tables import ROW_EVENTS_SCHEMA
from sync.session import LocalNode, Session, SessionConfig
from sync.version_vector import VersionVector

CLUSTER = b"simulation"
ITEMS = "CREATE TABLE items(id INTEGER PRIMARY KEY, a, b, u UNIQUE)"  # u: few values, collisions
CONFIG = SessionConfig(batch_events=8, window=2, ping_interval=10, dead_after=60)


class SimNode:
    def __init__(self, index: int, directory: Path, later_steps: tuple[str, ...] = ()) -> None:
        """`later_steps`: schema steps after the usual ones (a node of a newer release)."""
        self.index = index
        self.later_steps = later_steps
        self.key = SigningKey(bytes([index + 1]) * 32)
        self.path = directory / f"node{index}.db"
        self.acked: set[tuple[bytes, int]] = set()
        self.refused = 0
        self.restarts = 0
        self._open()

    @property
    def node_id(self) -> bytes:
        return bytes(self.key.verify_key)

    def _open(self) -> None:
        self.rows = RowStore()
        self.rows.table("items", ["id"], ["a", "b", "u"])
        projections = Projections()
        projections.register(self.rows.projection)
        self.projections = projections
        migrations = (
            *CORE_MIGRATIONS,
            LOG_HORIZON_SCHEMA,
            ROW_EVENTS_SCHEMA,
            ROW_HIDDEN_SCHEMA,
            ITEMS,
            *self.later_steps,
        )
        self.db = Database(self.path, synchronous="OFF", readers=1, migrations=migrations)
        identity = NodeIdentity(self.key)
        self.log = self.db.run_exclusive(
            lambda c: LogWriter.open(c, identity, projections, max_skew_ms=60_000)
        )
        directory = self.path.parent / f"{self.path.stem}-snapshots"
        self.snapshots = Snapshots(self.db, self.log, projections, directory)

    def restart(self) -> None:
        self.db.close()
        self.restarts += 1
        self._open()

    def close(self) -> None:
        self.db.close()

    def write(self, rng: random.Random) -> None:
        """Insert, update or delete one of a few rows (so nodes often touch the same ones)."""
        row_id = rng.randrange(6)
        column = rng.choice(["a", "b", "u"])
        choices = ["p", "q", "r", None] if column == "u" else ["x", "y", 1, 2.5, None, b"\x00"]
        value = rng.choice(choices)

        def request(tx: WriteTx) -> tuple[bytes, int]:
            conn = tx.conn
            present = conn.execute("SELECT 1 FROM items WHERE id = ?", (row_id,)).fetchone()
            if present is None:
                planned = self.rows.plan_insert(conn, "items", {"id": row_id, column: value})
            elif rng.random() < 0.2:
                planned = self.rows.plan_delete(conn, "items", {"id": row_id})
            else:
                planned = self.rows.plan_update(conn, "items", {"id": row_id}, {column: value})
            return self.rows.append(tx, self.log, planned)[0].key

        try:
            self.acked.add(self.db.write_sync(request))
        except PerformerError:  # refused here (a taken unique value, a hidden row)
            self.refused += 1  # not acknowledged, so not owed to anyone

    def state(self) -> dict[str, Any]:
        def read(conn: Any) -> dict[str, Any]:
            return {
                "vector": self.log.vector(),
                "horizon": read_horizon(conn),
                "events": sorted((e.origin, e.seq, e.sig) for e in iter_all(conn)),
                "items": conn.execute("SELECT * FROM items ORDER BY id").fetchall(),
                "conflicts": sorted(conn.execute("SELECT * FROM row_conflicts").fetchall()),
                "hidden": sorted(conn.execute("SELECT tbl, pk FROM row_hidden").fetchall()),
            }

        return self.db.read_sync(read)


@dataclass
class Connection:
    """Two sessions back to back; frames in flight per direction, lost if the link drops."""

    ends: tuple[SimNode, SimNode]
    hosts: tuple[SessionHost, SessionHost]
    queues: tuple[deque[bytes], deque[bytes]] = field(default_factory=lambda: (deque(), deque()))

    def pending(self) -> bool:
        return bool(self.queues[0] or self.queues[1])


class Network:
    def __init__(self, seed: int, size: int, directory: Path) -> None:
        self.rng = random.Random(seed)
        self.nodes = [SimNode(i, directory) for i in range(size)]
        self.links: dict[tuple[int, int], Connection] = {}
        self.now = 0.0
        self.stats = {
            "writes": 0,
            "drops": 0,
            "heals": 0,
            "restarts": 0,
            "compactions": 0,
            "snapshots": 0,  # snapshots installed
            "frames": 0,
            "hidden": 0,  # rows hidden by a merge, summed over checks
        }

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    # -- the nemesis and the clients -------------------------------------------------------------

    def chaos(self, steps: int) -> None:
        rng = self.rng
        for _ in range(steps):
            roll = rng.random()
            if roll < 0.3:
                node = rng.choice(self.nodes)
                node.write(rng)
                self.stats["writes"] += 1
                self._notify(node.index)
                self._settle()
            elif roll < 0.75:
                self._deliver_one()
            elif roll < 0.81 and self.links:
                self._drop(rng.choice(sorted(self.links)))
            elif roll < 0.88:
                i, j = sorted(rng.sample(range(len(self.nodes)), 2))
                if j != len(self.nodes) - 1 or rng.random() < 0.2:  # the laggard lags
                    self._connect(i, j)
            elif roll < 0.9:
                self._restart(rng.randrange(len(self.nodes)))
            elif roll < 0.92:
                self._compact(rng.randrange(len(self.nodes)))
            else:
                self.now += rng.uniform(1, 20)
                self._tick()

    def heal_and_check(self) -> None:
        """Connect a random line through every node, drain, and check convergence."""
        for key in sorted(self.links):
            self._drop(key)
        order = list(range(len(self.nodes)))
        self.rng.shuffle(order)
        for a, b in itertools.pairwise(order):
            self._connect(min(a, b), max(a, b))
        self.stats["heals"] += 1
        budget = 20 * (self.stats["writes"] + 100)  # frames; far more than catching up needs
        for _ in range(budget):
            if not self._deliver_one():
                break
        else:
            raise AssertionError(f"the network did not settle within {budget} frames")
        self._check()

    # -- for focused tests -----------------------------------------------------------------------

    def connect(self, i: int, j: int) -> Connection:
        self._connect(min(i, j), max(i, j))
        return self.links[(min(i, j), max(i, j))]

    def wrote(self, index: int) -> None:
        """Node `index` has new events: its sessions push them."""
        self._notify(index)
        self._settle()

    def drain(self, budget: int = 10_000) -> None:
        """Deliver frames until none is in flight."""
        for _ in range(budget):
            if not self._deliver_one():
                return
        raise AssertionError(f"the network did not settle within {budget} frames")

    def compact(self, index: int, upto: VersionVector | None = None) -> None:
        self.nodes[index].snapshots.compact(upto)
        self._notify(index)
        self._settle()

    # -- moving frames ---------------------------------------------------------------------------

    def _connect(self, i: int, j: int) -> None:
        if (i, j) in self.links:
            return
        ends = (self.nodes[i], self.nodes[j])
        hosts = tuple(self._host(node) for node in ends)
        connection = Connection(ends, (hosts[0], hosts[1]))
        self.links[(i, j)] = connection
        for host in connection.hosts:
            host.session.start(self.now)
        self._settle()

    def _host(self, node: SimNode) -> SessionHost:
        local = LocalNode(node.node_id, CLUSTER, lambda m: node.key.sign(m).signature)
        horizon = node.snapshots.horizon
        session = Session(local, vector=node.log.vector(), horizon=horizon, config=CONFIG)

        def installed() -> None:
            self.stats["snapshots"] += 1
            self._notify(node.index)

        return SessionHost(
            node.db,
            node.log,
            session,
            on_ingested=lambda v: self._notify(node.index),
            on_installed=installed,
            snapshots=node.snapshots,
        )

    def _notify(self, index: int) -> None:
        node = self.nodes[index]
        vector = node.log.vector()
        for (i, j), connection in list(self.links.items()):
            if index in (i, j):
                session = connection.hosts[0 if i == index else 1].session
                if session.horizon != node.snapshots.horizon:
                    session.horizon_changed(node.snapshots.horizon, self.now)
                session.local_changed(vector, self.now)

    def _compact(self, index: int) -> None:
        """Compact node `index` up to what the nodes it counts hold (not the laggard's lag)."""
        laggard = len(self.nodes) - 1
        counted = [
            n for n in self.nodes if n.index == index or index == laggard or n.index != laggard
        ]
        vectors = [n.log.vector() for n in counted]
        upto = VersionVector({o: min(v.head(o) for v in vectors) for o in vectors[0]})
        self.compact(index, upto)
        self.stats["compactions"] += 1

    def _settle(self) -> None:
        """Carry out every end's actions and queue what they send, until nothing more comes
        (a delivery on one link makes its node push on its other links: relaying)."""
        moved = True
        while moved:
            moved = False
            for key, connection in sorted(self.links.items()):
                for side in (0, 1):
                    host = connection.hosts[side]
                    moved |= host.handle_all(self.now) > 0
                    for frame in host.session.take_frames():
                        connection.queues[side].append(frame)
                        moved = True
                if any(host.closed is not None for host in connection.hosts):
                    self._drop(key)

    def _deliver_one(self) -> bool:
        busy = [key for key, c in sorted(self.links.items()) if c.pending()]
        if not busy:
            return False
        connection = self.links[self.rng.choice(busy)]
        side = self.rng.choice([s for s in (0, 1) if connection.queues[s]])
        frame = connection.queues[side].popleft()
        self.stats["frames"] += 1
        connection.hosts[1 - side].session.receive(frame, self.now)
        self._settle()
        return True

    def _drop(self, key: tuple[int, int]) -> None:
        if self.links.pop(key, None) is not None:
            self.stats["drops"] += 1

    def _restart(self, index: int) -> None:
        for key in [k for k in self.links if index in k]:
            self._drop(key)
        self.nodes[index].restart()
        self.stats["restarts"] += 1

    def _tick(self) -> None:
        for connection in self.links.values():
            for host in connection.hosts:
                host.session.tick(self.now)
        self._settle()

    # -- the check -------------------------------------------------------------------------------

    def _check(self) -> None:
        states = [node.state() for node in self.nodes]
        acked = set().union(*(node.acked for node in self.nodes))
        shared = [
            sorted(
                e for e in state["events"] if e[1] > max(s["horizon"].head(e[0]) for s in states)
            )
            for state in states
        ]
        for node, state, above in zip(self.nodes, states, shared, strict=True):
            vector = state["vector"]
            lost = {(origin, seq) for origin, seq in acked if seq > vector.head(origin)}
            assert not lost, f"node {node.index} lacks {len(lost)} acknowledged events"
            held = {(origin, seq) for origin, seq, _ in state["events"]}
            for origin, head in vector.items():
                dense = range(state["horizon"].head(origin) + 1, head + 1)
                assert all((origin, seq) in held for seq in dense), f"node {node.index}: a gap"
            assert vector == states[0]["vector"], f"node {node.index}'s vector differs"
            assert above == shared[0], f"node {node.index}'s log differs from node 0's"
            for table in ("items", "conflicts", "hidden"):
                assert state[table] == states[0][table], f"node {node.index}'s {table} differ"
        self.stats["hidden"] += len(states[0]["hidden"])
