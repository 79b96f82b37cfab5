"""Durable appends per second: our group-committing writer against raw apsw, same disk, one run.

    .venv/bin/python bench/event_log.py [--seconds 5] [--dir PARENT] [--json] [--profile]

Ours: a fresh node (`Node.open`, synchronous=FULL) with N asyncio tasks each looping
`await node.append(...)`, at concurrency 1, 16 and 64; an append counts when it is acknowledged,
which means fsynced. Peer: raw apsw on a table with the `events` columns, WAL and
synchronous=FULL, (a) one transaction per insert and (b) 1000 rows per transaction. The same
payload sizes everywhere: 32-byte origin, 64-byte signature, the same CBOR-encoded dict.

Ceilings: at concurrency c a commit holds at most c events, so ours@c <= c / (fsync + c * row),
from the time of an almost empty durable commit and the per-row cost of a batched insert. A
second, tighter ceiling adds what every append of ours must also pay (the asyncio <-> writer
thread hop per commit, Ed25519 signing and CBOR per event), measured here too, so a reader sees
whether a ratio target is reachable at all on this machine.

A benchmark, not a test: it always exits 0 (PASS/MISS are printed), runs about 35 s by default,
and removes its temporary directory, which it makes next to this file (the repository's disk)
unless `--dir` names another parent.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import apsw
import cbor2
import sync_package  # noqa: F401 - first: `sync` is the project's package, not bench/sync.py
from common import log, percentile, scratch_dir
from event_log_report import (
    LEVELS,
    PAYLOAD,
    build_report,
    filesystem_of,
    print_report,
)
from nacl.signing import SigningKey

from performer_edge.config import Settings
from performer_edge.core.events import encode_payload, kind_problems, sign_event
from performer_edge.node import Node

KIND = "app.bench"
SCOPE = "bench"
BATCH_ROWS = 1000
PROFILE_TOP = 25

# The `events` table of performer_edge/core/schema.py, migration 1, column for column.
RAW_SCHEMA = """
CREATE TABLE events(
    pos INTEGER PRIMARY KEY,
    origin BLOB NOT NULL,
    seq INTEGER NOT NULL,
    hlc INTEGER NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    payload BLOB NOT NULL,
    sig BLOB NOT NULL,
    UNIQUE(origin, seq)
);
CREATE TABLE tick(id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO tick VALUES (1, 0);
"""
RAW_INSERT = (
    "INSERT INTO events(origin, seq, hlc, kind, scope, payload, sig) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


# -- ours: the node's writer ------------------------------------------------------------------


class CommitCounter:
    """Wraps the database's `on_commit` (called once per committed group) to record group sizes."""

    def __init__(self, inner: Callable[[list[Any]], None] | None) -> None:
        self.inner = inner
        self.sizes: list[int] = []

    def __call__(self, items: list[Any]) -> None:
        self.sizes.append(len(items))  # list.append is atomic under the GIL
        if self.inner is not None:
            self.inner(items)


@dataclass
class OursResult:
    name: str
    concurrency: int
    synchronous: str
    appends: int
    seconds: float
    rate: float
    commits: int
    avg_group: float
    max_group: int
    p50_ms: float
    p99_ms: float


def open_node(data: Path, synchronous: str) -> tuple[Node, CommitCounter]:
    node = Node.open(Settings(data=data, synchronous=synchronous))
    node.bus.attach(asyncio.get_running_loop())  # as the server does: a wake-up per commit
    counter = CommitCounter(node.db.on_commit)
    node.db.on_commit = counter
    return node, counter


async def run_ours(
    node: Node, counter: CommitCounter, concurrency: int, seconds: float
) -> OursResult:
    """`concurrency` tasks append for `seconds`; every acknowledged append counts."""
    stop = False
    latencies: list[float] = []
    clock = time.perf_counter

    async def worker() -> int:
        done = 0
        while not stop:
            started = clock()
            await node.append(KIND, SCOPE, PAYLOAD)
            latencies.append(clock() - started)
            done += 1
        return done

    first_commit = len(counter.sizes)
    started = clock()
    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(seconds)
    stop = True
    appends = sum(await asyncio.gather(*tasks))
    elapsed = clock() - started
    # A no-op write is a barrier: once it is settled, the last group's `on_commit` has run.
    await node.db.write(lambda tx: None)
    sizes = counter.sizes[first_commit:]
    latencies.sort()
    return OursResult(
        name=f"ours @ c{concurrency}",
        concurrency=concurrency,
        synchronous=node.db.synchronous,
        appends=appends,
        seconds=elapsed,
        rate=appends / elapsed,
        commits=len(sizes),
        avg_group=(sum(sizes) / len(sizes)) if sizes else 0.0,
        max_group=max(sizes, default=0),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
    )


# -- fixed costs of our path, measured apart ------------------------------------------------


async def measure_hop(seconds: float) -> float:
    """p50 µs of a bare asyncio -> thread -> asyncio round trip, the way `Database` does it
    (SimpleQueue to the thread, call_soon_threadsafe back), with no SQLite at all."""
    loop = asyncio.get_running_loop()
    inbox: queue.SimpleQueue[asyncio.Future[None] | None] = queue.SimpleQueue()

    def serve() -> None:
        while (future := inbox.get()) is not None:
            loop.call_soon_threadsafe(future.set_result, None)

    thread = threading.Thread(target=serve, name="bench-hop", daemon=True)
    thread.start()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline or len(samples) < 50:
            started = time.perf_counter()
            future = loop.create_future()
            inbox.put(future)
            await future
            samples.append(time.perf_counter() - started)
    finally:
        inbox.put(None)
        thread.join()
    samples.sort()
    return percentile(samples, 0.5) * 1e6


async def measure_noop_write(node: Node, seconds: float) -> float:
    """p50 µs of `await node.db.write(lambda tx: None)`: hop + empty BEGIN/COMMIT, no fsync."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 50:
        started = time.perf_counter()
        await node.db.write(lambda tx: None)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return percentile(samples, 0.5) * 1e6


def measure_event_cpu(seconds: float) -> dict[str, float]:
    """µs per event of the CPU work `LogWriter.append` does besides SQLite, one part at a time."""
    key = SigningKey.generate()
    payload = encode_payload(PAYLOAD)
    parts: dict[str, Callable[[int], object]] = {
        "kind_check_us": lambda i: kind_problems(KIND),
        "cbor_payload_us": lambda i: encode_payload(PAYLOAD),
        "sign_event_us": lambda i: sign_event(key, i, i, KIND, SCOPE, payload),
    }
    out: dict[str, float] = {}
    for name, fn in parts.items():
        n = 0
        started = time.perf_counter()
        deadline = started + seconds / len(parts)
        while n < 100 or time.perf_counter() < deadline:
            for i in range(n, n + 100):
                fn(i)
            n += 100
        out[name] = (time.perf_counter() - started) / n * 1e6
    out["total_us"] = sum(out.values())
    return out


# -- the peer: raw apsw -----------------------------------------------------------------------


@dataclass
class RawResult:
    name: str
    rows: int
    seconds: float
    rate: float
    commits: int
    extra: dict[str, float] = field(default_factory=dict)


def open_raw(path: Path) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(RAW_SCHEMA)
    return conn


class RawRows:
    """Rows shaped like ours: a 32-byte origin, dense seqs, HLC-like times, a 64-byte sig."""

    def __init__(self) -> None:
        self.origin = os.urandom(32)
        self.sig = os.urandom(64)
        self.payload = cbor2.dumps(PAYLOAD, canonical=True)
        self.hlc = (time.time_ns() // 1_000_000) << 16
        self.seq = 0

    def next(self) -> tuple[Any, ...]:
        self.seq += 1
        return (self.origin, self.seq, self.hlc + self.seq, KIND, SCOPE, self.payload, self.sig)

    def take(self, n: int) -> Iterator[tuple[Any, ...]]:
        for _ in range(n):
            yield self.next()


def raw_one_per_txn(path: Path, seconds: float) -> RawResult:
    """Autocommit: every INSERT is its own durable transaction."""
    conn = open_raw(path)
    rows = RawRows()
    clock = time.perf_counter
    started = clock()
    deadline = started + seconds
    done = 0
    while clock() < deadline:
        conn.execute(RAW_INSERT, rows.next())
        done += 1
    elapsed = clock() - started
    conn.close()
    return RawResult("raw one-per-txn", done, elapsed, done / elapsed, done)


def raw_batched(path: Path, seconds: float) -> RawResult:
    """BEGIN IMMEDIATE, 1000 INSERTs (executemany), COMMIT: timed apart to split CPU and fsync."""
    conn = open_raw(path)
    rows = RawRows()
    clock = time.perf_counter
    started = clock()
    deadline = started + seconds
    insert_time = commit_time = 0.0
    batches = 0
    while clock() < deadline or batches == 0:
        t0 = clock()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(RAW_INSERT, rows.take(BATCH_ROWS))
        t1 = clock()
        conn.execute("COMMIT")
        t2 = clock()
        insert_time += t1 - t0
        commit_time += t2 - t1
        batches += 1
    elapsed = clock() - started
    conn.close()
    done = batches * BATCH_ROWS
    return RawResult(
        f"raw batched-{BATCH_ROWS}",
        done,
        elapsed,
        done / elapsed,
        batches,
        extra={
            "per_row_insert_us": insert_time / done * 1e6,
            "batch_commit_ms": commit_time / batches * 1000,
        },
    )


def probe_commits(path: Path, seconds: float) -> list[float]:
    """Durations (s) of almost empty durable commits: one UPDATE of a one-row table each."""
    conn = open_raw(path) if not path.exists() else apsw.Connection(str(path))
    conn.execute("PRAGMA synchronous=FULL")
    clock = time.perf_counter
    samples: list[float] = []
    deadline = clock() + seconds
    while clock() < deadline or len(samples) < 20:
        t0 = clock()
        conn.execute("UPDATE tick SET n = n + 1 WHERE id = 1")
        samples.append(clock() - t0)
    conn.close()
    return samples


# -- profile ------------------------------------------------------------------------------------


class StatementTimes:
    """SQLite's own run time per statement on the writer connection, grouped by verb."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = {}
        self.count: dict[str, int] = {}

    def __call__(self, sql: str, runtime_ns: int) -> None:
        words = sql.split(None, 2)
        key = words[0].upper() if words else "?"
        if key == "INSERT" and len(words) > 2:
            key = "INSERT " + words[2].split("(", 1)[0].split()[0]  # INSERT <table>
        self.ns[key] = self.ns.get(key, 0) + runtime_ns
        self.count[key] = self.count.get(key, 0) + 1


def top_entries(
    profile: cProfile.Profile, sort: str, limit: int
) -> tuple[str, list[dict[str, Any]]]:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    column = 3 if sort == "cumulative" else 2
    ordered = sorted(raw.items(), key=lambda kv: kv[1][column], reverse=True)
    entries = [
        {
            "function": f"{filename}:{line}({name})",
            "ncalls": ncalls,
            "tottime_s": round(tottime, 4),
            "cumtime_s": round(cumtime, 4),
        }
        for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in ordered[:limit]
    ]
    return out.getvalue(), entries


async def profile_level(
    node: Node, counter: CommitCounter, concurrency: int, seconds: float
) -> dict[str, Any]:
    """One level under cProfile: the event-loop thread and, separately, the writer thread."""
    loop_prof = cProfile.Profile()
    writer_prof = cProfile.Profile()
    statements = StatementTimes()

    def start_writer(tx: Any) -> None:
        # cProfile profiles the thread that enables it, so enable it from inside a write.
        tx.conn.set_profile(statements)
        writer_prof.enable()

    def stop_writer(tx: Any) -> None:
        writer_prof.disable()
        tx.conn.set_profile(None)

    await node.db.write(start_writer)
    loop_prof.enable()
    try:
        result = await run_ours(node, counter, concurrency, seconds)
    finally:
        loop_prof.disable()
        await node.db.write(stop_writer)
    texts: dict[str, str] = {}
    tops: dict[str, list[dict[str, Any]]] = {}
    for thread, prof in (("writer", writer_prof), ("loop", loop_prof)):
        texts[f"{thread}_cumulative"], tops[f"{thread}_cumulative"] = top_entries(
            prof, "cumulative", PROFILE_TOP
        )
        texts[f"{thread}_self"], tops[f"{thread}_self"] = top_entries(prof, "tottime", 12)
    total_ns = sum(statements.ns.values()) or 1
    sql = {
        key: {
            "count": statements.count[key],
            "total_ms": round(ns / 1e6, 1),
            "per_call_us": round(ns / statements.count[key] / 1e3, 1),
            "share": round(ns / total_ns, 3),
        }
        for key, ns in sorted(statements.ns.items(), key=lambda kv: -kv[1])
    }
    return {
        "concurrency": concurrency,
        "result": asdict(result),
        "sql": sql,
        **tops,
        "_text": texts,
    }


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Measurements:
    commit_probe: list[float] = field(default_factory=list)
    raw_txn: RawResult | None = None
    raw_batch: RawResult | None = None
    ours: list[OursResult] = field(default_factory=list)
    ours_off: OursResult | None = None
    hop_us: float = 0.0
    noop_write_us: float = 0.0
    event_cpu: dict[str, float] = field(default_factory=dict)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    load_before: float = 0.0
    load_after: float = 0.0


async def run_ours_all(work: Path, args: argparse.Namespace, m: Measurements) -> None:
    seconds = args.seconds
    node, counter = open_node(work / "node", "FULL")
    try:
        log("  warm-up")
        await run_ours(node, counter, 16, min(0.5, seconds / 5))
        for level in LEVELS:
            log(f"  ours @ concurrency {level} for {seconds:g} s")
            m.ours.append(await run_ours(node, counter, level, seconds))
        log("  fixed costs: thread hop, no-op write, sign + CBOR")
        m.hop_us = await measure_hop(min(0.5, seconds / 5))
        m.noop_write_us = await measure_noop_write(node, min(0.5, seconds / 5))
        if args.profile:
            for level in (1, 64):
                log(f"  profile: ours @ concurrency {level} for {args.profile_seconds:g} s")
                m.profiles.append(await profile_level(node, counter, level, args.profile_seconds))
    finally:
        node.close()
    off_seconds = seconds / 2
    log(f"  ours @ concurrency 64, synchronous=OFF, for {off_seconds:g} s")
    node, counter = open_node(work / "node-off", "OFF")
    try:
        result = await run_ours(node, counter, 64, off_seconds)
        result.name = "ours @ c64, sync=OFF"
        m.ours_off = result
    finally:
        node.close()


def measure(work: Path, args: argparse.Namespace) -> Measurements:
    m = Measurements(load_before=os.getloadavg()[0])
    probe_seconds = min(1.0, args.seconds / 4)
    log("  commit probe (almost empty durable commits)")
    m.commit_probe += probe_commits(work / "probe.db", probe_seconds)
    log(f"  raw one-per-txn for {args.seconds:g} s")
    m.raw_txn = raw_one_per_txn(work / "raw-txn.db", args.seconds)
    log(f"  raw batched-{BATCH_ROWS} for {args.seconds:g} s")
    m.raw_batch = raw_batched(work / "raw-batch.db", args.seconds)
    asyncio.run(run_ours_all(work, args, m))
    m.event_cpu = measure_event_cpu(min(0.6, args.seconds / 5))
    log("  commit probe again (the disk drifts; both probes are pooled)")
    m.commit_probe += probe_commits(work / "probe.db", probe_seconds)
    m.load_after = os.getloadavg()[0]
    return m


# -- output ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="duration of each measured run (default 5)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=here,
        help="parent of the temporary directory; put it on the disk you want measured "
        "(default: bench/, the repository's disk)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run ours@c1 and ours@c64 under cProfile and print where the time goes",
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=2.0, help="duration of each profiled run"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.profile_seconds <= 0:
        parser.error("durations must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_dir(args.dir, "event-log") as work:
        fs = filesystem_of(work)
        log(f"benchmarking in {work} ({fs['type']} on {fs['device']})")
        measurements = measure(work, args)
        report = build_report(args, work, measurements)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report, measurements.profiles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
