"""Upkeep: gc with a grace period, touch, delete, verify/quarantine corrupt blobs, tmp cleanup."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from storage_blobs import BlobStore, InvalidArgument, VerifyReport


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def blob_path(store: BlobStore, h: str) -> Path:
    return store.root / h[:2] / h[2:4] / h


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def flip_byte(path: Path, offset: int) -> None:
    os.chmod(path, 0o644)
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def test_gc_respects_grace_period(store: BlobStore) -> None:
    old = store.put_bytes(b"old unreferenced").hash
    fresh = store.put_bytes(b"fresh unreferenced").hash
    kept = store.put_bytes(b"old referenced").hash
    age(blob_path(store, old), 7200)
    age(blob_path(store, kept), 7200)

    report = store.gc({kept}, grace_seconds=3600)
    assert report.deleted == (old,)
    assert (report.scanned, report.kept_referenced, report.kept_recent) == (3, 1, 1)
    assert report.bytes_freed == len(b"old unreferenced")
    assert not store.has(old)
    assert store.has(fresh)
    assert store.has(kept)
    assert os.listdir(store.root / "tmp") == []  # gc's trash files are gone


def test_gc_default_grace_protects_new_blobs(store: BlobStore) -> None:
    h = store.put_bytes(b"just uploaded").hash
    assert store.gc(set()).deleted == ()
    assert store.has(h)


def test_gc_accepts_predicate_and_dry_run(store: BlobStore) -> None:
    hashes = [store.put_bytes(bytes([i])).hash for i in range(6)]
    for h in hashes:
        age(blob_path(store, h), 10_000)
    keep = set(hashes[:2])
    dry = store.gc(lambda h: h in keep, dry_run=True)
    assert dry.dry_run
    assert sorted(dry.deleted) == sorted(hashes[2:])
    assert all(store.has(h) for h in hashes)

    real = store.gc(lambda h: h in keep)
    assert sorted(real.deleted) == sorted(hashes[2:])
    assert sorted(store.list()) == sorted(keep)


def test_dedup_put_restarts_grace_period(store: BlobStore) -> None:
    h = store.put_bytes(b"reuploaded").hash
    age(blob_path(store, h), 10_000)
    assert store.put_bytes(b"reuploaded").deduplicated
    assert store.gc(set()).deleted == ()
    assert store.has(h)


def test_gc_spares_blob_reuploaded_while_it_decides(store: BlobStore) -> None:
    # Deterministic interleaving: gc has seen the blob as old and is asking the (slow) metadata
    # lookup about it; meanwhile a client uploads the same content, which dedups and returns
    # success. gc must notice and keep the blob, or that client's new reference would dangle.
    data = b"uploaded again mid-gc"
    h = store.put_bytes(data).hash
    age(blob_path(store, h), 10_000)
    reuploads: list[bool] = []

    def referenced(candidate: str) -> bool:
        reuploads.append(store.put_bytes(data).deduplicated)
        return False

    report = store.gc(referenced)
    assert reuploads == [True]
    assert report.deleted == ()
    assert report.kept_recent == 1
    assert store.has(h)
    assert store.verify(h)
    assert os.listdir(store.root / "tmp") == []


def test_touch_restarts_grace_period(store: BlobStore) -> None:
    h = store.put_bytes(b"copied object").hash
    age(blob_path(store, h), 10_000)
    store.touch(h)
    assert store.gc(set()).deleted == ()


def test_gc_rejects_negative_grace(store: BlobStore) -> None:
    with pytest.raises(InvalidArgument):
        store.gc(set(), grace_seconds=-1)


def test_delete(store: BlobStore) -> None:
    h = store.put_bytes(b"doomed").hash
    assert store.delete(h) is True
    assert store.delete(h) is False
    assert not store.has(h)
    assert list(store.list()) == []
    assert store.put_bytes(b"doomed").deduplicated is False  # can be stored again


def test_verify_detects_flipped_byte(store: BlobStore) -> None:
    good = store.put_bytes(b"good content" * 100).hash
    bad = store.put_bytes(b"about to rot" * 100).hash
    assert store.verify(good)
    assert store.verify(bad)
    flip_byte(blob_path(store, bad), 517)
    assert store.verify(good)
    assert not store.verify(bad)

    report = store.verify_all()
    assert report == VerifyReport(checked=2, corrupt=(bad,), quarantined=())
    assert not report.ok
    assert store.has(bad)  # reporting changes nothing


def test_verify_all_quarantines_and_reupload_heals(store: BlobStore) -> None:
    data = b"precious" * 1000
    h = store.put_bytes(data).hash
    flip_byte(blob_path(store, h), 0)

    report = store.verify_all(quarantine=True)
    assert report.corrupt == (h,)
    assert report.quarantined == (h,)
    assert not store.has(h)
    moved = list((store.root / "quarantine").iterdir())
    assert len(moved) == 1
    assert moved[0].name.startswith(h)

    healed = store.put_bytes(data)
    assert (healed.hash, healed.deduplicated) == (h, False)
    assert store.verify(h)
    assert store.verify_all().ok


def test_quarantine_single_blob(store: BlobStore) -> None:
    h = store.put_bytes(b"suspicious").hash
    target = store.quarantine(h)
    assert target.read_bytes() == b"suspicious"
    assert target.parent == store.root / "quarantine"
    assert not store.has(h)


def test_cleanup_tmp_only_removes_old_files(store: BlobStore) -> None:
    tmp = store.root / "tmp"
    old = tmp / "put-old.tmp"
    old.write_bytes(b"abandoned" * 10)
    age(old, 2 * 86400)
    recent = tmp / "put-recent.tmp"
    recent.write_bytes(b"in progress")

    report = store.cleanup_tmp()
    assert (report.removed, report.bytes_freed) == (1, 90)
    assert not old.exists()
    assert recent.exists()

    age(recent, 120)
    assert store.cleanup_tmp(older_than=60).removed == 1
    assert os.listdir(tmp) == []


def test_cleanup_tmp_puts_back_a_blob_gc_died_holding(store: BlobStore) -> None:
    # gc removes a blob by renaming it to tmp/gc-<hash>-<token> and then deciding; a crash
    # right after the rename must not lose a blob that a put had just refreshed.
    data = b"moved aside by a gc that crashed"
    h = store.put_bytes(data).hash
    leftover = store.root / "tmp" / f"gc-{h}-0123456789abcdef"
    os.rename(blob_path(store, h), leftover)
    assert not store.has(h)

    report = store.cleanup_tmp()
    assert (report.restored, report.removed) == (1, 0)
    assert store.has(h)
    assert store.verify(h)
    assert os.listdir(store.root / "tmp") == []


def test_cleanup_tmp_drops_redundant_or_corrupt_gc_leftovers(store: BlobStore) -> None:
    present = store.put_bytes(b"still in place").hash
    tmp = store.root / "tmp"
    (tmp / f"gc-{present}-aaaa").write_bytes(b"still in place")  # blob exists: redundant
    corrupt = "c" * 64
    (tmp / f"gc-{corrupt}-bbbb").write_bytes(b"does not hash to its name")
    odd = tmp / "gc-not-a-hash"
    odd.write_bytes(b"young file with an odd name")  # treated as an ordinary temp file

    report = store.cleanup_tmp()
    assert (report.restored, report.removed) == (0, 2)
    assert not store.has(corrupt)
    assert sorted(store.list()) == [present]
    assert os.listdir(tmp) == [odd.name]
