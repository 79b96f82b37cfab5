"""The load generator the HTTP benchmarks share: N concurrent aiohttp workers, one request at a
time each, for a fixed duration or request count; rates, latency percentiles and CPU shares."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from common import percentile

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# One request: the session, the worker's index and how many requests that worker sent before.
Call = Callable[[aiohttp.ClientSession, int, int], Awaitable[None]]


class RequestFailed(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200].decode(errors='replace')}")


# Anything a request can fail with short of a bug in the bench: counted, not raised.
REQUEST_ERRORS = (TimeoutError, aiohttp.ClientError, KeyError, RequestFailed)


async def expect_ok(response: aiohttp.ClientResponse) -> bytes:
    body = await response.read()
    if response.status >= 300:
        raise RequestFailed(response.status, body)
    return body


@dataclass
class Result:
    server: str
    op: str
    concurrency: int
    ok: int
    errors: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu_us_per_op: float
    server_cpu_cores: float
    client_cpu_share: float
    first_error: str = ""


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far (fields 14 and 15 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            text = stat.read()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of `pid`, in KiB."""
    out = {"rss_kib": 0, "peak_rss_kib": 0}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    out["rss_kib"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["peak_rss_kib"] = int(line.split()[1])
    except OSError:
        pass
    return out


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def run_load(
    server: str,
    pid: int,
    op: str,
    call: Call,
    concurrency: int,
    seconds: float,
    max_requests: int,
) -> Result:
    """`concurrency` workers each sending one request at a time, for `seconds` or until
    `max_requests` were sent; successful requests count, failures are tallied by message."""
    clock = time.perf_counter
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    sent = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = 0.0

        async def worker(index: int) -> None:
            nonlocal sent
            i = 0
            while clock() < deadline and sent < max_requests:
                sent += 1
                started = clock()
                try:
                    await call(session, index, i)
                except REQUEST_ERRORS as exc:
                    errors[str(exc) or type(exc).__name__] += 1
                    continue
                finally:
                    i += 1
                latencies.append(clock() - started)

        server_cpu = process_cpu_seconds(pid)
        client_cpu = own_cpu_seconds()
        started = clock()
        deadline = started + seconds
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        elapsed = clock() - started
        server_cpu = process_cpu_seconds(pid) - server_cpu
        client_cpu = own_cpu_seconds() - client_cpu
    latencies.sort()
    ok = len(latencies)
    return Result(
        server=server,
        op=op,
        concurrency=concurrency,
        ok=ok,
        errors=sum(errors.values()),
        seconds=elapsed,
        rate=ok / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        server_cpu_us_per_op=server_cpu / ok * 1e6 if ok else 0.0,
        server_cpu_cores=server_cpu / elapsed,
        client_cpu_share=client_cpu / elapsed,
        first_error=errors.most_common(1)[0][0] if errors else "",
    )
