"""Storage across two synced nodes on 127.0.0.1: an object uploaded on A is read on B, its blob
fetched from A by hash (lazily, or eagerly for an `eager_fetch` bucket), verified, never stored
when it does not verify; the blob endpoint serves members only; gc keeps a blob whose row
arrives from a peer while gc runs; a Function's storage.get on B fetches the blob too. A dials
B, so B knows A's API only from A's HELLO."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from nacl.signing import SigningKey
from storage3 import AsyncStorageClient
from storage3.exceptions import StorageApiError

from performer_edge.peers import node_requests, trust
from performer_edge.rest.migrations import apply_migrations, read_migration_files
from performer_edge.storage import blob_gc, store
from performer_edge.storage.component import StorageComponent
from performer_edge.storage.peer_fetch import BLOB_PATH
from storage_blobs import GcReport
from tests.functions.guests import host_call
from tests.peers.peer_support import Served, dialing, join, served, wait_for

pytestmark = pytest.mark.network


@asynccontextmanager
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Served, Served]]:
    """Nodes A and B of one cluster, A dialing B, their session live."""
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    join(a_dir)
    join(b_dir)
    async with served(a_dir) as a, served(b_dir) as b, dialing(a, b.url):
        await wait_for(
            lambda: any(c.session.live for c in b.peers.connections), "A and B in session"
        )
        yield a, b


def client(node: Served) -> AsyncStorageClient:
    key = node.node.api_keys.service_role_key
    return AsyncStorageClient(
        f"{node.url}/storage/v1/", {"apikey": key, "Authorization": f"Bearer {key}"}
    )


def storage(node: Served) -> StorageComponent:
    return node.node.storage


def blob_path(node: Served, blob: str) -> Path:
    """Where the blob store keeps a blob (storage_blobs/CONTRACT.md, on-disk layout)."""
    return storage(node).blobs.root / blob[:2] / blob[2:4] / blob


async def upload(node: Served, data: bytes, **bucket_options: object) -> tuple[str, str]:
    bucket, name = f"b-{uuid.uuid4().hex[:8]}", f"folder/{uuid.uuid4().hex[:8]}.bin"
    api = client(node)
    await api.create_bucket(bucket, options=bucket_options or None)  # type: ignore[arg-type]
    await api.from_(bucket).upload(name, data, {"content-type": "application/octet-stream"})
    return bucket, name


async def service_get(node: Served, path: str, **headers: str) -> tuple[int, bytes]:
    """GET a `/storage/v1` path as service_role: (status, body)."""
    key = node.node.api_keys.service_role_key
    auth = {"apikey": key, "Authorization": f"Bearer {key}", **headers}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{node.url}/storage/v1{path}", headers=auth) as answer,
    ):
        return answer.status, await answer.read()


async def has_row(node: Served, bucket: str, name: str) -> bool:
    found = await node.node.db.read(lambda conn: store.object_by_name(conn, bucket, name))
    return found is not None


async def test_an_object_uploaded_on_a_is_read_on_b_byte_exact(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    blob = hashlib.sha256(data).hexdigest()
    async with pair(tmp_path) as (a, b):
        bucket, name = await upload(a, data)
        await wait_for(lambda: has_row(b, bucket, name), "the object's row on B")
        assert not storage(b).blobs.has(blob)  # lazy: nothing fetched before a read

        # Concurrent reads of the missing blob share one fetch.
        reads = [client(b).from_(bucket).download(name) for _ in range(4)]
        assert all(got == data for got in await asyncio.gather(*reads))
        assert storage(b).fetcher.fetched == 1
        assert storage(b).blobs.verify(blob)

        ranged = await service_get(b, f"/object/{bucket}/{name}", Range="bytes=5-99")
        assert ranged == (206, data[5:100])


async def test_a_copy_and_a_signed_download_on_b_fetch_the_blob(tmp_path: Path) -> None:
    copied, signed = os.urandom(100_000), os.urandom(120_000)
    async with pair(tmp_path) as (a, b):
        bucket, name = await upload(a, copied)
        await client(a).from_(bucket).upload("signed.bin", signed)
        await wait_for(lambda: has_row(b, bucket, "signed.bin"), "the objects on B")

        await client(b).from_(bucket).copy(name, "copy.bin")
        assert await client(b).from_(bucket).download("copy.bin") == copied
        url = (await client(b).from_(bucket).create_signed_url("signed.bin", 60))["signedURL"]
        assert url.startswith(b.url)
        async with aiohttp.ClientSession() as http, http.get(url) as answer:
            assert answer.status == 200
            assert await answer.read() == signed
        assert storage(b).fetcher.fetched == 2


async def test_a_functions_storage_get_on_b_fetches_the_blob(tmp_path: Path) -> None:
    data = os.urandom(30_000)  # its base64 fits the relay guest's result buffer
    blob = hashlib.sha256(data).hexdigest()
    async with pair(tmp_path) as (a, b):
        bucket, name = await upload(a, data)
        await wait_for(lambda: has_row(b, bucket, name), "the object's row on B")
        assert not storage(b).blobs.has(blob)
        key = b.node.api_keys.service_role_key
        auth = {"apikey": key, "Authorization": f"Bearer {key}"}
        guest = host_call("storage.get", {"bucket": bucket, "path": name})
        deploy = {
            "name": "reader",
            "wasm_base64": base64.b64encode(guest).decode(),
            "permissions": ["storage.read"],
        }
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.post(f"{b.url}/functions/v1/deploy", json=deploy) as deployed:
                assert deployed.status in (200, 201), await deployed.text()
            async with http.post(f"{b.url}/functions/v1/reader") as answer:
                assert answer.status == 200, await answer.text()
                got = await answer.json()
        assert base64.b64decode(got["body_base64"]) == data
        assert storage(b).blobs.verify(blob)


async def test_an_eager_bucket_gets_its_blobs_without_a_read(tmp_path: Path) -> None:
    lazy_data, eager_data, seeded_data = (os.urandom(n) for n in (200_000, 300_000, 100_000))
    migration = tmp_path / "001_media.sql"
    migration.write_text(
        "insert into storage.buckets (id, name, public, eager_fetch) "
        "values ('media', 'media', false, true);\n"
    )
    async with pair(tmp_path) as (a, b):
        lazy_bucket, lazy_name = await upload(a, lazy_data)
        await upload(a, eager_data, eager_fetch=True)  # through the API
        await asyncio.to_thread(  # and in a migration, as Supabase users declare buckets
            apply_migrations, a.node.db, a.node.log, read_migration_files([migration])
        )
        await client(a).from_("media").upload("seeded.bin", seeded_data)
        for data in (eager_data, seeded_data):
            blob = hashlib.sha256(data).hexdigest()
            await wait_for(lambda: storage(b).blobs.has(blob), "B fetching an eager blob")  # noqa: B023
        await wait_for(lambda: has_row(b, lazy_bucket, lazy_name), "the lazy object on B")
        lazy_blob = hashlib.sha256(lazy_data).hexdigest()
        assert not storage(b).blobs.has(lazy_blob)

        # Turned eager later: what the bucket already holds is fetched too.
        await client(a).update_bucket(lazy_bucket, {"eager_fetch": True})  # type: ignore[typeddict-unknown-key]
        await wait_for(lambda: storage(b).blobs.has(lazy_blob), "B fetching the older blob")
        status, body = await service_get(b, f"/bucket/{lazy_bucket}")
        assert status == 200
        assert json.loads(body)["eager_fetch"] is True
        assert storage(b).fetcher.fetched == 3


async def test_an_eager_fetch_no_peer_can_serve_yet_is_tried_again(tmp_path: Path) -> None:
    data = os.urandom(150_000)
    blob = hashlib.sha256(data).hexdigest()
    join(tmp_path / "a")
    join(tmp_path / "b")
    async with served(tmp_path / "a") as a, served(tmp_path / "b") as b:
        eager = storage(b).eager
        assert eager is not None
        eager.retry_min_s = 0.2
        await upload(a, data, eager_fetch=True)  # before A and B are in session
        on_a = blob_path(a, blob)
        on_a.chmod(0o644)
        with on_a.open("r+b") as file:  # A's only copy is damaged for now
            file.write(bytes([data[0] ^ 0xFF]))
        async with dialing(a, b.url):
            await wait_for(lambda: storage(b).fetcher.refused >= 1, "B's first attempt")
            assert not storage(b).blobs.has(blob)
            with on_a.open("r+b") as file:  # repaired
                file.write(data[:1])
            await wait_for(lambda: storage(b).blobs.has(blob), "B trying again")
            assert storage(b).blobs.verify(blob)
            await wait_for(lambda: eager.pending() == 0, "nothing left to fetch")


async def test_a_copy_that_does_not_verify_is_refused_and_not_stored(tmp_path: Path) -> None:
    data = os.urandom(500_000)
    blob = hashlib.sha256(data).hexdigest()
    async with pair(tmp_path) as (a, b):
        bucket, name = await upload(a, data)
        await wait_for(lambda: has_row(b, bucket, name), "the object's row on B")
        on_a = blob_path(a, blob)  # damage A's copy: same size, one byte changed
        on_a.chmod(0o644)
        with on_a.open("r+b") as file:
            file.seek(1000)
            file.write(bytes([data[1000] ^ 0xFF]))

        with pytest.raises(StorageApiError) as refused:
            await client(b).from_(bucket).download(name)
        assert str(refused.value.status) == "503"
        assert refused.value.code == "BlobUnavailable"  # storage3 reads the `error` field
        assert "does not verify" in refused.value.message
        assert storage(b).fetcher.refused == 1
        assert not storage(b).blobs.has(blob)
        assert list((storage(b).blobs.root / "tmp").iterdir()) == []  # no partial copy

        on_a.unlink()  # and when no peer has it at all: the same clear 503
        with pytest.raises(StorageApiError) as missing:
            await client(b).from_(bucket).download(name)
        assert str(missing.value.status) == "503"
        assert "does not have the blob" in missing.value.message
        status, body = await service_get(b, f"/object/{bucket}/{name}")
        assert status == 503
        assert json.loads(body)["code"] == "BlobUnavailable"


async def test_the_blob_endpoint_serves_members_only(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    blob = hashlib.sha256(data).hexdigest()
    async with pair(tmp_path) as (a, b):
        await upload(a, data)
        path = BLOB_PATH + blob
        member = storage(b).fetcher.peers
        assert member is not None
        stranger = SigningKey.generate()
        now = int(time.time() * 1000)
        foreign_cert = trust.issue(SigningKey.generate(), bytes(stranger.verify_key), now)
        cluster_id = a.peers.local.cluster_id

        def stranger_headers(signed_path: str) -> dict[str, str]:
            return node_requests.signed_headers(
                lambda m: stranger.sign(m).signature,
                cluster_id,
                foreign_cert,
                "GET",
                signed_path,
                now,
            )

        def stale_headers(signed_path: str) -> dict[str, str]:
            local = b.peers.local
            then = now - 300_000
            return node_requests.signed_headers(
                local.sign, local.cluster_id, local.certificate, "GET", signed_path, then
            )

        cases = [
            ({}, path, 401, b""),
            (stranger_headers(path), path, 403, b""),
            (member.sign("GET", BLOB_PATH + "0" * 64), path, 401, b""),  # signed for another path
            (member.sign("GET", BLOB_PATH + "0" * 64), BLOB_PATH + "0" * 64, 404, b""),
            (stale_headers(path), path, 401, b""),  # signed 5 minutes ago
            (member.sign("GET", path), path, 200, data),
            ({**member.sign("GET", path), "Range": "bytes=100-199"}, path, 206, data[100:200]),
        ]
        async with aiohttp.ClientSession() as http:
            for headers, asked, status, body in cases:
                async with http.get(a.url + asked, headers=headers) as answer:
                    assert answer.status == status, (headers.keys(), asked, await answer.text())
                    if body:
                        assert await answer.read() == body


async def gc_while_a_row_arrives(
    a: Served, b: Served, data: bytes, *, guarded: bool
) -> tuple[GcReport, str, str]:
    """On B, an old unreferenced blob of `data`; gc's first check finds it unreferenced, then A
    uploads the same bytes and the row reaches B, then gc goes on. The report and the object."""
    blob = hashlib.sha256(data).hexdigest()
    storage(b).blobs.put_bytes(data)
    old = time.time() - 7200
    os.utime(blob_path(b, blob), (old, old))
    checked, arrived = threading.Event(), threading.Event()
    referenced = blob_gc.referenced_by(storage(b))

    def first_check(candidate: str) -> bool:
        answer = referenced(candidate)
        if candidate == blob:
            checked.set()
            assert arrived.wait(30), "the row never arrived"
        return answer

    guard = blob_gc.last_check(storage(b)) if guarded else None
    collecting = asyncio.ensure_future(
        asyncio.to_thread(storage(b).blobs.gc, first_check, grace_seconds=60, guard=guard)
    )
    await wait_for(checked.is_set, "gc's first check")
    bucket, name = await upload(a, data)  # the row that names it, from A
    await wait_for(lambda: has_row(b, bucket, name), "the row on B")
    arrived.set()
    return await collecting, bucket, name


async def test_gc_keeps_a_blob_whose_row_arrives_from_a_peer_while_it_runs(
    tmp_path: Path,
) -> None:
    """The check made again inside the writer keeps the blob; without that guard (the
    control) the same interleaving loses it."""
    async with pair(tmp_path) as (a, b):
        data = os.urandom(50_000)
        report, bucket, name = await gc_while_a_row_arrives(a, b, data, guarded=True)
        blob = hashlib.sha256(data).hexdigest()
        assert blob not in report.deleted
        assert storage(b).blobs.has(blob)
        assert await client(b).from_(bucket).download(name) == data
        assert storage(b).fetcher.fetched == 0  # served from B's own copy

        control = os.urandom(50_000)
        report, _, _ = await gc_while_a_row_arrives(a, b, control, guarded=False)
        assert hashlib.sha256(control).hexdigest() in report.deleted  # the race the guard closes
