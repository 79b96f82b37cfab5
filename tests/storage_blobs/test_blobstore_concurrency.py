"""Threads: concurrent puts of the same and different content, and gc racing a re-upload."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from storage_blobs import BlobInfo, BlobStore


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_concurrent_puts_of_same_content(store: BlobStore) -> None:
    data = os.urandom(300_000)
    threads = 16
    barrier = threading.Barrier(threads)

    def put(_: int) -> BlobInfo:
        barrier.wait()
        chunks = [data[i : i + 7000] for i in range(0, len(data), 7000)]
        return store.put_stream(chunks)

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(put, range(threads)))

    expected = hashlib.sha256(data).hexdigest()
    assert {(r.hash, r.size) for r in results} == {(expected, len(data))}
    assert sum(not r.deduplicated for r in results) == 1
    assert list(store.list()) == [expected]
    assert store.verify(expected)
    assert os.listdir(store.root / "tmp") == []


def test_concurrent_puts_of_different_content(store: BlobStore) -> None:
    payloads = [os.urandom(1000 + i) for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(store.put_bytes, payloads))
    assert sorted(store.list()) == sorted(hashlib.sha256(p).hexdigest() for p in payloads)
    for payload, info in zip(payloads, results, strict=True):
        assert b"".join(store.get_stream(info.hash)) == payload


def test_gc_never_undoes_a_put_that_returned(store: BlobStore) -> None:
    # Each round: the blob is old and unreferenced, so gc wants it; a re-upload of the same
    # content races the gc. Whatever the interleaving, the blob must exist afterwards. (A
    # smoke test: test_gc_spares_blob_reuploaded_while_it_decides forces the worst ordering.)
    data = b"racing content" * 1000
    h = store.put_bytes(data).hash
    path = store.root / h[:2] / h[2:4] / h
    rounds = 150
    start = threading.Barrier(3)
    done = threading.Barrier(3)
    failures: list[BaseException] = []

    def uploader() -> None:
        try:
            for _ in range(rounds):
                start.wait()
                store.put_bytes(data)
                done.wait()
        except BaseException as exc:
            failures.append(exc)
            start.abort()
            done.abort()

    def collector() -> None:
        try:
            for _ in range(rounds):
                start.wait()
                store.gc(set(), grace_seconds=3600)
                done.wait()
        except BaseException as exc:
            failures.append(exc)
            start.abort()
            done.abort()

    workers = [threading.Thread(target=uploader), threading.Thread(target=collector)]
    for w in workers:
        w.start()
    for _ in range(rounds):
        then = time.time() - 10_000
        os.utime(path, (then, then))
        start.wait()
        done.wait()
        assert store.has(h), "a put returned but its blob is gone"
    for w in workers:
        w.join()
    assert not failures
    assert store.verify(h)
    assert os.listdir(store.root / "tmp") == []
