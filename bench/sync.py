"""Catch-up throughput between two real nodes: a fresh node B takes N events from node A, over
WebSocket and then over SSE, in one run.

    .venv/bin/python bench/sync.py [--events 100000 | --million] [--transports websocket,sse]
                                   [--timeout S] [--poll 0.05] [--dir PARENT] [--json]
                                   [--profile] [--serve-arg=ARG ...]

Setup, once: a cluster root key made here, and A's data dir joined to it (a certificate from
`trust.issue`, `membership.save`, as `performer cluster join` leaves it); then A's log is
prefilled without a server: `Node.open` (synchronous=OFF) and `LogWriter.append_encoded` in
write batches of `--prefill-batch` events (signed by A's key, the same 117-byte CBOR payload as
bench/event_log.py). Then, per transport: `performer serve` A (synchronous=FULL, as shipped),
read A's heads (`GET /performer/v1/events/heads`, service_role key), start a fresh member B with
`--peer http://A` (WebSocket) or `--peer sse+http://A` (SSE) and poll B's heads until they cover
A's: B's log then holds every event A had. Times are from B's spawn; the first event is the
first poll that sees any of A's events on B (10 ms polls until then, `--poll` after). Both
servers' CPU seconds (user + system, /proc/PID/stat) and RSS (/proc/PID/status) are taken over
the catch-up; A is restarted per transport so each run starts alike.

Target (from the issue): at least 50,000 events/s over WebSocket on this machine, from B's
start to B holding all N (HIT/MISS printed). There is no peer system to compare with here. The
issue's snapshot path (a fresh node installs a compacted snapshot instead of taking the whole
log) is measured by bench/sync_snapshot.py.

Per-event CPU costs of the receive path are also timed in-process (CBOR decode of a batch
frame, shape check, Ed25519 verification as bridge.py does it and with the key reused), with
the ceiling they imply on one core. `--profile` re-runs the WebSocket catch-up twice: once while
`py-spy record --gil` samples the receiving node B and the sending node A (who holds the GIL,
doing what), once with `py-spy record --idle` on both (every thread's wall time, waits and C
calls that release the GIL included). Unprofiled numbers stay clean: py-spy pauses what it samples.

A benchmark, not a test: it always exits 0, stops both servers and removes its temporary
directory (next to this file unless `--dir` says otherwise) on every exit.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sync_package  # noqa: F401 - first: `sync` is the project's package, not this file
from auth_servers import (
    ensure_pyspy,
    filesystem_type,
)
from common import emit, log, ratio, run_script, scratch_dir
from event_log_report import PAYLOAD
from load import process_cpu_seconds, process_memory
from nacl.signing import SigningKey, VerifyKey
from sync_profile import start_pyspy, stop_pyspy
from sync_report import print_report
from sync_servers import FIRST_POLL_S, TRANSPORTS, Serve, held, join

from performer_edge.config import Settings
from performer_edge.core.db import WriteTx
from performer_edge.core.events import check_shape, encode_payload, sign_event
from performer_edge.node import Node
from performer_edge.peers.bridge import from_wire, to_wire
from sync import codec
from sync.messages import Events
from sync.session import SessionConfig

KIND = "app.bench"
SCOPE = "bench"
TARGET_WS = 50_000  # events/s over WebSocket, from B's start to B holding all N
MICRO_EVENTS = 2048


# -- setup: a cluster and a prefilled log -------------------------------------------------------


def prefill(data: Path, n: int, batch: int) -> float:
    """Append `n` signed events to the node at `data`, no server; seconds taken."""
    node = Node.open(Settings(data=data, synchronous="OFF"))
    payload = encode_payload(PAYLOAD)

    def append(tx: WriteTx, k: int) -> None:
        for _ in range(k):
            node.log.append_encoded(tx, KIND, SCOPE, payload)

    started = time.perf_counter()
    try:
        done = 0
        while done < n:
            k = min(batch, n - done)
            node.db.write_sync(functools.partial(append, k=k))
            done += k
            if done % (10 * batch) == 0 or done == n:
                log(f"    {done:,} / {n:,}")
    finally:
        node.close()
    return time.perf_counter() - started


# -- one catch-up ---------------------------------------------------------------------------


@dataclass
class CatchUp:
    transport: str
    events: int  # A's whole log at B's start (the prefill plus A's own and earlier B's events)
    completed: bool = False
    error: str = ""
    b_start_s: float = 0.0  # spawn -> banner
    first_event_s: float = 0.0  # spawn -> first of A's events on B
    total_s: float = 0.0  # spawn -> B holds all of A's events
    rate: float = 0.0  # events / total_s
    streaming_rate: float = 0.0  # events / (total_s - first_event_s)
    polls: int = 0
    a_cpu_s: float = 0.0
    b_cpu_s: float = 0.0
    b_cpu_startup_s: float = 0.0
    a_rss_kib: int = 0
    b_rss_kib: int = 0
    a_peak_rss_kib: int = 0  # highest VmRSS seen while polling
    b_peak_rss_kib: int = 0
    a_hwm_kib: int = 0  # VmHWM: peak since the process started
    b_hwm_kib: int = 0
    b_sync: dict[str, Any] = field(default_factory=dict)
    progress: list[tuple[float, int]] = field(default_factory=list)  # (s since spawn, held)
    profile: dict[str, Any] = field(default_factory=dict)


async def catch_up(
    work: Path,
    a_data: Path,
    root: SigningKey,
    transport: str,
    run: int,
    args: argparse.Namespace,
    pyspy: Path | None = None,
    mode: str = "gil",
) -> CatchUp:
    """Serve A, start a fresh B dialing A over `transport`, wait until B holds A's log."""
    b_data = work / f"b-{transport}-{run}"
    join(b_data, root)
    a = Serve("a", a_data, list(args.serve_arg))
    b: Serve | None = None
    spies: list[tuple[str, subprocess.Popen[bytes], Path, float]] = []
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        a.spawn()
        await a.wait_ready()
        async with aiohttp.ClientSession(timeout=timeout) as http:
            target = await a.heads(http)
            result = CatchUp(transport, sum(target.values()))
            peer = TRANSPORTS[transport] + a.url.split("://", 1)[1]
            b = Serve("b", b_data, ["--peer", peer, *args.serve_arg])
            a_cpu0 = process_cpu_seconds(a.pid)
            b.spawn()
            await b.wait_ready()
            result.b_start_s = b.ready_at - b.spawned_at
            result.b_cpu_startup_s = process_cpu_seconds(b.pid)
            if pyspy is not None:
                for name, pid in (("receiver B", b.pid), ("sender A", a.pid)):
                    out = work / f"pyspy-{mode}-{name[-1]}.txt"
                    spies.append(start_pyspy(pyspy, pid, out, name, mode))
            deadline = b.spawned_at + args.timeout
            interval = FIRST_POLL_S
            while True:
                now = time.monotonic()
                if now > deadline:
                    result.error = f"timed out after {args.timeout:g} s"
                    break
                for server in (a, b):
                    if not server.alive():
                        raise RuntimeError(f"{server.name} died:\n{server.tail()}")
                count = held(target, await b.heads(http))
                seen = time.monotonic() - b.spawned_at
                result.polls += 1
                result.progress.append((round(seen, 3), count))
                for name, pid in (("a", a.pid), ("b", b.pid)):
                    rss = process_memory(pid)["rss_kib"]
                    key = f"{name}_peak_rss_kib"
                    setattr(result, key, max(getattr(result, key), rss))
                if count and not result.first_event_s:
                    result.first_event_s = seen
                    interval = args.poll
                if count >= result.events:
                    result.completed = True
                    result.total_s = seen
                    break
                await asyncio.sleep(interval)
            result.a_cpu_s = process_cpu_seconds(a.pid) - a_cpu0
            result.b_cpu_s = process_cpu_seconds(b.pid)
            for name, pid in (("a", a.pid), ("b", b.pid)):
                memory = process_memory(pid)
                setattr(result, f"{name}_rss_kib", memory["rss_kib"])
                setattr(result, f"{name}_hwm_kib", memory["peak_rss_kib"])
            if spies:
                result.profile = {name: await stop_pyspy(spy, mode) for name, *spy in spies}
            result.b_sync = (await b.health(http)).get("sync", {})
        if result.completed:
            result.rate = ratio(result.events, result.total_s)
            result.streaming_rate = ratio(result.events, result.total_s - result.first_event_s)
        return result
    finally:
        for _name, proc, _out, _started in spies:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        if b is not None:
            b.stop()
        a.stop()


