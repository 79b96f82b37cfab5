"""Nodes of one test cluster, served in-process on 127.0.0.1, with quick session timers."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestServer
from nacl.signing import SigningKey

from performer_edge.config import Settings
from performer_edge.core.datadir import DataDir
from performer_edge.http.app import make_app
from performer_edge.node import Node
from performer_edge.peers import membership, trust
from performer_edge.peers.dialer import Dialer, parse_target
from performer_edge.peers.manager import PeerManager
from sync.session import SessionConfig

ROOT = SigningKey(b"R" * 32)
QUICK = SessionConfig(ping_interval=1.0, dead_after=4.0, handshake_timeout=3.0)


BLOCKS = itertools.count(1)


def join(data: Path, root: SigningKey = ROOT, **issue: object) -> bytes:
    """Make `data` a member of `root`'s cluster (what `performer cluster join` leaves on disk,
    with an identity block of its own). Returns the node id."""
    issue.setdefault("block", next(BLOCKS))
    data_dir = DataDir(data)
    data_dir.initialize()
    node_id = data_dir.load_identity().public_key
    certificate = trust.issue(root, node_id, int(time.time() * 1000), **issue)  # type: ignore[arg-type]
    membership.save(data_dir, membership.Membership(bytes(root.verify_key), certificate))
    return node_id


@dataclass
class Served:
    node: Node
    server: TestServer

    @property
    def peers(self) -> PeerManager:
        assert self.node.peers is not None
        return self.node.peers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def write(self, n: int, tag: str) -> None:
        await self.node.append_many([("app.note", tag, {"n": i, "tag": tag}) for i in range(n)])


@asynccontextmanager
async def served(
    data: Path, *, config: SessionConfig = QUICK, port: int = 0
) -> AsyncIterator[Served]:
    """A member node serving HTTP on 127.0.0.1 with its sync manager running."""
    node = Node.open(Settings(data=data, port=0))
    try:
        assert node.peers is not None, "join() the data dir first"
        node.peers.config = config
        node.bus.attach(asyncio.get_running_loop())
        server = TestServer(make_app(node), host="127.0.0.1", port=port)
        await server.start_server()
        node.peers.api_url = f"http://127.0.0.1:{server.port}"  # as `serve` announces it
        await node.peers.start()
        try:
            yield Served(node, server)
        finally:
            await node.peers.close()
            await server.close()
    finally:
        node.close()


@asynccontextmanager
async def dialing(source: Served, *urls: str) -> AsyncIterator[Dialer]:
    dialer = Dialer(source.peers, [parse_target(u) for u in urls])
    await dialer.start()
    try:
        yield dialer
    finally:
        await dialer.close()


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], what: str, seconds: float = 30
) -> None:
    """Poll `condition` until it holds; fail naming `what` after `seconds` seconds."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def converged(*nodes: Served) -> bool:
    vectors = [n.node.log.vector() for n in nodes]
    return all(v == vectors[0] for v in vectors)
