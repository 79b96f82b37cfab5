"""Blob gc: blobs no object row references (overwritten, removed, never committed) are collected
by the running node's schedule and by `performer storage gc`; live objects' blobs stay, even in
a private bucket no caller can list, and so does a blob an upload holds before its commit."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

from conftest import performer_command, start_serving, stop_serving
from supabase import create_client

from performer_edge.config import Settings
from performer_edge.node import Node
from performer_edge.storage.blob_gc import collect_garbage
from storage_blobs import BlobStore

from .conftest import MIGRATIONS, wait_for

HOUR = 3600


def blob_store(data: Path) -> BlobStore:
    return BlobStore(data / "blobs")


def age_all_blobs(data: Path) -> None:
    """Make every blob older than the grace period, as if written two hours ago."""
    past = time.time() - 2 * HOUR
    for blob in blob_store(data).list():
        os.utime(data / "blobs" / blob[:2] / blob[2:4] / blob, (past, past))


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_schedule_and_cli_collect_only_unreferenced_blobs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    kept, overwritten, removed, hidden = (os.urandom(2000) for _ in range(4))
    node = start_serving(
        data,
        "--migrations",
        str(MIGRATIONS),
        "--storage-gc-interval",
        "1",
        "--storage-gc-grace",
        "60",
    )
    try:
        client = create_client(node.url, node.key("service_role"))
        client.storage.create_bucket("gc")
        files = client.storage.from_("gc")
        files.upload("a.bin", overwritten)
        files.upload("a.bin", kept, {"upsert": "true"})
        files.upload("b.bin", removed)
        files.remove(["b.bin"])
        # Policies let only the user `someone` see this row (and no such user exists).
        client.storage.from_("avatars").upload("someone/c.bin", hidden)
        orphan = blob_store(data).put_bytes(b"an upload whose commit never happened")
        age_all_blobs(data)
        store = blob_store(data)
        wait_for(lambda: not store.has(sha(overwritten)) and not store.has(orphan.hash))
        assert not store.has(sha(removed))
        assert store.has(sha(kept)) and store.has(sha(hidden))
        assert files.download("a.bin") == kept
        assert client.storage.from_("avatars").download("someone/c.bin") == hidden
        files.remove(["a.bin"])
    finally:
        stop_serving(node)

    age_all_blobs(data)
    command = performer_command("storage", "gc", "--data", str(data), "--dry-run")
    dry = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    assert "would delete 1 of 2 blobs" in dry
    assert blob_store(data).has(sha(kept))
    command = performer_command("storage", "gc", "--data", str(data))
    done = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    assert "deleted 1 of 2 blobs" in done
    assert not blob_store(data).has(sha(kept)) and blob_store(data).has(sha(hidden))


def test_a_blob_an_upload_holds_survives_gc_until_released(tmp_path: Path) -> None:
    """The window between storing an upload's bytes and committing its row: the pin keeps the
    blob even once it is older than the grace period (a commit stuck behind a long write)."""
    node = Node.open(Settings(data=tmp_path / "data", port=0))
    try:
        storage = node.storage
        blob = storage.blobs.put_bytes(b"uploaded, row not yet committed")
        age_all_blobs(tmp_path / "data")
        with storage.pins.holding(blob.hash):
            report = collect_garbage(storage, grace_seconds=60)
            assert not report.deleted and storage.blobs.has(blob.hash)
        report = collect_garbage(storage, grace_seconds=60)
        assert len(report.deleted) == 1 and not storage.blobs.has(blob.hash)
    finally:
        node.close()
