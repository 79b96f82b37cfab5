"""put_async: round trip, limits, failures, cancellation, concurrency, event loop stays live.

Uses asyncio.run inside plain tests, so it does not depend on pytest-asyncio's configuration.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from storage_blobs import BlobInfo, BlobStore, BlobTooLarge, HashMismatch, InvalidArgument


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


async def agen(chunks: Iterable[bytes], pause: float = 0.0) -> AsyncIterator[bytes]:
    for chunk in chunks:
        if pause:
            await asyncio.sleep(pause)
        yield chunk


def tmp_files(store: BlobStore) -> list[str]:
    return os.listdir(store.root / "tmp")


def test_put_async_round_trip(store: BlobStore) -> None:
    chunks = [os.urandom(50_000) for _ in range(50)]  # 2.5 MB: several write batches
    data = b"".join(chunks)
    info = asyncio.run(store.put_async(agen(chunks), write_batch=256 * 1024))
    assert info == BlobInfo(hashlib.sha256(data).hexdigest(), len(data))
    assert b"".join(store.get_stream(info.hash)) == data
    assert tmp_files(store) == []


def test_put_async_dedups_with_sync_put(store: BlobStore) -> None:
    first = store.put_bytes(b"both ways")
    second = asyncio.run(store.put_async(agen([b"both ", b"ways"])))
    assert second == BlobInfo(first.hash, first.size, deduplicated=True)


def test_put_async_too_large(store: BlobStore) -> None:
    with pytest.raises(BlobTooLarge):
        asyncio.run(store.put_async(agen([b"x" * 600] * 5), max_size=2000))
    assert list(store.list()) == []
    assert tmp_files(store) == []


def test_put_async_hash_mismatch(store: BlobStore) -> None:
    with pytest.raises(HashMismatch):
        asyncio.run(store.put_async(agen([b"abc"]), expected_hash="0" * 64))
    assert list(store.list()) == []
    assert tmp_files(store) == []


def test_put_async_iterator_raising(store: BlobStore) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"a" * 2_000_000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        asyncio.run(store.put_async(failing(), write_batch=1000))
    assert list(store.list()) == []
    assert tmp_files(store) == []


def test_put_async_cancelled_cleans_up(store: BlobStore) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(store.put_async(agen([b"slow"] * 1000, pause=0.01)))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert list(store.list()) == []
    assert tmp_files(store) == []


def test_put_async_bad_write_batch(store: BlobStore) -> None:
    with pytest.raises(InvalidArgument):
        asyncio.run(store.put_async(agen([b"x"]), write_batch=0))


def test_concurrent_put_async_same_content(store: BlobStore) -> None:
    data = os.urandom(200_000)

    async def scenario() -> list[BlobInfo]:
        parts = [data[i : i + 10_000] for i in range(0, len(data), 10_000)]
        return await asyncio.gather(
            *(store.put_async(agen(parts), write_batch=50_000) for _ in range(8))
        )

    results = asyncio.run(scenario())
    assert {r.hash for r in results} == {hashlib.sha256(data).hexdigest()}
    assert sum(not r.deduplicated for r in results) == 1
    assert tmp_files(store) == []


def test_event_loop_keeps_running_during_upload(store: BlobStore) -> None:
    async def scenario() -> int:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        chunk = os.urandom(1 << 20)
        await store.put_async(agen([chunk] * 32), write_batch=1 << 20)  # 32 MiB
        stop.set()
        await task
        return ticks

    # Every batch write is awaited in a worker thread, so the ticker gets turns throughout.
    assert asyncio.run(scenario()) >= 32
