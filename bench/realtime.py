"""Realtime fan-out of table changes: our postgres_changes against PocketBase's SSE realtime.

    .venv/bin/python bench/realtime.py [--subscribers 100] [--rate 50] [--fixed-rows 500]
                                       [--flat-rows 1000] [--procs 2] [--json]
                                       [--pocketbase BINARY] [--pocketbase-synchronous FULL|NORMAL]
                                       [--serve-arg=ARG ...]

Both servers run as subprocesses on loopback, side by side in one run. For each side,
`--subscribers` clients (spread over `--procs` subscriber processes, so the clients are not the
limit) subscribe to every insert into one table: ours with postgres_changes on a Phoenix
WebSocket (raw 1.0.0 frames, as the Python `realtime` client sends them), PocketBase through
`GET /api/realtime` + `POST /api/realtime` subscribing to `ticks/*`. Then one writer inserts the
same rows into each (ours `POST /rest/v1/ticks`, PocketBase `POST /api/collections/ticks/records`),
one request at a time: first at `--rate` rows/s (`--fixed-rows` rows), then flat out
(`--flat-rows`). Each row carries its send time; a delivery's latency is its receive time minus
that. Per phase: p50/p99 fan-out latency over every delivery, deliveries/s (deliveries over the
time from the first send to the last receive), server CPU. The sides alternate who goes first.

Durability is the same on both: every insert is committed with `synchronous=FULL` (PocketBase's
writer set to FULL by a pb_hooks script, read back) unless `--pocketbase-synchronous NORMAL`.
Target: ours p99 at most 1.0x PocketBase's in both phases (HIT/MISS; the script exits 0).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import subprocess
import time
from array import array
from pathlib import Path
from typing import Any

import aiohttp
from auth_servers import (
    Ours,
    PocketBase,
    ensure_alive,
    ensure_pocketbase,
    ensure_pyspy,
    filesystem_type,
    stop_all,
)
from common import emit, log, percentile, ratio, run_script, scratch_dir
from load import process_cpu_seconds
from pyspy import PROFILE_RATE, print_profile_tables, summarize_pyspy
from realtime_peers import (
    OursSide,
    PocketBaseSide,
    Received,
    Side,
    Target,
    row,
    subscribe,
    write_migration,
)
from rich.console import Console

TARGET = 1.0
PHASES = ("fixed", "flat")
SUBSCRIBE_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 120.0  # after the last insert, for every delivery to arrive
# Where GIL-held samples of our server go (`--profile`), by the first rule found in the stack.
PROFILE_BUCKETS: tuple[tuple[str, str], ...] = (
    # py-spy names our realtime frames by file name only ("_write (ws.py:103)").
    ("fan-out: plan (bindings, policies, payloads)", "(dispatch.py:"),
    ("fan-out: socket writers (encode, send)", "(ws.py:"),
    ("fan-out: outboxes", "(channels.py:"),
    ("insert: event + row projection (writer)", "performer_edge/rest/row_"),
    ("insert: group commit (db.py)", "performer_edge/core/db.py"),
    ("insert: REST handler", "performer_edge/rest/"),
    ("HTTP middlewares", "performer_edge/http/"),
    ("aiohttp (HTTP, WebSocket frames)", "aiohttp/"),
    ("asyncio event loop", "asyncio/"),
)


# -- subscriber processes --------------------------------------------------------------------


def subscriber_process(
    target: Target, count: int, pipe: multiprocessing.connection.Connection
) -> None:
    """Runs in a child: `count` subscribers; 'ready' once subscribed, then on each ('collect',
    rows) wait until every subscriber holds `rows` deliveries and send them back."""
    asyncio.run(_subscribers(target, count, pipe))


async def _subscribers(
    target: Target, count: int, pipe: multiprocessing.connection.Connection
) -> None:
    loop = asyncio.get_running_loop()
    received = [Received() for _ in range(count)]
    ready = [asyncio.Event() for _ in range(count)]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [
            asyncio.create_task(subscribe(session, target, r, e))
            for r, e in zip(received, ready, strict=True)
        ]
        waiting = asyncio.gather(*(e.wait() for e in ready))
        await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in tasks if t.done()]
        pipe.send(("failed", repr(failed[0].exception())) if failed else ("ready", count))
        while (command := await loop.run_in_executor(None, pipe.recv))[0] == "collect":
            rows = command[1]
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while time.monotonic() < deadline:
                if all(len(r.seqs) >= rows for r in received):
                    break
                await asyncio.sleep(0.02)
            pipe.send(_pack(received))
            for r in received:
                r.seqs.clear()
                r.latencies.clear()
                r.times.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _pack(received: list[Received]) -> tuple[bytes, bytes, bytes]:
    seqs, latencies, times = array("q"), array("d"), array("d")
    for r in received:
        seqs.extend(r.seqs)
        latencies.extend(r.latencies)
        times.extend(r.times)
    return seqs.tobytes(), latencies.tobytes(), times.tobytes()


class Subscribers:
    """`n` subscribers of one side over `procs` forked processes."""

    def __init__(self, target: Target, n: int, procs: int) -> None:
        context = multiprocessing.get_context("fork")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.procs: list[Any] = []
        shares = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        for share in (s for s in shares if s):
            ours, theirs = context.Pipe()
            proc = context.Process(target=subscriber_process, args=(target, share, theirs))
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)
        for pipe in self.pipes:
            if not pipe.poll(SUBSCRIBE_TIMEOUT_S):
                raise RuntimeError(f"{target.side}: subscribers did not subscribe in time")
            status, detail = pipe.recv()
            if status != "ready":
                raise RuntimeError(f"{target.side}: a subscriber failed: {detail}")

    def collect(self, rows: int) -> tuple[array[int], array[float], array[float]]:
        seqs, latencies, times = array("q"), array("d"), array("d")
        for pipe in self.pipes:
            pipe.send(("collect", rows))
        for pipe in self.pipes:
            s, lat, t = pipe.recv()
            seqs.frombytes(s)
            latencies.frombytes(lat)
            times.frombytes(t)
        return seqs, latencies, times

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(("stop", 0))
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()


# -- the writer --------------------------------------------------------------------------------


async def write_rows(side: Side, first: int, count: int, rate: float | None) -> float:
    """Insert rows `first`..`first+count-1`, one request at a time, at `rate`/s or flat out;
    returns the wall time the first was sent."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.time()
        clock = time.monotonic()
        for i in range(count):
            if rate is not None:
                delay = clock + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            body = row(first + i)
            body["sent"] = time.time()
            await side.insert(session, body)
        return started


