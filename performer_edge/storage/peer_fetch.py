"""Blobs from peers: an object whose metadata arrived by sync is read here before its bytes are.

`BlobFetcher.ensure(blob, size)` makes the blob local: it asks the peers `PeerBlobs.sources()`
names, in that order (peers in session first, then known peer URLs), for
`GET /performer/v1/blobs/<sha256>` with a node-signed request, and streams the answer into the
blob store with `expected_hash` and `max_size` = the object's size, so bytes that do not hash
to the name (a tampered or damaged copy) or run past the size are never published (the blob
store's put contract), and the next peer is tried. Concurrent reads of one missing blob share
one fetch; the blob is pinned against gc while it is fetched. When no peer provides it the
read fails with `BlobUnavailable` (HTTP 503: the object exists, its bytes are elsewhere; a
cache must not remember a 404 for it). Imports nothing from `peers`: `PeerBlobs` is the
interface the node wires in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Final, Protocol, TypeVar

import aiohttp
from yarl import URL

from performer_edge.errors import Unavailable
from performer_edge.storage import errors
from performer_edge.storage.blob_gc import BlobPins
from storage_blobs import BlobNotFound, BlobStore, BlobTooLarge, HashMismatch

log = logging.getLogger("performer.storage.peers")

BLOB_PATH: Final = "/performer/v1/blobs/"
CONNECT_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 30.0  # silence from a peer mid-transfer
CHUNK_BYTES: Final = 1 << 20
T = TypeVar("T")


class PeerBlobs(Protocol):
    """What storage needs of the cluster to move blobs between nodes."""

    def sources(self) -> list[str]:
        """Base URLs (http[s]://host:port) of peers to ask for a blob, best first."""

    def sign(self, method: str, path: str) -> dict[str, str]:
        """Headers that make a request to `path` this node's (a member's signed request)."""

    def authenticate(self, headers: Mapping[str, str], method: str, path: str) -> bytes:
        """The calling member's node id; raises Unauthorized/Forbidden otherwise."""


class FetchFailed(Exception):
    """One peer could not provide the blob (why is the message)."""


def blob_unavailable(blob: str, why: str) -> Unavailable:
    return Unavailable(
        f"The object's content ({blob[:16]}...) is not on this node and no peer provided it: "
        f"{why}. Retry when a peer that has it is reachable.",
        code="BlobUnavailable",
    )


class BlobFetcher:
    """Fetches missing blobs from peers, one fetch per blob at a time. `close()` at shutdown."""

    def __init__(self, blobs: BlobStore, pins: BlobPins, peers: PeerBlobs | None) -> None:
        self.blobs = blobs
        self.pins = pins
        self.peers = peers
        self.fetched = 0  # blobs fetched (metrics)
        self.refused = 0  # copies a peer sent that did not verify
        self._running: dict[str, asyncio.Task[None]] = {}
        self._http: aiohttp.ClientSession | None = None

    def fetching(self, blob: str) -> bool:
        return blob in self._running

    async def ensure(self, blob: str, size: int) -> None:
        """Return once `blob` (of `size` bytes) is in the local store; `BlobUnavailable` when
        no peer provides it. Cancelling a caller does not cancel a fetch others may share."""
        if await asyncio.to_thread(self.blobs.has, blob):
            return
        task = self._running.get(blob)
        if task is None:
            task = asyncio.create_task(self._fetch(blob, size), name=f"blob-fetch-{blob[:12]}")
            self._running[blob] = task
            task.add_done_callback(lambda _: self._running.pop(blob, None))
        await asyncio.shield(task)

    async def read(self, blob: str, size: int, read: Callable[[], T]) -> T:
        """`read()`, a blocking read of `blob`, in a thread; when the blob is not on this node
        (its object's metadata came by sync), fetched from a peer first. Still missing:
        NoSuchKey."""
        try:
            return await asyncio.to_thread(read)
        except BlobNotFound:
            await self.ensure(blob, size)
        try:
            return await asyncio.to_thread(read)
        except BlobNotFound:
            raise errors.no_such_key() from None

    async def close(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def _fetch(self, blob: str, size: int) -> None:
        peers = self.peers
        if peers is None:
            raise blob_unavailable(blob, "this node belongs to no cluster")
        with self.pins.holding(blob):  # gc must not take it between publish and the read
            sources = peers.sources()
            if not sources:
                raise blob_unavailable(blob, "no peer is connected or known")
            failures = []
            for base in sources:
                try:
                    await self._fetch_from(peers, base, blob, size)
                except FetchFailed as exc:
                    failures.append(f"{base}: {exc}")
                    continue
                self.fetched += 1
                log.info("storage: fetched blob %s (%d bytes) from %s", blob[:16], size, base)
                return
            raise blob_unavailable(blob, "; ".join(failures))

    async def _fetch_from(self, peers: PeerBlobs, base: str, blob: str, size: int) -> None:
        path = BLOB_PATH + blob
        url = URL(base.rstrip("/") + path, encoded=True)
        timeout = aiohttp.ClientTimeout(
            total=None, connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S
        )
        try:
            async with self._session().get(
                url, headers=peers.sign("GET", path), timeout=timeout
            ) as response:
                if response.status == 404:
                    raise FetchFailed("it does not have the blob")
                if response.status != 200:
                    text = (await response.text(errors="replace"))[:200]
                    raise FetchFailed(f"answered {response.status}: {text}")
                if response.content_length is not None and response.content_length != size:
                    raise FetchFailed(f"offers {response.content_length} bytes, not {size}")
                stored = await self.blobs.put_async(
                    _chunks(response.content), max_size=size, expected_hash=blob
                )
        except HashMismatch as exc:
            self.refused += 1
            log.warning("storage: %s sent a copy of blob %s that does not verify", base, blob)
            raise FetchFailed(f"its copy does not verify (sha256 {exc.actual})") from exc
        except BlobTooLarge as exc:
            raise FetchFailed(f"it sent more than the object's {size} bytes") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise FetchFailed(str(exc) or type(exc).__name__) from exc
        if stored.size != size:  # the right bytes for the hash: the object row is what is off
            raise FetchFailed(f"the blob holds {stored.size} bytes, its object says {size}")

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(auto_decompress=False)
        return self._http


async def _chunks(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    async for chunk in content.iter_chunked(CHUNK_BYTES):
        yield chunk
