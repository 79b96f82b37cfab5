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
import platform
import pstats
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import apsw
import cbor2
from nacl.signing import SigningKey
from rich.console import Console
from rich.table import Table

from performer_edge.config import Settings
from performer_edge.core.events import encode_payload, kind_problems, sign_event
from performer_edge.node import Node

KIND = "app.bench"
SCOPE = "bench"
# Five fields, 117 bytes of canonical CBOR: an order-sized application event.
PAYLOAD: dict[str, Any] = {
    "order_id": "ord_7f3a9c21",
    "customer": "cus_48b1e0d2a6",
    "amount_cents": 12950,
    "currency": "EUR",
    "note": "2x espresso, 1x croissant, table 4",
}
LEVELS = (1, 16, 64)
BATCH_ROWS = 1000
TARGET_C1 = 0.80  # ours@c1 / raw one-per-txn
TARGET_C64 = 0.50  # ours@c64 / raw batched-1000
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


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the results (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def filesystem_of(path: Path) -> dict[str, str]:
    """Mount point, device and type of the filesystem holding `path` (from /proc/mounts)."""
    resolved = str(path.resolve())
    best = {"mount": "?", "device": "?", "type": "unknown"}
    best_len = -1
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) < 3:
                    continue
                device, mount, fstype = parts[0], parts[1].replace("\\040", " "), parts[2]
                inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) > best_len:
                    best, best_len = {"mount": mount, "device": device, "type": fstype}, len(mount)
    except OSError:
        pass
    return best


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


def build_report(args: argparse.Namespace, work: Path, m: Measurements) -> dict[str, Any]:
    assert m.raw_txn is not None
    assert m.raw_batch is not None
    assert m.ours_off is not None
    raw_txn, raw_batch = m.raw_txn, m.raw_batch
    by_c = {r.concurrency: r for r in m.ours}
    probe = sorted(m.commit_probe)
    fsync_s = percentile(probe, 0.5)
    row_s = raw_batch.extra["per_row_insert_us"] / 1e6
    hop_s = m.hop_us / 1e6
    cpu_s = m.event_cpu["total_us"] / 1e6
    disk_ceiling = {c: c / (fsync_s + c * row_s) for c in LEVELS}
    # What ours must pay on top: one thread hop per commit, sign + CBOR per event. At c1 the
    # commit is exactly raw one-per-txn's, so use its measured time there.
    ours_ceiling = {
        c: c / ((1 / raw_txn.rate if c == 1 else fsync_s + c * row_s) + hop_s + c * cpu_s)
        for c in LEVELS
    }

    def item(value: float, target: float | None) -> dict[str, Any]:
        result = None if target is None else ("PASS" if value >= target else "MISS")
        return {"value": value, "target": target, "result": result}

    ratios = {
        "ours@c1 / raw one-per-txn": item(ratio(by_c[1].rate, raw_txn.rate), TARGET_C1),
        "ours@c64 / raw batched-1000": item(ratio(by_c[64].rate, raw_batch.rate), TARGET_C64),
        "ours@c16 / raw one-per-txn": item(ratio(by_c[16].rate, raw_txn.rate), None),
        "ours@c64 / raw one-per-txn": item(ratio(by_c[64].rate, raw_txn.rate), None),
    }
    return {
        "environment": {
            "python": platform.python_version(),
            "sqlite": apsw.sqlite_lib_version(),
            "apsw": apsw.apswversion(),
            "cpus": os.cpu_count(),
            "load_1min_before": m.load_before,
            "load_1min_after": m.load_after,
            "dir": str(work),
            "filesystem": filesystem_of(work),
            "seconds_per_run": args.seconds,
            "payload_bytes": len(cbor2.dumps(PAYLOAD, canonical=True)),
        },
        "raw": {"one_per_txn": asdict(raw_txn), "batched_1000": asdict(raw_batch)},
        "ours": {str(r.concurrency): asdict(r) for r in m.ours},
        "ours_c64_sync_off": asdict(m.ours_off),
        "ratios": ratios,
        "costs": {
            "empty_commit_ms_p10": percentile(probe, 0.1) * 1000,
            "empty_commit_ms_p50": fsync_s * 1000,
            "empty_commit_ms_p90": percentile(probe, 0.9) * 1000,
            "raw_one_per_txn_ms": 1000 / raw_txn.rate,
            "row_insert_us": row_s * 1e6,
            "batch_1000_commit_ms": raw_batch.extra["batch_commit_ms"],
            "thread_hop_us": m.hop_us,
            "noop_write_us": m.noop_write_us,
            "event_cpu": m.event_cpu,
        },
        "ceilings": {
            "disk_only": {str(c): v for c, v in disk_ceiling.items()},
            "with_our_fixed_costs": {str(c): v for c, v in ours_ceiling.items()},
            "disk_only_c64_vs_raw_batched": ratio(disk_ceiling[64], raw_batch.rate),
            "ours_c64_vs_raw_batched": ratio(ours_ceiling[64], raw_batch.rate),
            "ours_c1_vs_raw_one_per_txn": ratio(ours_ceiling[1], raw_txn.rate),
            "ours_c64_share_of_disk_ceiling": ratio(by_c[64].rate, disk_ceiling[64]),
            "ours_c64_share_of_our_ceiling": ratio(by_c[64].rate, ours_ceiling[64]),
        },
        "profiles": [{k: v for k, v in p.items() if k != "_text"} for p in m.profiles],
    }