# -- per-event costs of the receive path, in-process ---------------------------------------


def decode_events(frame: bytes) -> Events:
    message = codec.decode(frame)
    assert isinstance(message, Events)
    return message


def per_event_costs() -> dict[str, float]:
    """µs per event of the CPU work a receiving node does per event besides SQLite."""
    key = SigningKey.generate()
    payload = encode_payload(PAYLOAD)
    signed = [sign_event(key, i + 1, i + 1, KIND, SCOPE, payload) for i in range(MICRO_EVENTS)]
    size = SessionConfig().batch_events
    frames = [
        codec.encode(Events(i, tuple(to_wire(e) for e in signed[i : i + size])))
        for i in range(0, MICRO_EVENTS, size)
    ]
    wire = [e for frame in frames for e in decode_events(frame).events]
    events = [from_wire(e) for e in wire]
    cached = VerifyKey(key.verify_key.encode())

    def decode() -> None:
        for frame in frames:
            codec.decode(frame)

    def convert() -> None:
        for e in wire:
            from_wire(e)

    def shape() -> None:
        for e in events:
            check_shape(e)

    def verify() -> None:
        for e in events:
            e.verify_signature()

    def verify_cached() -> None:
        for e in events:
            cached.verify(e.signing_bytes(), e.sig)

    def encode() -> None:
        for i in range(0, MICRO_EVENTS, size):
            codec.encode(Events(i, tuple(to_wire(e) for e in signed[i : i + size])))

    out: dict[str, float] = {}
    for name, fn in (
        ("decode_frame_us", decode),
        ("from_wire_us", convert),
        ("check_shape_us", shape),
        ("verify_signature_us", verify),
        ("verify_key_reused_us", verify_cached),
        ("sender_encode_frame_us", encode),
    ):
        fn()  # warm
        rounds = 3
        started = time.perf_counter()
        for _ in range(rounds):
            fn()
        out[name] = (time.perf_counter() - started) / (rounds * MICRO_EVENTS) * 1e6
    out["receive_total_us"] = sum(
        out[k] for k in ("decode_frame_us", "from_wire_us", "check_shape_us", "verify_signature_us")
    )
    out["batch_events"] = size
    out["window"] = SessionConfig().window
    return out


