"""Function invocations per second and latency through HTTP, with the node's `/health` as the
ceiling, one run on one node.

    .venv/bin/python bench/functions.py [--seconds 5] [--cold 30] [--concurrency 1,16] [--json]
                                        [--dir PARENT] [--serve-arg=ARG ...]

The node runs as a subprocess on loopback (`performer serve`, defaults). Two example functions
are deployed over HTTP: `examples/functions/hello-c.wasm` (C, WASI command ABI: a new instance
per request, JSON through stdin/stdout) and `examples/functions/hello-wat.wasm` (WAT, the raw
ABI: `alloc`/`handle`, a warm instance reused). Then:

- cold: `--cold` deployments of each (distinct names, so nothing of the function is loaded), and
  the first `POST /functions/v1/NAME` after each, one at a time: p50/p99 of that first call;
- warm, for each concurrency in `--concurrency` (N aiohttp workers, keep-alive, one request at a
  time each, `--seconds` per cell): `GET /health`, then `POST /functions/v1/NAME` with a small
  JSON body and the anon key, for each ABI. Requests/s, p50, p99, the server's CPU per request.

Targets (the Functions issue): warm raw ABI p50 under 1 ms above `/health`'s p50 at concurrency
1, and at least 50% of `/health`'s requests/s at the highest concurrency. HIT/MISS is printed;
a benchmark, not a test, it always exits 0. The temporary directory (next to this file unless
`--dir` says otherwise) is removed and the node stopped on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from auth_servers import Ours, ensure_alive, stop_all
from common import emit, log, percentile, ratio, run_script
from load import Call, Result, expect_ok, run_load

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "functions"
ABIS = {"command": "hello-c.wasm", "raw": "hello-wat.wasm"}
HEALTH = "health"
LATENCY_TARGET_MS = 1.0
RATE_TARGET = 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per warm cell")
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--cold", type=int, default=30, help="cold first calls per ABI")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated levels")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--serve-arg", action="append", default=[], help="extra serve flags")
    return parser.parse_args()


def service_key(server: Ours) -> str:
    for line in server.stdout_path.read_text().splitlines():
        if line.strip().startswith("service_role key"):
            return line.split()[-1]
    raise RuntimeError("no service_role key in the node's banner")


async def deploy(
    session: aiohttp.ClientSession, server: Ours, key: str, name: str, abi: str
) -> None:
    wasm = (EXAMPLES / ABIS[abi]).read_bytes()
    async with session.post(
        f"{server.url}/functions/v1/deploy",
        json={"name": name, "wasm_base64": base64.b64encode(wasm).decode()},
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
    ) as response:
        await expect_ok(response)


def invoke_call(server: Ours, name: str) -> Call:
    url = f"{server.url}/functions/v1/{name}"
    headers = {"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"}

    async def call(session: aiohttp.ClientSession, worker: int, i: int) -> None:
        async with session.post(url, json={"worker": worker, "i": i}, headers=headers) as response:
            await expect_ok(response)

    return call


def health_call(server: Ours) -> Call:
    url = f"{server.url}/health"

    async def call(session: aiohttp.ClientSession, worker: int, i: int) -> None:
        async with session.get(url) as response:
            await expect_ok(response)

    return call


async def cold_calls(server: Ours, key: str, abi: str, count: int) -> dict[str, float]:
    """Deploy `count` fresh names and time each one's first invocation (ms)."""
    timings: list[float] = []
    async with aiohttp.ClientSession() as session:
        for n in range(count):
            name = f"cold-{abi}-{n}"
            await deploy(session, server, key, name, abi)
            call = invoke_call(server, name)
            started = time.perf_counter()
            await call(session, 0, 0)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"count": count, "p50_ms": percentile(timings, 0.5), "p99_ms": percentile(timings, 0.99)}


