"""gc's `guard` (CONTRACT.md): the caller's last word on each unreferenced blob past its grace."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from storage_blobs import BlobStore


def old_blob(store: BlobStore, data: bytes) -> str:
    blob = store.put_bytes(data).hash
    path = store.root / blob[:2] / blob[2:4] / blob
    then = time.time() - 7200
    os.utime(path, (then, then))
    return blob


def test_a_guard_that_declines_keeps_the_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    kept, collected = old_blob(store, b"kept"), old_blob(store, b"collected")
    asked: list[str] = []

    def guard(blob: str, move_out: Callable[[], bool]) -> bool:
        asked.append(blob)
        return False if blob == kept else move_out()

    report = store.gc(set(), grace_seconds=60, guard=guard)
    assert sorted(asked) == sorted([kept, collected])
    assert report.deleted == (collected,)
    assert report.kept_referenced == 1
    assert store.has(kept) and not store.has(collected)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_move_out_called_twice_moves_once(tmp_path: Path) -> None:
    """A guard whose transaction is retried may call `move_out` again: same answer, no loss."""
    store = BlobStore(tmp_path)
    blob = old_blob(store, b"twice")
    answers: list[bool] = []

    def guard(_: str, move_out: Callable[[], bool]) -> bool:
        answers.extend([move_out(), move_out()])
        return answers[-1]

    report = store.gc(set(), grace_seconds=60, guard=guard)
    assert answers == [True, True]
    assert report.deleted == (blob,)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_referenced_blobs_and_dry_runs_never_reach_the_guard(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    referenced, other = old_blob(store, b"named"), old_blob(store, b"other")

    def guard(blob: str, move_out: Callable[[], bool]) -> bool:
        raise AssertionError(f"guard asked about {blob}")

    assert store.gc({referenced, other}, grace_seconds=60, guard=guard).kept_referenced == 2
    assert store.gc(set(), grace_seconds=60, dry_run=True, guard=guard).deleted