# -- the run ---------------------------------------------------------------------------------


async def measure(work: Path, args: argparse.Namespace, pyspy: Path | None) -> dict[str, Any]:
    root = SigningKey.generate()
    a_data = work / "a"
    join(a_data, root)
    log(f"  prefill A with {args.events:,} events, {args.prefill_batch:,} per write")
    prefill_s = prefill(a_data, args.events, args.prefill_batch)
    log(f"    {prefill_s:.1f} s ({ratio(args.events, prefill_s):,.0f} events/s)")
    runs: list[CatchUp] = []
    for i, transport in enumerate(args.transports):
        log(f"  catch-up over {transport}: serve A, start a fresh B dialing it")
        result = await catch_up(work, a_data, root, transport, i, args)
        log(
            f"    {result.events:,} events in {result.total_s:.2f} s ({result.rate:,.0f}/s)"
            if result.completed
            else f"    not completed: {result.error}"
        )
        runs.append(result)
    profiles: list[CatchUp] = []
    if pyspy is not None:
        transport = args.profile_transport
        log(f"  profile: {transport} catch-up again, py-spy --gil on B (receiver) and A (sender)")
        profiles.append(await catch_up(work, a_data, root, transport, 10, args, pyspy, "gil"))
        log(f"  profile: {transport} catch-up again, py-spy --idle (wall clock) on B and A")
        profiles.append(await catch_up(work, a_data, root, transport, 11, args, pyspy, "wall"))
    return {
        "prefill_s": prefill_s,
        "runs": runs,
        "profile_runs": profiles,
    }


