"""The snapshot path: catch-up of a fresh node that is Δ events behind a compacted log, for a
short and a long history of updates to the same rows, in one run.

    .venv/bin/python bench/sync_snapshot.py [--histories 10000,1000000] [--rows 1000]
                                            [--delta 10000] [--dir PARENT] [--json]

Per history H: node A's data dir joins a cluster (as `performer cluster join` leaves it), gets
a table (`performer migrate`: `items(id int primary key, n int, note text)`), and then H row
events written without a server (`Node.open`, synchronous=OFF, `RowStore` plans appended in
write batches): first an insert of each of `--rows` rows, then updates cycling over them. A's
log is compacted (`Snapshots.compact`, as `performer compact` does: the state becomes the base
snapshot, every event leaves the log), then Δ = `--delta` more updates are written. `performer
serve` A (synchronous=FULL), then start a fresh member B with `--peer http://A` (WebSocket):
B is behind A's horizon, so it pulls A's snapshot, installs it and takes the Δ events after it.
Timed from B's spawn until B's heads (`GET /performer/v1/events/heads`) cover A's.

Target (from the issue): the catch-up time for the longest history over that for the shortest
under 2, since the cost is O(snapshot) + O(Δ), not O(history). There is no peer system to
compare with; for scale, bench/sync.py measures plain event catch-up (no snapshot).

A benchmark, not a test: it always exits 0, stops both servers and removes its temporary
directory (next to this file unless `--dir` says otherwise) on every exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import sync_package  # noqa: F401 - first: `sync` is the project's package, not bench/sync.py
from auth_servers import filesystem_type
from common import emit, log, ratio, run_script, scratch_dir
from nacl.signing import SigningKey
from sync_servers import FIRST_POLL_S, Serve, held, join

from performer_edge.config import Settings
from performer_edge.core.db import WriteTx
from performer_edge.node import Node

TARGET_RATIO = 2.0
WRITE_BATCH = 2000
MIGRATION = "create table public.items (id integer primary key, n integer, note text);\n"


@dataclass
class History:
    history: int  # row events folded into the snapshot
    delta: int  # row events after it
    write_s: float = 0.0
    compact_s: float = 0.0
    snapshot_bytes: int = 0
    log_bytes_before: int = 0  # A's database (file and WAL) before compaction
    events: int = 0  # A's vector total when B starts
    completed: bool = False
    error: str = ""
    catch_up_s: float = 0.0  # B's spawn -> B holds A's whole vector
    b_start_s: float = 0.0  # B's spawn -> banner
    b_rows: int = 0


def write_rows(node: Node, count: int, rows: int, start: int) -> None:
    """`count` row events: inserts of rows not there yet, then updates cycling over them."""
    store = node.rest.rows

    def batch(tx: WriteTx, first: int, k: int) -> None:
        for i in range(first, first + k):
            row_id = i % rows
            if i < rows:
                planned = store.plan_insert(tx.conn, "items", {"id": row_id, "n": i, "note": "x"})
            else:
                planned = store.plan_update(tx.conn, "items", {"id": row_id}, {"n": i})
            store.append(tx, node.log, planned)

    done = 0
    while done < count:
        k = min(WRITE_BATCH, count - done)
        node.db.write_sync(lambda tx, f=start + done, k=k: batch(tx, f, k))  # type: ignore[misc]
        done += k
        if done % (50 * WRITE_BATCH) == 0:
            log(f"      {done:,} / {count:,}")


def prepare(data: Path, root: SigningKey, h: History, rows: int) -> None:
    join(data, root)
    migration = data.parent / f"{data.name}-items.sql"
    migration.write_text(MIGRATION)
    subprocess.run(
        [sys.executable, "-m", "performer_edge", "migrate", "--data", str(data), str(migration)],
        check=True,
        capture_output=True,
    )
    node = Node.open(Settings(data=data, synchronous="OFF"))
    try:
        started = time.perf_counter()
        write_rows(node, h.history, rows, 0)
        h.write_s = time.perf_counter() - started
        db_path = node.data_dir.db_path
        wal = db_path.with_name(db_path.name + "-wal")
        h.log_bytes_before = db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        started = time.perf_counter()
        report = node.snapshots.compact()
        h.compact_s = time.perf_counter() - started
        h.snapshot_bytes = report.snapshot.size
        write_rows(node, h.delta, rows, h.history)
    finally:
        node.close()


async def catch_up(work: Path, a_data: Path, root: SigningKey, h: History, limit_s: float) -> None:
    b_data = work / f"b-{h.history}"
    join(b_data, root)
    a = Serve("a", a_data, [])
    b: Serve | None = None
    try:
        a.spawn()
        await a.wait_ready()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            target = await a.heads(http)
            h.events = sum(target.values())
            b = Serve("b", b_data, ["--peer", a.url])
            b.spawn()
            await b.wait_ready()
            h.b_start_s = b.ready_at - b.spawned_at
            deadline = b.spawned_at + limit_s
            while True:
                if time.monotonic() > deadline:
                    h.error = f"timed out after {limit_s:g} s"
                    return
                for server in (a, b):
                    if not server.alive():
                        raise RuntimeError(f"{server.name} died:\n{server.tail()}")
                if held(target, await b.heads(http)) >= h.events:
                    h.catch_up_s = time.monotonic() - b.spawned_at
                    h.completed = True
                    break
                await asyncio.sleep(FIRST_POLL_S)
            headers = {"apikey": b.key, "Authorization": f"Bearer {b.key}"}
            params = {"select": "id", "limit": "1"}
            headers["Prefer"] = "count=exact"
            async with http.get(f"{b.url}/rest/v1/items", params=params, headers=headers) as r:
                h.b_rows = int(r.headers.get("Content-Range", "*/0").rsplit("/", 1)[1])
    finally:
        if b is not None:
            b.stop()
        a.stop()


async def measure(work: Path, args: argparse.Namespace) -> list[History]:
    results = []
    for history in args.histories:
        root = SigningKey.generate()
        h = History(history, args.delta)
        a_data = work / f"a-{history}"
        log(f"  history {history:,}: write, compact, then {args.delta:,} more events on A")
        prepare(a_data, root, h, args.rows)
        log(
            f"    written in {h.write_s:.1f} s; compacted in {h.compact_s:.2f} s into a "
            f"{h.snapshot_bytes / 1e6:.2f} MB snapshot (log was {h.log_bytes_before / 1e6:.0f} MB)"
        )
        await catch_up(work, a_data, root, h, args.timeout)
        log(
            f"    fresh B caught up in {h.catch_up_s:.2f} s"
            if h.completed
            else f"    not completed: {h.error}"
        )
        results.append(h)
    return results


def build_report(args: argparse.Namespace, work: Path, runs: list[History]) -> dict[str, Any]:
    done = [r for r in runs if r.completed]
    shortest = min(done, key=lambda r: r.history, default=None)
    longest = max(done, key=lambda r: r.history, default=None)
    measured = ratio(longest.catch_up_s, shortest.catch_up_s) if shortest and longest else None
    return {
        "rows": args.rows,
        "delta": args.delta,
        "filesystem": filesystem_type(work),
        "cpus": os.cpu_count(),
        "runs": [asdict(r) for r in runs],
        "target": {
            "what": "catch-up time, longest history over shortest (B starts empty)",
            "maximum": TARGET_RATIO,
            "measured": round(measured, 2) if measured is not None else None,
            "hit": measured is not None and len(done) == len(runs) and measured < TARGET_RATIO,
        },
        "peer": "none: no other sync system to compare with on this machine",
    }


def print_report(report: dict[str, Any]) -> None:
    print(f"\nSnapshot catch-up: {report['rows']:,} rows, Δ = {report['delta']:,} events after")
    print(f"{'history':>10} {'snapshot MB':>12} {'compact s':>10} {'catch-up s':>11} {'rows':>6}")
    for run in report["runs"]:
        catch = f"{run['catch_up_s']:.2f}" if run["completed"] else "n/a"
        print(
            f"{run['history']:>10,} {run['snapshot_bytes'] / 1e6:>12.2f} "
            f"{run['compact_s']:>10.2f} {catch:>11} {run['b_rows']:>6}"
        )
    target = report["target"]
    verdict = "HIT" if target["hit"] else "MISS"
    measured, maximum = target["measured"], target["maximum"]
    print(f"\nratio longest/shortest: {measured} (target < {maximum}): {verdict}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--histories", default="10000,1000000", help="(10000,1000000)")
    parser.add_argument("--rows", type=int, default=1000, help="rows the events update (1000)")
    parser.add_argument("--delta", type=int, default=10_000, help="events after the snapshot")
    parser.add_argument("--timeout", type=float, default=300.0, help="most seconds per catch-up")
    parser.add_argument("--dir", type=Path, default=here, help="parent of the temporary dir")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    try:
        args.histories = sorted(int(h) for h in args.histories.split(",") if h.strip())
    except ValueError:
        parser.error("--histories: comma-separated counts")
    if not args.histories or min(args.histories) < args.rows or args.rows < 1 or args.delta < 1:
        parser.error("every history must cover --rows (each row is inserted once)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_dir(args.dir, "sync-snapshot") as work:
        log(f"benchmarking in {work} ({filesystem_type(work)})")
        runs = asyncio.run(measure(work, args))
        report = build_report(args, work, runs)
    emit(report, args.json, print_report)
    return 0


if __name__ == "__main__":
    run_script(main)
