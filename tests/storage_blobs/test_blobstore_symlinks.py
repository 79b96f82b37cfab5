"""Symbolic links planted under the root never lead the store outside it: a link where a blob
belongs is no blob (not read, listed, touched, verified or deleted through), and links in place
of fan-out directories, `tmp/` or `quarantine/` are replaced by real directories before use."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from storage_blobs import BlobNotFound, BlobStore

SECRET = b"outside the store: must never be served"
OLD = 1_000_000_000.0  # an mtime long past: a change to it shows a write through a link


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    directory.mkdir()
    secret = directory / "secret"
    secret.write_bytes(SECRET)
    os.utime(secret, (OLD, OLD))
    return directory


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def untouched(outside: Path) -> bool:
    secret = outside / "secret"
    names = sorted(p.name for p in outside.iterdir())
    return names == ["secret"] and secret.read_bytes() == SECRET and secret.stat().st_mtime == OLD


def plant_blob_link(root: Path, blob: str, target: Path) -> None:
    directory = root / blob[:2] / blob[2:4]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / blob).symlink_to(target)


def test_a_link_where_a_blob_belongs_is_no_blob(tmp_path: Path, outside: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    blob = sha(SECRET)
    plant_blob_link(tmp_path / "blobs", blob, outside / "secret")
    assert not store.has(blob)
    for call in (store.open, store.get_stream, store.size, store.touch, store.verify):
        with pytest.raises(BlobNotFound):
            call(blob)
    assert list(store.list()) == []
    assert not store.delete(blob)
    assert store.verify_all().checked == 0
    assert store.gc(set(), grace_seconds=0).scanned == 0
    assert untouched(outside)
    # Uploading the content puts a real blob in the link's place.
    assert not store.put_bytes(SECRET).deduplicated
    assert store.has(blob) and not (tmp_path / "blobs" / blob[:2] / blob[2:4] / blob).is_symlink()
    assert untouched(outside)


def test_a_linked_fan_out_directory_is_never_entered(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "blobs"
    store = BlobStore(root)
    data = b"lands inside the root"
    blob = sha(data)
    (root / blob[:2]).symlink_to(outside, target_is_directory=True)
    inner = outside / blob[2:4]
    inner.mkdir()
    (inner / blob).write_bytes(data)  # a blob-shaped file reachable only through the link
    assert not store.has(blob)
    with pytest.raises(BlobNotFound):
        store.open(blob)
    assert not store.delete(blob) and (inner / blob).exists()
    store.put_bytes(data)
    assert (root / blob[:2]).is_dir() and not (root / blob[:2]).is_symlink()
    assert store.open(blob).read() == data
    assert sorted(p.name for p in outside.iterdir()) == [blob[2:4], "secret"]


def test_linked_tmp_and_quarantine_are_replaced(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "blobs"
    root.mkdir()
    (root / "tmp").symlink_to(outside, target_is_directory=True)
    (root / "quarantine").symlink_to(outside, target_is_directory=True)
    store = BlobStore(root)
    blob = store.put_bytes(b"through a real tmp").hash
    store.quarantine(blob)
    assert not (root / "tmp").is_symlink() and not (root / "quarantine").is_symlink()
    assert untouched(outside)
