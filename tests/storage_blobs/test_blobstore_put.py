"""BlobStore writes: round trip, layout, dedup, max_size, expected_hash, failing iterators."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_blobs import (
    BlobCorrupt,
    BlobInfo,
    BlobStore,
    BlobStoreError,
    BlobTooLarge,
    HashMismatch,
    InvalidArgument,
)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def tmp_files(store: BlobStore) -> list[str]:
    return sorted(os.listdir(store.root / "tmp"))


def test_round_trip_bytes(store: BlobStore) -> None:
    data = b"hello, blobs"
    info = store.put_bytes(data)
    assert info == BlobInfo(hash=sha(data), size=len(data), deduplicated=False)
    assert store.has(info.hash)
    assert store.size(info.hash) == len(data)
    assert b"".join(store.get_stream(info.hash)) == data
    with store.open(info.hash) as f:
        assert f.read() == data
    assert list(store.list()) == [info.hash]
    assert tmp_files(store) == []


def test_round_trip_stream_of_many_chunks(store: BlobStore) -> None:
    chunks = [os.urandom(n) for n in (1, 0, 4096, 65536, 100_000, 7)]
    data = b"".join(chunks)
    info = store.put_stream(iter(chunks))
    assert (info.hash, info.size) == (sha(data), len(data))
    assert b"".join(store.get_stream(info.hash, chunk_size=1000)) == data


def test_accepts_bytearray_and_memoryview_chunks(store: BlobStore) -> None:
    info = store.put_stream([bytearray(b"ab"), memoryview(b"cd"), b"ef"])
    assert info.hash == sha(b"abcdef")


def test_empty_blob(store: BlobStore) -> None:
    info = store.put_stream([])
    assert info == BlobInfo(EMPTY_SHA256, 0)
    assert b"".join(store.get_stream(EMPTY_SHA256)) == b""
    assert store.size(EMPTY_SHA256) == 0


def test_layout_is_fanned_out_and_read_only(store: BlobStore) -> None:
    info = store.put_bytes(b"layout")
    path = store.root / info.hash[:2] / info.hash[2:4] / info.hash
    assert path.is_file()
    assert path.read_bytes() == b"layout"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_dedup_keeps_one_file_and_refreshes_mtime(store: BlobStore) -> None:
    first = store.put_bytes(b"same")
    path = store.root / first.hash[:2] / first.hash[2:4] / first.hash
    old = time.time() - 10_000
    os.utime(path, (old, old))
    inode = path.stat().st_ino

    second = store.put_stream([b"sa", b"me"])
    assert second == BlobInfo(first.hash, 4, deduplicated=True)
    assert path.stat().st_ino == inode  # existing file kept, not replaced
    assert path.stat().st_mtime > old + 5_000  # grace period restarted
    assert list(store.list()) == [first.hash]
    assert tmp_files(store) == []


def test_max_size_exact_limit_is_accepted(store: BlobStore) -> None:
    info = store.put_stream([b"12345", b"67890"], max_size=10)
    assert info.size == 10
    assert store.put_bytes(b"", max_size=0).size == 0


def test_too_large_raises_and_leaves_nothing(store: BlobStore) -> None:
    consumed: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(10):
            consumed.append(i)
            yield b"x" * 4

    with pytest.raises(BlobTooLarge) as excinfo:
        store.put_stream(chunks(), max_size=10)
    assert excinfo.value.max_size == 10
    assert excinfo.value.code == "blob_too_large"
    assert consumed == [0, 1, 2]  # stops at the first chunk over the limit
    assert list(store.list()) == []
    assert tmp_files(store) == []


def test_negative_max_size_is_rejected(store: BlobStore) -> None:
    with pytest.raises(InvalidArgument):
        store.put_bytes(b"x", max_size=-1)


def test_expected_hash_match(store: BlobStore) -> None:
    data = b"expected"
    assert store.put_bytes(data, expected_hash=sha(data)).hash == sha(data)


def test_expected_hash_mismatch_keeps_nothing(store: BlobStore) -> None:
    wrong = sha(b"something else")
    with pytest.raises(HashMismatch) as excinfo:
        store.put_stream([b"actual ", b"content"], expected_hash=wrong)
    err = excinfo.value
    assert isinstance(err, BlobCorrupt)
    assert (err.expected, err.actual, err.code) == (wrong, sha(b"actual content"), "hash_mismatch")
    assert not store.has(sha(b"actual content"))
    assert not store.has(wrong)
    assert list(store.list()) == []
    assert tmp_files(store) == []


def test_iterator_raising_midway_leaves_nothing(store: BlobStore) -> None:
    class Boom(Exception):
        pass

    def chunks() -> Iterator[bytes]:
        yield b"partial data " * 1000
        raise Boom

    with pytest.raises(Boom):
        store.put_stream(chunks())
    assert list(store.list()) == []
    assert tmp_files(store) == []


def test_keyboard_interrupt_midway_still_cleans_up(store: BlobStore) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"abc"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put_stream(chunks())
    assert tmp_files(store) == []


def test_non_bytes_chunk_is_a_type_error(store: BlobStore) -> None:
    with pytest.raises(TypeError):
        store.put_stream(["text"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        store.put_stream(b"bare bytes")  # type: ignore[arg-type]  # iterating yields ints
    assert tmp_files(store) == []


def content_with_prefix(prefix: str, unlike: tuple[bytes, ...] = ()) -> bytes:
    """A value whose hash starts with `prefix` and whose `ab/cd/` differs from those of
    `unlike` when `prefix` leaves room for that (found by trying)."""
    taken = {sha(other)[:4] for other in unlike} if len(prefix) < 4 else set()
    n = 0
    while True:
        data = f"content {n}".encode()
        if data not in unlike and sha(data).startswith(prefix) and sha(data)[:4] not in taken:
            return data
        n += 1


def test_put_fsyncs_the_file_and_each_new_directory_entry(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A put is durable: the file, `ab/cd/` (its entry), `ab/` (a new `cd/`) and the root (a
    new `ab/`) are fsynced; a parent already synced by this process is not synced again."""
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    first = content_with_prefix("")
    second = content_with_prefix(sha(first)[:2], (first,))
    third = content_with_prefix(sha(first)[:4], (first,))
    root = str(store.root.resolve())

    def fsyncs_of(data: bytes) -> list[str]:
        synced.clear()
        digest = store.put_bytes(data).hash
        outer, inner = f"{root}/{digest[:2]}", f"{root}/{digest[:2]}/{digest[2:4]}"
        named = {f"{inner}/{digest}": "file", inner: "ab/cd", outer: "ab", root: "root"}
        return [named.get(path, "temp file" if "/tmp/put-" in path else path) for path in synced]

    assert fsyncs_of(first) == ["temp file", "ab/cd", "ab", "root"]
    assert fsyncs_of(second) == ["temp file", "ab/cd", "ab"]  # a new cd/ in a synced ab/
    assert fsyncs_of(third) == ["temp file", "ab/cd"]  # both parents already synced


def test_reopening_a_store_sees_existing_blobs(tmp_path: Path) -> None:
    info = BlobStore(tmp_path / "r").put_bytes(b"persisted")
    again = BlobStore(tmp_path / "r")
    assert again.has(info.hash)
    assert b"".join(again.get_stream(info.hash)) == b"persisted"


def test_errors_have_stable_codes_and_pickle(store: BlobStore) -> None:
    err = HashMismatch("a" * 64, "b" * 64)
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is HashMismatch
    assert (clone.expected, clone.actual, str(clone)) == (err.expected, err.actual, str(err))
    assert isinstance(clone, BlobStoreError)
    too_large = pickle.loads(pickle.dumps(BlobTooLarge(5)))
    assert too_large.max_size == 5
    assert too_large.code == "blob_too_large"
