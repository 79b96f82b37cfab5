"""BlobStore reads: byte ranges (half-open, clamped), edge cases, readers, not-found errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage_blobs import (
    BlobCorrupt,
    BlobNotFound,
    BlobStore,
    InvalidArgument,
    InvalidHash,
    InvalidRange,
    resolve_range,
)

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


@pytest.fixture
def blob(store: BlobStore) -> str:
    return store.put_bytes(DATA).hash


def read(store: BlobStore, h: str, start: int = 0, end: int | None = None, cs: int = 4096) -> bytes:
    return b"".join(store.get_stream(h, start, end, chunk_size=cs))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (0, len(DATA)),
        (0, 1),
        (1, 2),
        (100, 5000),
        (4095, 4097),  # crosses a chunk boundary
        (len(DATA) - 1, None),
        (len(DATA), None),  # start == size: empty
        (len(DATA), len(DATA) + 10),
        (10, 10),  # empty range
        (0, 0),
        (5000, len(DATA) * 3),  # end past size is clamped
    ],
)
def test_range_matches_slice(store: BlobStore, blob: str, start: int, end: int | None) -> None:
    assert read(store, blob, start, end) == DATA[start:end]


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 65536, 1 << 20])
def test_chunks_never_exceed_chunk_size(store: BlobStore, blob: str, chunk_size: int) -> None:
    chunks = list(store.get_stream(blob, 3, 9000, chunk_size=chunk_size))
    assert all(0 < len(c) <= chunk_size for c in chunks)
    assert b"".join(chunks) == DATA[3:9000]


@pytest.mark.parametrize(
    ("start", "end"),
    [(-1, None), (len(DATA) + 1, None), (10, 9), (5, -1), (len(DATA) + 1, len(DATA) + 2)],
)
def test_unsatisfiable_ranges_raise(
    store: BlobStore, blob: str, start: int, end: int | None
) -> None:
    with pytest.raises(InvalidRange) as excinfo:
        store.get_stream(blob, start, end)
    assert excinfo.value.code == "invalid_range"
    assert excinfo.value.size == len(DATA)
    assert isinstance(excinfo.value, ValueError)


def test_bad_chunk_size(store: BlobStore, blob: str) -> None:
    for bad in (0, -5):
        with pytest.raises(InvalidArgument):
            store.get_stream(blob, chunk_size=bad)


def test_empty_blob_ranges(store: BlobStore) -> None:
    h = store.put_bytes(b"").hash
    assert read(store, h) == b""
    assert read(store, h, 0, 100) == b""
    with pytest.raises(InvalidRange):
        store.get_stream(h, 1)


def test_reader_reports_resolved_range(store: BlobStore, blob: str) -> None:
    with store.get_stream(blob, 100, 10**9) as reader:
        assert (reader.start, reader.end, reader.length, reader.size) == (
            100,
            len(DATA),
            len(DATA) - 100,
            len(DATA),
        )
        first = next(reader)
        assert first == DATA[100 : 100 + len(first)]
    assert list(reader) == []  # closed by the context manager


def test_resolve_range_http_mapping() -> None:
    size = 1000
    assert resolve_range(size, 0, 499 + 1) == (0, 500)  # bytes=0-499
    assert resolve_range(size, 500) == (500, 1000)  # bytes=500-
    assert resolve_range(size, max(0, size - 200)) == (800, 1000)  # bytes=-200
    assert resolve_range(size, 990, 5000) == (990, 1000)  # last-byte-pos clamped


def test_not_found_errors(store: BlobStore) -> None:
    missing = "0" * 64
    assert not store.has(missing)
    for call in (store.size, store.open, store.get_stream, store.verify, store.touch):
        with pytest.raises(BlobNotFound) as excinfo:
            call(missing)
        assert excinfo.value.hash == missing
        assert excinfo.value.code == "blob_not_found"
    assert store.delete(missing) is False


@pytest.mark.parametrize(
    ("start", "count"), [(0, len(DATA)), (0, 1), (100, 5000), (len(DATA) - 1, 10), (len(DATA), 5)]
)
def test_read_is_a_slice(store: BlobStore, blob: str, start: int, count: int) -> None:
    assert store.read(blob, start, count) == DATA[start : start + count]


def test_read_refuses_bad_arguments_and_missing_blobs(store: BlobStore, blob: str) -> None:
    for start, count in ((-1, 5), (0, -1), (True, 5)):
        with pytest.raises(InvalidArgument):
            store.read(blob, start, count)
    with pytest.raises(BlobNotFound):
        store.read("0" * 64, 0, 5)
    with pytest.raises(InvalidHash):
        store.read("../../etc/passwd", 0, 5)


def test_open_reader_survives_delete(store: BlobStore, blob: str) -> None:
    reader = store.get_stream(blob, chunk_size=1000)
    first = next(reader)
    assert store.delete(blob)
    assert not store.has(blob)
    assert first + b"".join(reader) == DATA


def test_truncated_file_raises_corrupt(store: BlobStore, blob: str) -> None:
    reader = store.get_stream(blob, chunk_size=1024)
    path = store.root / blob[:2] / blob[2:4] / blob
    os.chmod(path, 0o644)
    os.truncate(path, 2000)
    with pytest.raises(BlobCorrupt):
        b"".join(reader)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=3000),
    start_frac=st.floats(min_value=0, max_value=1),
    end=st.one_of(st.none(), st.integers(min_value=0, max_value=4000)),
    chunk_size=st.integers(min_value=1, max_value=1500),
)
def test_property_range_equals_slice(
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    start_frac: float,
    end: int | None,
    chunk_size: int,
) -> None:
    store = BlobStore(tmp_path_factory.getbasetemp() / "prop-ranges")
    h = store.put_bytes(data).hash
    start = int(start_frac * len(data))
    if end is not None and end < start:
        with pytest.raises(InvalidRange):
            store.get_stream(h, start, end, chunk_size=chunk_size)
        return
    chunks = list(store.get_stream(h, start, end, chunk_size=chunk_size))
    assert b"".join(chunks) == data[start:end]
    assert all(0 < len(c) <= chunk_size for c in chunks)
