"""Big files, crashes and planted links, against real `performer serve` processes: a 200 MB
file round-trips byte-exact through storage3 while the server's memory stays flat; a SIGKILL
mid-upload leaves no partial object and a blob store that verifies; symbolic links planted in
the data dir's blob directory never lead outside it."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import RunningNode, start_serving, stop_serving
from storage3.exceptions import StorageApiError
from supabase import Client, ClientOptions, create_client

from storage_blobs import BlobStore

from .conftest import data_dir, new_bucket, wait_for

MB = 1024 * 1024


def sha_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """Samples a process's resident memory every 10 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def patient_client(node: RunningNode) -> Client:
    options = ClientOptions(storage_client_timeout=600)
    return create_client(node.url, node.key("service_role"), options)


@pytest.mark.slow
def test_a_200_mb_file_round_trips_with_flat_server_memory(
    node: RunningNode, tmp_path: Path
) -> None:
    client = patient_client(node)
    bucket = new_bucket(client)
    content = os.urandom(200 * MB)
    baseline = rss_bytes(node.proc.pid)
    with PeakRss(node.proc.pid) as upload:
        client.storage.from_(bucket).upload("big.bin", content)
    with PeakRss(node.proc.pid) as download:
        received = client.storage.from_(bucket).download("big.bin")
    assert hashlib.sha256(received).digest() == hashlib.sha256(content).digest()
    # Streamed both ways: the server holds chunks, never the file (target: flat within 50 MB).
    assert upload.peak - baseline < 50 * MB, (upload.peak - baseline) / MB
    assert download.peak - baseline < 50 * MB, (download.peak - baseline) / MB


def endless_body(sent: list[int], chunk: bytes) -> Iterator[bytes]:
    while True:
        sent[0] += len(chunk)
        yield chunk


def test_sigkill_during_a_large_upload_leaves_no_partial_object(tmp_path: Path) -> None:
    data = tmp_path / "data"
    node = start_serving(data)
    try:
        client = create_client(node.url, node.key("service_role"))
        client.storage.create_bucket("crash")
        client.storage.from_("crash").upload("kept.txt", b"committed before the crash")
        url = f"{node.url}/storage/v1/object/crash/partial.bin"
        headers = {"Authorization": f"Bearer {node.key('service_role')}"}
        sent = [0]
        failures: list[BaseException] = []

        def upload() -> None:
            try:
                httpx.post(url, headers=headers, content=endless_body(sent, os.urandom(MB)))
            except httpx.HTTPError as exc:  # the server died under it, as intended
                failures.append(exc)

        uploader = threading.Thread(target=upload, name="crash-upload", daemon=True)
        uploader.start()
        temp_dir = data / "blobs" / "tmp"

        def partial_bytes() -> int:
            return sum(p.stat().st_size for p in temp_dir.glob("put-*.tmp"))

        wait_for(lambda: partial_bytes() > 20 * MB)
        node.proc.kill()
        node.proc.wait(30)
        uploader.join(60)
        assert failures and not uploader.is_alive()
    finally:
        stop_serving(node)

    restarted = start_serving(data)
    try:
        client = create_client(restarted.url, restarted.key("service_role"))
        files = client.storage.from_("crash")
        assert not files.exists("partial.bin")
        assert [o["name"] for o in files.list()] == ["kept.txt"]
        assert files.download("kept.txt") == b"committed before the crash"
        assert list((data / "blobs" / "tmp").iterdir()) == []  # the crash's temp file is gone
        report = BlobStore(data / "blobs").verify_all()
        assert report.checked == 1 and report.corrupt == ()
    finally:
        stop_serving(restarted)


def test_links_planted_in_the_blob_directory_never_lead_outside(
    node: RunningNode, service: Client, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"a file outside the data dir")
    blobs = data_dir(node) / "blobs"
    bucket = new_bucket(service)
    files = service.storage.from_(bucket)
    files.upload("victim.txt", b"the object's own bytes")
    blob = sha_hex(b"the object's own bytes")
    path = blobs / blob[:2] / blob[2:4] / blob
    path.unlink()
    path.symlink_to(secret)
    with pytest.raises(StorageApiError):
        files.download("victim.txt")
    public = httpx.get(
        f"{node.url}/storage/v1/object/authenticated/{bucket}/victim.txt",
        headers={"Authorization": f"Bearer {node.key('service_role')}"},
    )
    assert b"outside" not in public.content

    # A link in place of a fan-out directory: the upload lands inside the store all the same.
    content = next(
        text
        for n in range(10_000)
        if not (blobs / sha_hex(text := f"fresh content {n}".encode())[:2]).exists()
    )
    outside_dir = tmp_path / "outside"
    outside_dir.mkdir()
    (blobs / sha_hex(content)[:2]).symlink_to(outside_dir, target_is_directory=True)
    files.upload("fresh.txt", content)
    assert files.download("fresh.txt") == content
    assert list(outside_dir.iterdir()) == []
    assert secret.read_bytes() == b"a file outside the data dir"


def test_bucket_limits_lowered_during_an_upload_refuse_it_at_commit(
    node: RunningNode, service: Client
) -> None:
    """The size limit is checked before the bytes are read and again when the upload commits:
    a bucket whose limit was lowered while the bytes streamed gets no object over it."""
    bucket = new_bucket(service, file_size_limit=2 * MB)
    url = f"{node.url}/storage/v1/object/{bucket}/late.bin"
    key = node.key("service_role")
    temp_dir = data_dir(node) / "blobs" / "tmp"
    lowered = threading.Event()

    def body() -> Iterator[bytes]:
        yield os.urandom(MB + MB // 4)  # one write batch: the temp file appears
        assert lowered.wait(30)
        yield os.urandom(MB // 4)

    answers: list[httpx.Response] = []
    uploader = threading.Thread(
        target=lambda: answers.append(
            httpx.post(url, headers={"Authorization": f"Bearer {key}"}, content=body())
        ),
        name="late-upload",
    )
    uploader.start()
    wait_for(lambda: any(temp_dir.glob("put-*.tmp")))
    service.storage.update_bucket(bucket, {"public": False, "file_size_limit": MB})
    lowered.set()
    uploader.join(60)
    assert answers[0].status_code == 400
    assert answers[0].json()["code"] == "EntityTooLarge"
    assert not service.storage.from_(bucket).exists("late.bin")