def build_report(
    args: argparse.Namespace, work: Path, m: dict[str, Any], load: tuple[float, float]
) -> dict[str, Any]:
    runs: list[CatchUp] = m["runs"]
    ws = next((r for r in runs if r.transport == "websocket"), None)
    costs = per_event_costs()
    return {
        "events": args.events,
        "prefill_seconds": round(m["prefill_s"], 2),
        "prefill_rate": round(ratio(args.events, m["prefill_s"])),
        "filesystem": filesystem_type(work),
        "cpus": os.cpu_count(),
        "load_average": {"before": load[0], "after": load[1]},
        "session_config": asdict(SessionConfig()),
        "runs": [{k: v for k, v in asdict(r).items() if k != "profile"} for r in runs],
        "per_event_costs_us": {k: round(v, 2) for k, v in costs.items()},
        "target": {
            "what": "websocket catch-up events/s, from B's spawn to B holding all of A's log",
            "minimum": TARGET_WS,
            "measured": round(ws.rate) if ws else None,
            "hit": bool(ws and ws.completed and ws.rate >= TARGET_WS),
        },
        "peer": "none: no other sync system to compare with on this machine",
        "snapshot_path": "measured by bench/sync_snapshot.py",
        "profiles": [
            {"transport": r.transport, "total_s": r.total_s, "rate": r.rate, **r.profile}
            for r in m["profile_runs"]
        ],
    }


# -- arguments ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in A's log (100000)")
    parser.add_argument("--million", action="store_true", help="1,000,000 events (overrides)")
    parser.add_argument(
        "--transports",
        default="websocket,sse",
        help="comma-separated, in order: websocket, sse (default both)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="most seconds per catch-up (default 60 + 1 s per 2,000 events)",
    )
    parser.add_argument(
        "--poll", type=float, default=0.05, help="seconds between heads polls once events flow"
    )
    parser.add_argument(
        "--prefill-batch", type=int, default=10_000, help="events per prefill write (10000)"
    )
    parser.add_argument(
        "--dir", type=Path, default=here, help="parent of the temporary directory (bench/)"
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for both `performer serve`, repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="two more catch-ups: py-spy --gil on both nodes, then py-spy --idle on both",
    )
    parser.add_argument(
        "--profile-transport", default="websocket", choices=tuple(TRANSPORTS), help="(websocket)"
    )
    args = parser.parse_args(argv)
    if args.million:
        args.events = 1_000_000
    args.transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    unknown = [t for t in args.transports if t not in TRANSPORTS]
    if unknown or not args.transports:
        parser.error(f"--transports: pick from {', '.join(TRANSPORTS)}")
    if args.events < 1 or args.prefill_batch < 1 or args.poll <= 0 or args.timeout < 0:
        parser.error("--events, --prefill-batch and --poll must be positive")
    if not args.timeout:
        args.timeout = 60 + math.ceil(args.events / 2000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pyspy = ensure_pyspy() if args.profile else None
    with scratch_dir(args.dir, "sync") as work:
        log(f"benchmarking in {work} ({filesystem_type(work)})")
        load_before = os.getloadavg()[0]
        measured = asyncio.run(measure(work, args, pyspy))
        report = build_report(args, work, measured, (load_before, os.getloadavg()[0]))
    emit(report, args.json, print_report)
    return 0


if __name__ == "__main__":
    run_script(main)
