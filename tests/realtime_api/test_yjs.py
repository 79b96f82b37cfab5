"""Yjs documents at /realtime/v1/yjs/{doc}: stock y-websocket clients under Node and a pycrdt
client editing one document concurrently converge; updates are events, and a document is
loaded from its checkpoint plus the updates after it; access follows policies."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import apsw
import pytest
from conftest import RunningNode, performer_command
from js_suites import JS_DIR

from performer_edge.realtime.ydocs import CHECKPOINT_EVERY

from .conftest import JWT_SECRET, MIGRATIONS, WAIT_S, user_token, wait_until
from .ypy_client import PyYClient

pytestmark = pytest.mark.network


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def doc_url(node: RunningNode, name: str) -> str:
    return node.url.replace("http://", "ws://") + f"/realtime/v1/yjs/{name}"


async def test_y_websocket_and_pycrdt_clients_converge(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    node_bin = shutil.which("node")
    assert node_bin, "node (v20+) runs the y-websocket clients"
    assert (JS_DIR / "node_modules" / "y-websocket").is_dir(), (
        "run `make test` (npm ci in tests/js)"
    )
    name = f"doc-{uuid.uuid4().hex[:8]}"
    token = user_token()
    base = node.url.replace("http://", "ws://") + "/realtime/v1/yjs"
    peers = await asyncio.create_subprocess_exec(
        node_bin,
        str(JS_DIR / "yjs-peers.mjs"),
        base,
        name,
        node.key("anon"),
        token,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    py = await PyYClient.open(http, doc_url(node, name), apikey=node.key("anon"), token=token)
    try:
        await asyncio.wait_for(py.synced.wait(), WAIT_S)
        await py.type("<PY>", at=0)  # while the Node providers type theirs
        out, err = await asyncio.wait_for(peers.communicate(), WAIT_S * 3)
        assert peers.returncode == 0, err.decode()
        js_text = json.loads(out.decode().strip().splitlines()[-1])["text"]
        for marker in ("<A1>", "<A2>", "<B1>", "<B2>", "<PY>"):
            assert marker in js_text
        await wait_until(lambda: str(py.text) == js_text)
    finally:
        if peers.returncode is None:
            peers.kill()
            await peers.wait()
        await py.close()


async def test_access_follows_policies(node: RunningNode, http: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as anon:
        await http.ws_connect(doc_url(node, "doc-x"), params={"apikey": node.key("anon")})
    assert anon.value.status == 403
    token = user_token()
    with pytest.raises(aiohttp.WSServerHandshakeError) as other:
        await http.ws_connect(
            doc_url(node, "secret-x"), params={"apikey": node.key("anon"), "token": token}
        )
    assert other.value.status == 403

    # ro-* documents: readable, not writable. The writer's update is refused, not relayed.
    name = f"ro-{uuid.uuid4().hex[:8]}"
    params = {"apikey": node.key("anon"), "token": token}
    reader = await PyYClient.open(http, doc_url(node, name), **params)
    writer = await PyYClient.open(http, doc_url(node, name), **params)
    await asyncio.wait_for(writer.synced.wait(), WAIT_S)
    await writer.type("x")
    await wait_until(lambda: any(frame[:2] == b"\x02\x00" for frame in writer.other))
    service = await PyYClient.open(http, doc_url(node, name), apikey=node.key("service_role"))
    await service.type("s")  # service_role bypasses policies, and the reader sees its update
    await wait_until(lambda: str(reader.text) == "s")
    for client in (reader, writer, service):
        await client.close()


async def test_garbage_closes_the_socket(node: RunningNode, http: aiohttp.ClientSession) -> None:
    params = {"apikey": node.key("anon"), "token": user_token()}
    ws = await http.ws_connect(doc_url(node, f"doc-{uuid.uuid4().hex[:8]}"), params=params)
    await ws.send_bytes(b"\x00\x02\x05garbage")  # an "update" that is not one
    while True:
        message = await ws.receive(timeout=WAIT_S)
        if message.type == aiohttp.WSMsgType.CLOSE:
            break
    assert message.data == 1003


async def test_updates_are_events_and_documents_survive_restart_and_compaction(
    tmp_path: Path, serving: Callable[..., RunningNode], http: aiohttp.ClientSession
) -> None:
    data = tmp_path / "data"
    extra = ("--migrations", str(MIGRATIONS), "--jwt-secret", JWT_SECRET)
    first = serving(data, *extra)
    params = {"apikey": first.key("anon"), "token": user_token()}
    typed = "checkpointed text " * ((CHECKPOINT_EVERY // 18) + 2)  # more than one checkpoint's
    writer = await PyYClient.open(http, doc_url(first, "doc-durable"), **params)
    await asyncio.wait_for(writer.synced.wait(), WAIT_S)
    await writer.type(typed)
    watcher = await PyYClient.open(http, doc_url(first, "doc-durable"), **params)
    await wait_until(lambda: str(watcher.text) == typed)
    await writer.close()
    await watcher.close()
    await wait_until(lambda: stored_updates(data, first) == 0)  # the last close checkpoints
    first.stop()

    db = apsw.Connection(str(data / "performer.db"))
    events = db.execute(
        "SELECT count(*) FROM events WHERE kind = 'ydoc.update' AND scope = 'ydoc:doc-durable'"
    ).fetchone()[0]
    assert events == len(typed)  # one event per update
    assert db.execute("SELECT count(*) FROM ydoc_state WHERE doc = 'doc-durable'").fetchone()[0]
    db.close()

    # Compaction drops the events; the document lives on in its stored state.
    compact = await asyncio.create_subprocess_exec(
        *performer_command("compact", "--data", str(data)), stderr=asyncio.subprocess.PIPE
    )
    _, compact_err = await asyncio.wait_for(compact.communicate(), WAIT_S * 4)
    assert compact.returncode == 0, compact_err.decode()
    db = apsw.Connection(str(data / "performer.db"))
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'ydoc.update'").fetchone()[0] == 0
    db.close()
    second = serving(data, *extra)
    params["apikey"] = second.key("anon")
    reader = await PyYClient.open(http, doc_url(second, "doc-durable"), **params)
    await asyncio.wait_for(reader.synced.wait(), WAIT_S)
    assert str(reader.text) == typed
    await reader.close()


def stored_updates(data: Path, node: RunningNode) -> int:
    """Updates of doc-durable not yet folded into its state (read while the node runs: WAL)."""
    db = apsw.Connection(str(data / "performer.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return int(
            db.execute("SELECT count(*) FROM ydoc_updates WHERE doc = 'doc-durable'").fetchone()[0]
        )
    finally:
        db.close()