def measure_phase(
    side: Side, subscribers: Subscribers, phase: str, first: int, rows: int, args: Any
) -> dict[str, Any]:
    """One phase of one side, raw: every delivery's latency, times, CPU (pooled later)."""
    rate = args.rate if phase == "fixed" else None
    profiled = args.pyspy and phase == "flat" and side.name == "ours" and "profile" not in args
    spy = start_pyspy(args.pyspy, side.pid, args.work) if profiled else None
    cpu_before = process_cpu_seconds(side.pid)
    started = asyncio.run(write_rows(side, first, rows, rate))
    written = time.time()
    seqs, latencies, times = subscribers.collect(rows)
    cpu = process_cpu_seconds(side.pid) - cpu_before
    if spy is not None:
        args.profile = stop_pyspy(*spy)
    return {
        "side": side.name,
        "phase": phase,
        "rows": rows,
        "write_s": written - started,
        "elapsed_s": (max(times) if times else written) - started,
        "latencies": latencies,
        "missing": rows * args.subscribers - len(seqs),
        "cpu_s": cpu,
    }


def summarize(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per side and phase, over every repeat: pooled latency percentiles, summed rates."""
    out = []
    for side in ("ours", "PocketBase"):
        for phase in PHASES:
            mine = [x for x in samples if x["side"] == side and x["phase"] == phase]
            ordered = sorted(lat for x in mine for lat in x["latencies"])
            rows = sum(x["rows"] for x in mine)
            elapsed = sum(x["elapsed_s"] for x in mine)
            cpu = sum(x["cpu_s"] for x in mine)
            out.append(
                {
                    "side": side,
                    "phase": phase,
                    "rows": rows,
                    "write_rate": ratio(rows, sum(x["write_s"] for x in mine)),
                    "deliveries": len(ordered),
                    "missing": sum(x["missing"] for x in mine),
                    "p50_ms": percentile(ordered, 0.50) * 1000,
                    "p99_ms": percentile(ordered, 0.99) * 1000,
                    "max_ms": (ordered[-1] if ordered else 0.0) * 1000,
                    "deliveries_per_s": ratio(len(ordered), elapsed),
                    "server_cpu_ms_per_row": ratio(cpu, rows) * 1000,
                    "server_cores": ratio(cpu, elapsed),
                }
            )
    return out


def start_pyspy(pyspy: Path, pid: int, work: Path) -> tuple[subprocess.Popen[bytes], Path, float]:
    """py-spy record --gil on `pid` until SIGINT (then it writes the raw stacks)."""
    out = work / f"pyspy-{pid}.txt"
    command = [str(pyspy), "record", "--pid", str(pid), "--rate", str(PROFILE_RATE)]
    command += ["--format", "raw", "--threads", "--gil", "--output", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)  # py-spy attaches
    return proc, out, time.monotonic()


def stop_pyspy(proc: subprocess.Popen[bytes], out: Path, started: float) -> dict[str, Any]:
    seconds = time.monotonic() - started
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    if not out.exists():
        return {"error": output.decode(errors="replace").strip()[-500:]}
    return summarize_pyspy(out.read_text(), seconds * PROFILE_RATE, PROFILE_BUCKETS)


def run_side(side: Side, target: Target, args: Any, first: int) -> list[dict[str, Any]]:
    """Subscribe, then both phases; rows are numbered from `first` (unique in the run)."""
    log(f"  {side.name}: {args.subscribers} subscribers over {args.procs} processes")
    subscribers = Subscribers(target, args.subscribers, args.procs)
    try:
        samples = []
        for phase in PHASES:
            rows = args.fixed_rows if phase == "fixed" else args.flat_rows
            log(f"  {side.name}: {phase} phase, {rows} rows")
            samples.append(measure_phase(side, subscribers, phase, first, rows, args))
            first += rows
        return samples
    finally:
        subscribers.close()


async def prepare(sides: list[Side]) -> list[Target]:
    async with aiohttp.ClientSession() as session:
        return [await side.prepare(session) for side in sides]


def measure(args: argparse.Namespace, work: Path, binary: Path) -> dict[str, Any]:
    migrations = work / "migrations"
    write_migration(migrations)
    ours = Ours(work, "FULL", ["--migrations", str(migrations), *args.serve_arg])
    pb = PocketBase(work, binary)
    servers: list[Ours | PocketBase] = [ours, pb]
    # Before PocketBase starts: its side writes the pb_hooks script (pragmas) it loads at start.
    sides: list[Side] = [OursSide(ours), PocketBaseSide(pb, args.pocketbase_synchronous)]
    try:
        log(f"  starting performer serve and pocketbase {pb.version} serve")
        ours.start()
        pb.start()
        targets = asyncio.run(prepare(sides))
        samples: list[dict[str, Any]] = []
        pairs = list(zip(sides, targets, strict=True))
        per_repeat = args.fixed_rows + args.flat_rows
        for repeat in range(args.repeats):
            # The sides alternate who goes first, so drift in the machine's load hits both.
            order = pairs if (repeat % 2 == 0) != args.peer_first else pairs[::-1]
            log(f"repeat {repeat + 1} of {args.repeats}")
            for side, target in order:
                samples.extend(run_side(side, target, args, repeat * per_repeat))
                ensure_alive(servers)
        results = summarize(samples)
        return {
            "subscribers": args.subscribers,
            "rate": args.rate,
            "fixed_rows": args.fixed_rows,
            "flat_rows": args.flat_rows,
            "procs": args.procs,
            "repeats": args.repeats,
            "pocketbase": pb.version,
            "pocketbase_synchronous": args.pocketbase_synchronous,
            "filesystem": filesystem_type(work),
            "load_average": os.getloadavg(),
            "results": results,
            "comparison": compare(results),
            "target": TARGET,
            **({"profile": args.profile} if "profile" in args else {}),
        }
    finally:
        stop_all(servers, work)


def compare(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for phase in PHASES:
        mine = next(r for r in results if r["side"] == "ours" and r["phase"] == phase)
        peer = next(r for r in results if r["side"] == "PocketBase" and r["phase"] == phase)
        p99 = ratio(mine["p99_ms"], peer["p99_ms"])
        rows.append(
            {
                "phase": phase,
                "p50_ratio": round(ratio(mine["p50_ms"], peer["p50_ms"]), 2),
                "p99_ratio": round(p99, 2),
                "deliveries_ratio": round(
                    ratio(mine["deliveries_per_s"], peer["deliveries_per_s"]), 2
                ),
                "hit": p99 <= TARGET and mine["missing"] == 0,
            }
        )
    return rows


def print_report(report: dict[str, Any]) -> None:
    print(
        f"{report['subscribers']} subscribers, one writer: {report['fixed_rows']} rows at "
        f"{report['rate']}/s, then {report['flat_rows']} flat out; PocketBase "
        f"{report['pocketbase']} (synchronous={report['pocketbase_synchronous']}), ours "
        f"synchronous=FULL; {report['filesystem']}; load average "
        + " ".join(f"{x:.2f}" for x in report["load_average"])
    )
    header = (
        f"{'phase':<6} {'side':<11} {'rows/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'deliveries/s':>13} {'missing':>8} {'server cores':>13} {'CPU ms/row':>11}"
    )
    print(header)
    for r in report["results"]:
        print(
            f"{r['phase']:<6} {r['side']:<11} {r['write_rate']:>8.0f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {r['max_ms']:>8.2f} {r['deliveries_per_s']:>13,.0f} "
            f"{r['missing']:>8} {r['server_cores']:>13.2f} {r['server_cpu_ms_per_row']:>11.2f}"
        )
    for c in report["comparison"]:
        verdict = "HIT" if c["hit"] else "MISS"
        print(
            f"{c['phase']}: ours/PocketBase p50 {c['p50_ratio']}x, p99 {c['p99_ratio']}x "
            f"(target <= {report['target']}x): {verdict}; deliveries/s {c['deliveries_ratio']}x"
        )
    profile = report.get("profile")
    if profile is not None:
        console = Console()
        console.rule(f"py-spy --gil: ours, first flat phase ({PROFILE_RATE} Hz)")
        if "error" in profile:
            console.print(f"py-spy failed: {profile['error']}")
        else:
            print_profile_tables(console, profile, inclusive=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0, help="rows/s of the fixed phase")
    parser.add_argument("--fixed-rows", type=int, default=500)
    parser.add_argument("--flat-rows", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=2, help="subscriber processes per side")
    parser.add_argument("--repeats", type=int, default=2, help="rounds, pooled; sides alternate")
    parser.add_argument("--peer-first", action="store_true", help="measure PocketBase first")
    parser.add_argument(
        "--profile", dest="spy", action="store_true", help="py-spy ours in the first flat phase"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--pocketbase", type=Path, default=None)
    parser.add_argument(
        "--pocketbase-synchronous", choices=("FULL", "NORMAL"), default="FULL", type=str.upper
    )
    parser.add_argument("--serve-arg", action="append", default=[])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log("preparing the peer")
    binary = ensure_pocketbase(args.pocketbase)
    args.pyspy = ensure_pyspy() if args.spy else None
    with scratch_dir(args.dir, "realtime") as work:
        args.work = work
        log(f"benchmarking in {work} ({filesystem_type(work)})")
        report = measure(args, work, binary)
    emit(report, args.json, print_report)
    return 0


if __name__ == "__main__":
    run_script(main)
