"""Sampling both nodes of bench/sync.py with py-spy: `--gil` (who holds the GIL, doing what)
and `--idle` (every thread's wall time, including waits and C calls that release the GIL)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pyspy import PROFILE_RATE, summarize_pyspy

# Where GIL-held samples go, by the first rule found in the stack (py-spy frames name the file).
PROFILE_BUCKETS: tuple[tuple[str, str], ...] = (
    ("Ed25519 verify per event (bridge.refusal)", "verify_signature"),
    ("shape check per event", "check_shape"),
    ("ingest: INSERT + projections (writer)", "core/log.py"),
    ("group commit machinery, COMMIT (db.py)", "core/db.py"),
    ("event bus publish / subscribers", "core/bus.py"),
    ("frame CBOR decode/encode (sync/codec.py)", "sync/codec.py"),
    ("read_missing + to_wire (sender)", "peers/bridge.py"),
    ("session state machine (sync/session.py)", "sync/session.py"),
    ("connection driver, thread hop (connection.py)", "peers/connection.py"),
    ("SSE transport", "transport_sse"),
    ("WebSocket transport", "transport_ws"),
    ("heads poll (bench's own requests)", "events_api.py"),
    ("aiohttp: frames, HTTP", "aiohttp/"),
    ("asyncio event loop", "asyncio/"),
    ("thread pool (to_thread)", "concurrent/futures"),
)


def start_pyspy(
    pyspy: Path, pid: int, out: Path, name: str, mode: str
) -> tuple[str, subprocess.Popen[bytes], Path, float]:
    """py-spy record on `pid` until SIGINT (it then writes the raw stacks). Mode "gil": only the
    thread holding the GIL; "wall": every thread at every tick, idle or not (`--idle`)."""
    command = [
        str(pyspy),
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(PROFILE_RATE),
        "--format",
        "raw",
        "--threads",
        "--gil" if mode == "gil" else "--idle",
        "--output",
        str(out),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return name, proc, out, time.monotonic()


async def stop_pyspy(spy: list[Any], mode: str) -> dict[str, Any]:
    proc, out, started = spy
    assert isinstance(proc, subprocess.Popen)
    seconds = time.monotonic() - started
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = await asyncio.to_thread(proc.communicate, None, 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    if not out.exists():
        said = (output or b"").decode(errors="replace").strip()[-500:]
        return {"error": said or f"no samples after {seconds:.2f} s (the catch-up was too short)"}
    raw = out.read_text()
    ticks = seconds * PROFILE_RATE
    summary = summarize_pyspy(raw, ticks, PROFILE_BUCKETS) if mode == "gil" else {}
    if mode == "wall":
        summary["wall"] = wall_profile(raw, ticks)
    summary["seconds"] = seconds
    return summary


# What each thread of the receiver spends wall time on, GIL or not, idle included (py-spy --idle).
WALL_BUCKETS: tuple[tuple[str, str], ...] = (
    ("Ed25519 verify (C, GIL released)", "verify_signature"),
    ("waiting for its batch's durable commit (write_sync)", "write_sync"),
    ("read_missing: the sender's Fetch (SQLite + row_to_event)", "read_missing"),
    ("shape check", "check_shape"),
    ("frame CBOR decode/encode (codec.py)", "sync/codec.py"),
    ("ingest: INSERT + projections", "ingest_batch"),
    ("other session work (session.py, bridge.py)", "peers/connection.py"),
    ("BEGIN/COMMIT incl. fsync, group machinery", "_run_group"),
    ("idle: writer waiting for writes", "Database._run ("),
    ("HTTP requests (the bench's heads polls)", "events_api.py"),
    ("reads: heads polls, the log's vector", "core/log.py"),
    ("idle: reader waiting for reads", "_serve_reads"),
    ("idle: event loop in epoll", "selectors.py"),
    ("event loop: aiohttp", "aiohttp/"),
    ("event loop: asyncio", "asyncio/"),
    ("idle: thread-pool worker waiting for work", "concurrent/futures/thread.py"),
)


def wall_profile(raw: str, ticks: float) -> dict[str, Any]:
    """Per thread name: how many threads, and each bucket's share of wall time (summed over the
    threads of that name, so a pool of idle workers can exceed 100%)."""
    per: dict[str, Counter[str]] = {}
    ids: dict[str, set[str]] = {}
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        match = re.match(r"^thread \((\w+)\): (.*)$", frames[0])
        tid, name = (match.group(1), match.group(2)) if match else ("?", frames[0])
        name = re.sub(r"_\d+$", "", name)
        joined = ";".join(frames[1:])
        label = next((b for b, pattern in WALL_BUCKETS if pattern in joined), "other")
        if label == "other" and frames[1:]:
            label = f"other: {frames[-1]}"
        per.setdefault(name, Counter())[label] += int(count_text)
        ids.setdefault(name, set()).add(tid)
    return {
        name: {
            "threads": len(ids[name]),
            "buckets": {b: n / ticks for b, n in counter.most_common(8) if ticks},
        }
        for name, counter in sorted(per.items(), key=lambda kv: -sum(kv[1].values()))
    }
