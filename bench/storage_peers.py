"""The two file APIs bench/storage.py drives: our `/storage/v1` (one private bucket, the service
role key, storage-js's raw-body upload) and PocketBase's file fields (a base collection with one
file field and public rules, multipart uploads as its SDK sends them). The processes are
auth_servers' `Ours` and `PocketBase`; this module adds the bucket or collection and the requests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from auth_servers import Ours, PocketBase
from load import expect_ok
from rest_servers import read_pb_pragmas, write_pb_hooks

BUCKET = "bench"
COLLECTION = "files"
MAX_FILE = 1024**3
READ_CHUNK = 1024 * 1024
Handle = Any  # what a peer needs to read an upload back: our object name, PocketBase's record


class StoragePeer(ABC):
    name = "?"

    @property
    @abstractmethod
    def pid(self) -> int:
        """The server process."""

    @abstractmethod
    async def prepare(self, session: aiohttp.ClientSession) -> None:
        """Make the bucket (ours) or the collection with a file field (PocketBase)."""

    @abstractmethod
    async def upload_file(self, session: aiohttp.ClientSession, path: Path, name: str) -> Handle:
        """Upload a file from disk, streamed."""

    @abstractmethod
    async def upload_bytes(self, session: aiohttp.ClientSession, data: bytes, name: str) -> Handle:
        """Upload a small file from memory."""

    @abstractmethod
    def download_url(self, handle: Handle) -> str:
        """Where the upload is read back."""

    headers: dict[str, str] = {}

    @abstractmethod
    async def finish(self, session: aiohttp.ClientSession) -> None:
        """After the cells: check that the durability settings held."""

    async def download(self, session: aiohttp.ClientSession, handle: Handle) -> int:
        """Read an upload back in chunks, dropping them; how many bytes came."""
        response = await session.get(self.download_url(handle), headers=self.headers)
        if response.status != 200:
            await expect_ok(response)
        received = 0
        async for chunk in response.content.iter_chunked(READ_CHUNK):
            received += len(chunk)
        return received


def service_role_key(server: Ours) -> str:
    for line in server.stdout_path.read_text().splitlines():
        if line.strip().startswith("service_role key"):
            return line.split()[-1]
    raise RuntimeError("performer serve printed no service_role key")


class OursStorage(StoragePeer):
    name = "ours"

    def __init__(self, server: Ours) -> None:
        self.server = server

    @property
    def pid(self) -> int:
        return self.server.pid

    async def prepare(self, session: aiohttp.ClientSession) -> None:
        key = service_role_key(self.server)
        self.headers = {"apikey": key, "Authorization": f"Bearer {key}"}
        self.base = f"{self.server.url}/storage/v1/object/{BUCKET}"
        body = {"id": BUCKET, "name": BUCKET, "public": False}
        url = f"{self.server.url}/storage/v1/bucket"
        await expect_ok(await session.post(url, json=body, headers=self.headers))

    async def upload_file(self, session: aiohttp.ClientSession, path: Path, name: str) -> Handle:
        headers = {**self.headers, "Content-Type": "application/octet-stream"}
        with path.open("rb") as file:
            await expect_ok(await session.post(f"{self.base}/{name}", data=file, headers=headers))
        return name

    async def upload_bytes(self, session: aiohttp.ClientSession, data: bytes, name: str) -> Handle:
        headers = {**self.headers, "Content-Type": "application/octet-stream"}
        await expect_ok(await session.post(f"{self.base}/{name}", data=data, headers=headers))
        return name

    async def finish(self, session: aiohttp.ClientSession) -> None:
        """Nothing to read back: `--synchronous FULL` is a flag of the process, fixed at start."""

    def download_url(self, handle: Handle) -> str:
        return f"{self.base}/{handle}"


class PocketBaseStorage(StoragePeer):
    name = "PocketBase"

    def __init__(self, server: PocketBase, synchronous: str) -> None:
        self.server = server
        self.synchronous = synchronous
        write_pb_hooks(server, synchronous)

    @property
    def pid(self) -> int:
        return self.server.pid

    async def prepare(self, session: aiohttp.ClientSession) -> None:
        server = self.server
        await server.configure(session)  # superuser token; its rate limiter off
        collection = {
            "name": COLLECTION,
            "type": "base",
            "listRule": "",
            "viewRule": "",
            "createRule": "",
            "fields": [{"name": "file", "type": "file", "maxSelect": 1, "maxSize": MAX_FILE}],
        }
        auth = {"Authorization": server.superuser_token}
        url = f"{server.url}/api/collections"
        await expect_ok(await session.post(url, json=collection, headers=auth))
        self.records = f"{server.url}/api/collections/{COLLECTION}/records"
        await read_pb_pragmas(session, server, self.synchronous, "start")

    async def finish(self, session: aiohttp.ClientSession) -> None:
        await read_pb_pragmas(session, self.server, self.synchronous, "end")

    async def _create(self, session: aiohttp.ClientSession, file: Any, name: str) -> Handle:
        form = aiohttp.FormData()
        form.add_field("file", file, filename=name, content_type="application/octet-stream")
        record = orjson.loads(await expect_ok(await session.post(self.records, data=form)))
        return (record["id"], record["file"])  # PocketBase renames the file (random suffix)

    async def upload_file(self, session: aiohttp.ClientSession, path: Path, name: str) -> Handle:
        with path.open("rb") as file:
            return await self._create(session, file, name)

    async def upload_bytes(self, session: aiohttp.ClientSession, data: bytes, name: str) -> Handle:
        return await self._create(session, data, name)

    def download_url(self, handle: Handle) -> str:
        record_id, filename = handle
        return f"{self.server.url}/api/files/{COLLECTION}/{record_id}/{filename}"
