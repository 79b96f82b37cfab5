"""Realtime across two synced nodes: broadcasts and Yjs updates are events, so sync carries
them, and each node delivers them to its own clients (two `performer serve` processes in one
cluster, B dialing A)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from conftest import RunningNode

from tests.peers.peer_support import join

from .conftest import JWT_SECRET, MIGRATIONS, WAIT_S, user_token, wait_until
from .phoenix_client import RawSocket
from .ypy_client import PyYClient

pytestmark = [pytest.mark.slow, pytest.mark.network]

SYNC_WAIT_S = WAIT_S * 3  # the schema, then the updates, travel between the processes


async def test_broadcasts_and_documents_cross_nodes(
    tmp_path: Path, serving: Callable[..., RunningNode]
) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    for data in (a_dir, b_dir):
        join(data)
    # One JWT secret for both, so one user token works on either node.
    a = serving(
        a_dir, "--no-discovery", "--jwt-secret", JWT_SECRET, "--migrations", str(MIGRATIONS)
    )
    b = serving(b_dir, "--no-discovery", "--jwt-secret", JWT_SECRET, "--peer", a.url)
    token = user_token()
    async with aiohttp.ClientSession() as http:
        # A broadcast sent to A reaches a client of B.
        listener = await RawSocket.open(http, b.url, b.key("anon"))
        topic = f"realtime:across-{uuid.uuid4().hex[:8]}"
        assert (await listener.join(topic, {}))["status"] == "ok"
        url = f"{a.url}/realtime/v1/api/broadcast"
        message = {
            "topic": topic.removeprefix("realtime:"),
            "event": "hi",
            "payload": {"from": "a"},
        }
        async with http.post(
            url, json={"messages": [message]}, headers={"apikey": a.key("anon")}
        ) as sent:
            assert sent.status == 202
        got = await asyncio.wait_for(listener.next_event("broadcast", SYNC_WAIT_S), SYNC_WAIT_S)
        assert got["payload"]["payload"] == {"from": "a"}

        # One document edited on both nodes converges on both (once B has A's policies).
        name = f"doc-{uuid.uuid4().hex[:8]}"
        on_a = await PyYClient.open(
            http,
            a.url.replace("http", "ws") + f"/realtime/v1/yjs/{name}",
            apikey=a.key("anon"),
            token=token,
        )
        await asyncio.wait_for(on_a.synced.wait(), WAIT_S)
        on_b = None
        deadline = asyncio.get_running_loop().time() + SYNC_WAIT_S
        while on_b is None:  # B refuses the document until the migration's policies arrive
            try:
                on_b = await PyYClient.open(
                    http,
                    b.url.replace("http", "ws") + f"/realtime/v1/yjs/{name}",
                    apikey=b.key("anon"),
                    token=token,
                )
            except aiohttp.WSServerHandshakeError:
                assert asyncio.get_running_loop().time() < deadline, "B never got the policies"
                await asyncio.sleep(0.2)
        await asyncio.wait_for(on_b.synced.wait(), WAIT_S)
        await on_a.type("<from A>")
        await on_b.type("<from B>")
        await wait_until(
            lambda: "<from A>" in str(on_b.text) and "<from B>" in str(on_a.text), SYNC_WAIT_S
        )
        await wait_until(lambda: str(on_a.text) == str(on_b.text), SYNC_WAIT_S)
        await on_a.close()
        await on_b.close()
