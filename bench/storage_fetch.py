"""Lazy fetch of a blob between two nodes: a 200 MB object uploaded on A is downloaded on B, which
fetches it from A by hash first (`performer_edge/storage/peer_fetch.py`), then downloaded again
on B (now local). Two `performer serve` processes on 127.0.0.1, B dialing A. Prints MB/s.

    .venv/bin/python bench/storage_fetch.py [--mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import sync_package  # noqa: F401 - first: `sync` is the project's package, not bench/sync.py
from nacl.signing import SigningKey
from sync_servers import Serve, join

BUCKET = "fetch-bench"
NAME = "big.bin"
CHUNK = 1024 * 1024


def headers(node: Serve) -> dict[str, str]:
    return {"apikey": node.key, "Authorization": f"Bearer {node.key}"}


def write_file(path: Path, megabytes: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(megabytes):
            chunk = os.urandom(CHUNK)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


async def upload(http: aiohttp.ClientSession, node: Serve, path: Path) -> float:
    async with http.post(
        f"{node.url}/storage/v1/bucket", json={"id": BUCKET, "name": BUCKET}, headers=headers(node)
    ) as created:
        assert created.status == 200, await created.text()
    started = time.perf_counter()
    async with http.post(
        f"{node.url}/storage/v1/object/{BUCKET}/{NAME}",
        data=file_chunks(path),
        headers={**headers(node), "Content-Type": "application/octet-stream"},
    ) as uploaded:
        assert uploaded.status == 200, await uploaded.text()
    return time.perf_counter() - started


async def download(http: aiohttp.ClientSession, node: Serve, expected: str) -> float:
    """Seconds from the request to the last byte; the bytes are checked against `expected`."""
    digest = hashlib.sha256()
    started = time.perf_counter()
    async with http.get(
        f"{node.url}/storage/v1/object/{BUCKET}/{NAME}", headers=headers(node)
    ) as answer:
        assert answer.status == 200, await answer.text()
        async for chunk in answer.content.iter_chunked(CHUNK):
            digest.update(chunk)
    elapsed = time.perf_counter() - started
    assert digest.hexdigest() == expected, "the download is not byte-exact"
    return elapsed


async def wait_for_row(http: aiohttp.ClientSession, node: Serve, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    url = f"{node.url}/storage/v1/object/info/{BUCKET}/{NAME}"
    while time.monotonic() < deadline:
        async with http.get(url, headers=headers(node)) as answer:
            if answer.status == 200:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError("the object's metadata never reached B")


async def run(megabytes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="storage-fetch-") as scratch:
        root = Path(scratch)
        key = SigningKey.generate()
        for name in ("a", "b"):
            join(root / name, key)
        source = root / "big.bin"
        expected = write_file(source, megabytes)
        a = Serve("a", root / "a", ["--no-discovery"])
        a.spawn()
        await a.wait_ready()
        b = Serve("b", root / "b", ["--no-discovery", "--peer", a.url])
        b.spawn()
        try:
            await b.wait_ready()
            timeout = aiohttp.ClientTimeout(total=None)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                uploaded = await upload(http, a, source)
                await wait_for_row(http, b)
                fetched = await download(http, b, expected)  # B fetches from A, then serves
                local_b = await download(http, b, expected)
                local_a = await download(http, a, expected)
        finally:
            b.stop()
            a.stop()
    size = megabytes * CHUNK / 1e6
    print(f"{megabytes} MiB object ({size:.0f} MB), two nodes on 127.0.0.1, B dialing A")
    print(f"  upload on A:                     {size / uploaded:8.1f} MB/s")
    print(f"  first download on B (lazy fetch): {size / fetched:8.1f} MB/s")
    print(f"  second download on B (local):     {size / local_b:8.1f} MB/s")
    print(f"  download on A (local):            {size / local_a:8.1f} MB/s")
    print(f"  the fetch alone (first - second): {size / (fetched - local_b):8.1f} MB/s")
    print(f"  lazy fetch / local download on B: {local_b / fetched:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="object size in MiB (default 200)")
    asyncio.run(run(parser.parse_args().mb))


if __name__ == "__main__":
    main()
