"""Peers that must get nothing: a node of another cluster, an expired or borrowed certificate, a
member that forges an event, oversized and garbage frames. Each session ends with the fault
counted against the peer, nothing of theirs is applied, and the node keeps serving."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType
from nacl.signing import SigningKey

from performer_edge.core.events import encode_payload, sign_event
from performer_edge.peers import trust
from performer_edge.peers.bridge import to_wire
from sync.codec import MAX_FRAME, decode, encode
from sync.messages import Bye, Events
from sync.session import LocalNode, Session
from tests.peers.peer_support import ROOT, Served, converged, dialing, join, served, wait_for

OTHER_ROOT = SigningKey(b"O" * 32)
NOW_MS = int(time.time() * 1000)
Socket = aiohttp.ClientWebSocketResponse


async def handshake(socket: Socket, key: SigningKey, certificate: bytes) -> Session:
    """Authenticate to the node as `key`, by hand: a session we drive frame by frame."""
    node = LocalNode(
        bytes(key.verify_key),
        bytes(ROOT.verify_key),
        lambda message: key.sign(message).signature,
        certificate,
    )
    session = Session(node)
    session.start(time.monotonic())
    while not session.live:
        for frame in session.take_frames():
            await socket.send_bytes(frame)
        message = await socket.receive(timeout=10)
        assert message.type is aiohttp.WSMsgType.BINARY, message
        session.receive(message.data, time.monotonic())
    for frame in session.take_frames():
        await socket.send_bytes(frame)
    return session


async def forged_event(socket: Socket, key: SigningKey) -> None:
    session = await handshake(socket, key, trust.issue(ROOT, bytes(key.verify_key), NOW_MS))
    honest = sign_event(key, 1, NOW_MS << 16, "app.note", "s", encode_payload({"n": 1}))
    forged = replace(to_wire(honest), payload=encode_payload({"n": 1_000_000}))
    assert session.live
    await socket.send_bytes(encode(Events(1, (forged,))))


async def oversized_frame(socket: Socket, key: SigningKey) -> None:
    with contextlib.suppress(ConnectionError):  # the node may hang up before it is all sent
        await socket.send_bytes(b"\x00" * (MAX_FRAME + 1))


async def garbage_frame(socket: Socket, key: SigningKey) -> None:
    await socket.send_bytes(b"\xff\xfe garbage")


async def text_frame(socket: Socket, key: SigningKey) -> None:
    await socket.send_str("hello?")


async def expect_closed(socket: Socket) -> None:
    while True:
        message = await socket.receive(timeout=10)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return


@pytest.mark.parametrize("attack", [forged_event, oversized_frame, garbage_frame, text_frame])
async def test_a_hostile_frame_ends_only_that_session(
    tmp_path: Path, attack: Callable[[Socket, SigningKey], Awaitable[None]]
) -> None:
    join(tmp_path / "b")
    key = SigningKey(b"m" * 32)
    async with served(tmp_path / "b") as b, aiohttp.ClientSession() as http:
        before = b.node.log.vector()
        async with http.ws_connect(f"{b.url}/performer/v1/sync") as socket:
            await attack(socket, key)
            await expect_closed(socket)
        await wait_for(lambda: not b.peers.connections, "the session to end")
        assert sum(b.peers.faults.values()) == 1
        assert b.node.log.vector() == before  # nothing of the peer's was applied
        await expect_still_serving(b, tmp_path)


async def expect_still_serving(b: Served, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{b.url}/health") as r:
        assert r.status == 200
    join(tmp_path / "honest")
    async with served(tmp_path / "honest") as honest, dialing(honest, b.url):
        await honest.write(2, "honest")
        await wait_for(lambda: converged(honest, b), "an honest peer to sync afterwards")


@pytest.mark.parametrize(
    ("certificate", "reason"),
    [
        (lambda node: trust.issue(OTHER_ROOT, node, NOW_MS), "another cluster"),
        (lambda node: trust.issue(ROOT, node, NOW_MS, expires_ms=NOW_MS - 1), "expired"),
        (lambda node: trust.issue(ROOT, bytes(32), NOW_MS), "another node key"),
    ],
)
async def test_an_untrusted_node_gets_nothing(
    tmp_path: Path, certificate: Callable[[bytes], bytes], reason: str
) -> None:
    join(tmp_path / "b")
    async with served(tmp_path / "b") as b, aiohttp.ClientSession() as http:
        await b.write(3, "secret")
        key = SigningKey(b"u" * 32)
        async with http.ws_connect(f"{b.url}/performer/v1/sync") as socket:
            await handshake(socket, key, certificate(bytes(key.verify_key)))
            received = []
            while (message := await socket.receive(timeout=10)).type is WSMsgType.BINARY:
                received.append(decode(message.data))
        assert [type(m) for m in received] == [Bye], received  # no SUMMARY, no EVENTS
        assert reason in received[0].reason
        await wait_for(lambda: not b.peers.connections, "the session to end")
        [(peer, count)] = b.peers.faults.items()
        assert peer == bytes(key.verify_key).hex() and count == 1


async def test_a_node_of_another_cluster_is_refused_at_hello(tmp_path: Path) -> None:
    join(tmp_path / "b")
    join(tmp_path / "stranger", OTHER_ROOT)
    async with served(tmp_path / "b") as b, served(tmp_path / "stranger") as stranger:
        await stranger.write(3, "theirs")
        await b.write(3, "ours")
        async with dialing(stranger, b.url):
            await wait_for(lambda: sum(b.peers.faults.values()) >= 1, "b to refuse")
        assert stranger.node.identity.public_key not in b.node.log.vector()
        assert b.node.identity.public_key not in stranger.node.log.vector()