async def measure(args: argparse.Namespace, server: Ours) -> dict[str, Any]:
    key = service_key(server)
    async with aiohttp.ClientSession() as session:
        for abi in ABIS:
            await deploy(session, server, key, f"warm-{abi}", abi)
    cold = {}
    for abi in ABIS:
        log(f"cold: {args.cold} first calls of {abi}")
        cold[abi] = await cold_calls(server, key, abi, args.cold)
    cells: list[Result] = []
    levels = [int(c) for c in args.concurrency.split(",") if c]
    pid = server.proc.pid
    for concurrency in levels:
        for op, call in [
            (HEALTH, health_call(server)),
            *((abi, invoke_call(server, f"warm-{abi}")) for abi in ABIS),
        ]:
            log(f"warm: {op} @ c{concurrency} for {args.seconds} s")
            # One short unmeasured pass so every worker's connection and instance exist.
            await run_load("ours", pid, op, call, concurrency, 0.3, args.max_requests)
            cells.append(
                await run_load("ours", pid, op, call, concurrency, args.seconds, args.max_requests)
            )
            ensure_alive([server])
    return {"cold": cold, "warm": [vars(c) for c in cells], "targets": targets(cells, levels)}


def targets(cells: list[Result], levels: list[int]) -> dict[str, Any]:
    def cell(op: str, concurrency: int) -> Result:
        return next(c for c in cells if c.op == op and c.concurrency == concurrency)

    low, high = min(levels), max(levels)
    added = cell("raw", low).p50_ms - cell(HEALTH, low).p50_ms
    share = ratio(cell("raw", high).rate, cell(HEALTH, high).rate)
    return {
        "raw_added_p50_ms": added,
        "raw_added_p50_concurrency": low,
        "raw_added_p50_hit": added < LATENCY_TARGET_MS,
        "raw_rate_share": share,
        "raw_rate_share_concurrency": high,
        "raw_rate_share_hit": share >= RATE_TARGET,
        "command_added_p50_ms": cell("command", low).p50_ms - cell(HEALTH, low).p50_ms,
        "command_rate_share": ratio(cell("command", high).rate, cell(HEALTH, high).rate),
    }


def print_report(report: dict[str, Any]) -> None:
    print(f"Functions through HTTP, one node ({report['load']}), {report['cpus']} CPUs")
    print("\ncold: the first call after a deploy")
    for abi, cold in report["cold"].items():
        p50, p99 = cold["p50_ms"], cold["p99_ms"]
        print(f"  {abi:8} n={cold['count']:<4} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
    print("\nwarm")
    header = ("op", "c", "req/s", "p50 ms", "p99 ms", "cpu us/req", "errors")
    print("  {:8} {:>3} {:>9} {:>8} {:>8} {:>11} {:>7}".format(*header))
    for c in report["warm"]:
        print(
            f"  {c['op']:8} {c['concurrency']:>3} {c['rate']:>9.0f} {c['p50_ms']:>8.3f} "
            f"{c['p99_ms']:>8.3f} {c['server_cpu_us_per_op']:>11.0f} {c['errors']:>7}"
        )
        if c["first_error"]:
            print(f"           first error: {c['first_error']}")
    t = report["targets"]
    hit = {True: "HIT", False: "MISS"}
    print("\ntargets")
    print(
        f"  raw p50 above /health at c{t['raw_added_p50_concurrency']}: "
        f"{t['raw_added_p50_ms']:.3f} ms (< {LATENCY_TARGET_MS} ms) {hit[t['raw_added_p50_hit']]}"
    )
    print(
        f"  raw req/s as a share of /health at c{t['raw_rate_share_concurrency']}: "
        f"{t['raw_rate_share']:.0%} (>= {RATE_TARGET:.0%}) {hit[t['raw_rate_share_hit']]}"
    )
    print(
        f"  (command ABI: {t['command_added_p50_ms']:.3f} ms above /health, "
        f"{t['command_rate_share']:.0%} of its req/s)"
    )


def main() -> int:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-functions-", dir=args.dir))
    server = Ours(work, "FULL", args.serve_arg)
    try:
        server.start()
        report = asyncio.run(measure(args, server))
        report["load"] = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
        report["cpus"] = os.cpu_count()
        emit(report, args.json, print_report)
    finally:
        stop_all([server], work)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run_script(main)
