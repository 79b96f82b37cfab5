"""Hash validation: malformed hashes and path traversal are rejected before touching the disk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from storage_blobs import BlobStore, InvalidHash, is_hash, validate_hash

GOOD = "a" * 64

BAD_HASHES: list[object] = [
    "../../etc",
    "../../etc/passwd",
    "ab/cd/" + "a" * 58,
    "/" + "a" * 63,
    "A" * 64,  # uppercase
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "",
    " " + "a" * 63,
    "a" * 64 + "\n",
    "a" * 63 + "\x00",
    "\u0660" * 64,  # ARABIC-INDIC DIGIT ZERO: a Unicode digit, not ASCII hex
    b"a" * 64,
    None,
    123,
]


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def operations(store: BlobStore, bad: object) -> list[Callable[[Any], object]]:
    async def no_chunks() -> AsyncIterator[bytes]:
        yield b"x"

    by_hash: list[Callable[[Any], object]] = [
        store.has,
        store.size,
        store.open,
        store.get_stream,
        store.delete,
        store.verify,
        store.touch,
        store.quarantine,
    ]
    if bad is None:  # expected_hash=None means "no expectation", not a malformed hash
        return by_hash
    return [
        *by_hash,
        lambda h: store.put_bytes(b"x", expected_hash=h),
        lambda h: store.put_stream([b"x"], expected_hash=h),
        lambda h: asyncio.run(store.put_async(no_chunks(), expected_hash=h)),
    ]


@pytest.mark.parametrize("bad", BAD_HASHES, ids=repr)
def test_every_operation_rejects_bad_hash(tmp_path: Path, store: BlobStore, bad: object) -> None:
    before = snapshot(tmp_path)
    for op in operations(store, bad):
        with pytest.raises(InvalidHash) as excinfo:
            op(bad)
        assert excinfo.value.code == "invalid_hash"
        assert isinstance(excinfo.value, ValueError)
    assert snapshot(tmp_path) == before  # nothing created anywhere, not even a temp file


def test_traversal_cannot_reach_outside_root(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "deep" / "root")
    victim = tmp_path / "etc"
    victim.write_bytes(b"secret")
    with pytest.raises(InvalidHash):
        store.delete("../../etc")
    with pytest.raises(InvalidHash):
        store.open("../../etc")
    assert victim.read_bytes() == b"secret"


def test_validate_and_is_hash() -> None:
    assert validate_hash(GOOD) == GOOD
    assert is_hash(GOOD)
    for bad in BAD_HASHES:
        assert not is_hash(bad)


def test_list_ignores_foreign_and_misplaced_files(store: BlobStore) -> None:
    real = store.put_bytes(b"real").hash
    other = "f" * 64
    (store.root / real[:2] / real[2:4] / "notes.txt").write_text("x")
    (store.root / real[:2] / real[2:4] / other).write_bytes(b"misplaced")  # wrong directory
    (store.root / "zz").mkdir()
    (store.root / "zz" / "ab").mkdir()
    (store.root / "stray").write_text("x")
    assert list(store.list()) == [real]
    assert store.gc(set(), grace_seconds=0).deleted == (real,)
    assert (store.root / real[:2] / real[2:4] / other).exists()  # foreign files are left alone