# -- output ------------------------------------------------------------------------------------


def print_report(report: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    console = Console(width=max(110, Console().width))
    env = report["environment"]
    fs = env["filesystem"]
    console.print(
        f"[bold]Event log: durable appends/s[/] — Python {env['python']}, SQLite {env['sqlite']}, "
        f"{env['cpus']} CPUs, {env['seconds_per_run']:g} s per run, payload "
        f"{env['payload_bytes']} B CBOR"
    )
    console.print(f"dir {env['dir']} on {fs['device']} ({fs['type']}, mounted at {fs['mount']})")
    load = env["load_1min_before"]  # "after" includes this benchmark's own threads
    console.print(
        f"load average (1 min) {env['load_1min_before']:.2f} before, "
        f"{env['load_1min_after']:.2f} after"
        + (
            " [bold yellow]— other work shares these CPUs; expect noise[/]"
            if load > 0.75 * (env["cpus"] or 1)
            else ""
        )
    )
    if fs["type"] in ("tmpfs", "ramfs"):
        console.print("[bold red]warning:[/] a RAM filesystem: fsync is free, the numbers mislead")

    table = Table(title="Appends per second (WAL; synchronous=FULL unless marked)")
    for col in ("run", "appends/s", "commits", "avg group", "max group", "p50 ms", "p99 ms"):
        table.add_column(col, justify="left" if col == "run" else "right")
    raw = report["raw"]
    one, batch = raw["one_per_txn"], raw["batched_1000"]
    table.add_row(one["name"], f"{one['rate']:,.0f}", f"{one['commits']:,}", "1", "1", "", "")
    table.add_row(
        batch["name"], f"{batch['rate']:,.0f}", f"{batch['commits']:,}", "1000", "1000", "", ""
    )
    rows = [*report["ours"].values(), report["ours_c64_sync_off"]]
    for r in rows:
        name = r["name"] + (" (not durable)" if r["synchronous"] == "OFF" else "")
        table.add_row(
            name,
            f"{r['rate']:,.0f}",
            f"{r['commits']:,}",
            f"{r['avg_group']:.1f}",
            f"{r['max_group']}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
        )
    console.print(table)

    ratios = Table(title="Ratios")
    for col in ("ratio", "value", "target", "result"):
        ratios.add_column(col, justify="left" if col == "ratio" else "right")
    for name, item in report["ratios"].items():
        result = item["result"] or ""
        style = {"PASS": "green", "MISS": "red"}.get(result)
        ratios.add_row(
            name,
            f"{item['value']:.2f}",
            "" if item["target"] is None else f">= {item['target']:.2f}",
            f"[{style}]{result}[/]" if style else "",
        )
    console.print(ratios)

    costs, ceil = report["costs"], report["ceilings"]
    cpu = costs["event_cpu"]
    disk = ceil["disk_only"]
    ours = ceil["with_our_fixed_costs"]

    def reach(value: float, target: float) -> str:
        return "[green]reachable[/]" if value >= target else "[red]NOT reachable[/]"

    console.print(
        f"[bold]Costs:[/] almost empty durable commit {costs['empty_commit_ms_p50']:.3f} ms "
        f"(p10 {costs['empty_commit_ms_p10']:.3f}, p90 {costs['empty_commit_ms_p90']:.3f}); "
        f"raw one-row txn {costs['raw_one_per_txn_ms']:.3f} ms; row insert in a txn "
        f"{costs['row_insert_us']:.1f} µs; 1000-row commit {costs['batch_1000_commit_ms']:.2f} ms. "
        f"Ours also pays: asyncio<->thread hop {costs['thread_hop_us']:.0f} µs per commit "
        f"(no-op db.write {costs['noop_write_us']:.0f} µs), and per event Ed25519 sign "
        f"{cpu['sign_event_us']:.1f} µs + CBOR {cpu['cbor_payload_us']:.1f} µs + kind check "
        f"{cpu['kind_check_us']:.1f} µs."
    )
    console.print(
        "[bold]Ceiling (disk only):[/] a commit at concurrency c holds at most c events, so "
        "ours@c <= c / (fsync + c x row): "
        + ", ".join(f"c{c} {v:,.0f}/s" for c, v in disk.items())
        + f". Best possible ours@c64 = {disk['64']:,.0f}/s = "
        f"{ceil['disk_only_c64_vs_raw_batched']:.2f} x raw batched-1000: the "
        f"{TARGET_C64:.0%} target is {reach(ceil['disk_only_c64_vs_raw_batched'], TARGET_C64)} "
        f"for a writer with no per-event cost; ours@c64 is at "
        f"{ceil['ours_c64_share_of_disk_ceiling']:.0%} of it."
    )
    console.print(
        "[bold]Ceiling (with our fixed costs):[/] c / (commit + hop + c x (row + sign + CBOR)): "
        + ", ".join(f"c{c} {v:,.0f}/s" for c, v in ours.items())
        + f". ours@c1 <= {ceil['ours_c1_vs_raw_one_per_txn']:.2f} x raw one-per-txn "
        f"({TARGET_C1:.0%} target {reach(ceil['ours_c1_vs_raw_one_per_txn'], TARGET_C1)}); "
        f"ours@c64 <= {ceil['ours_c64_vs_raw_batched']:.2f} x raw batched-1000 "
        f"({TARGET_C64:.0%} target {reach(ceil['ours_c64_vs_raw_batched'], TARGET_C64)}); "
        f"ours@c64 is at {ceil['ours_c64_share_of_our_ceiling']:.0%} of it. The sync=OFF row "
        "is our path's CPU limit."
    )

    for p in profiles:
        c = p["concurrency"]
        r = p["result"]
        console.rule(
            f"profile: ours @ c{c}, {r['rate']:,.0f} appends/s under cProfile, "
            f"avg group {r['avg_group']:.1f}"
        )
        sql = Table(
            title=f"SQLite time per statement on the writer connection (c{c}); SQLite's "
            "timer ticks in ms, so per-call values are averages of coarse samples"
        )
        for col in ("statement", "count", "total ms", "µs/call", "share"):
            sql.add_column(col, justify="left" if col == "statement" else "right")
        for key, s in p["sql"].items():
            sql.add_row(
                key,
                f"{s['count']:,}",
                f"{s['total_ms']:,.1f}",
                f"{s['per_call_us']:,.1f}",
                f"{s['share']:.0%}",
            )
        console.print(sql)
        text = p["_text"]
        for title, key in (
            ("writer thread, top cumulative", "writer_cumulative"),
            ("writer thread, top self time", "writer_self"),
            ("event-loop thread, top cumulative", "loop_cumulative"),
            ("event-loop thread, top self time", "loop_self"),
        ):
            console.print(f"[bold]{title} (c{c})[/]")
            print(_trim_pstats(text[key]))


def _trim_pstats(text: str) -> str:
    """pstats output without its preamble: the header line and the rows."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("ncalls"):
            return "\n".join(lines[i:]).rstrip()
    return text.rstrip()


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
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-event-log-", dir=args.dir))
    try:
        fs = filesystem_of(work)
        log(f"benchmarking in {work} ({fs['type']} on {fs['device']})")
        measurements = measure(work, args)
        report = build_report(args, work, measurements)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report, measurements.profiles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
