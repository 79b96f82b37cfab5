"""LAN discovery between real `performer serve` processes on 127.0.0.1: two members of one
cluster find each other without `--peer` and sync; a node of another cluster is not dialed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nacl.signing import SigningKey

from performer_edge.peers.discovery import announcement, cluster_tag, should_dial
from tests.conftest import RunningNode
from tests.peers.peer_support import join, wait_for

pytestmark = pytest.mark.network


def test_only_the_smaller_id_of_the_same_cluster_dials() -> None:
    cluster, low, high = b"c" * 32, b"\x01" * 32, b"\x02" * 32
    told = announcement(high, cluster)
    assert should_dial(low, told, cluster) == high
    assert should_dial(high, announcement(low, cluster), cluster) is None  # the other side dials
    assert should_dial(high, told, cluster) is None  # itself
    assert should_dial(low, told, b"d" * 32) is None  # another cluster
    assert should_dial(low, {**told, "node": "zz"}, cluster) is None
    assert should_dial(low, {**told, "v": "9"}, cluster) is None
    assert cluster.hex() not in str(told) and told["cluster"] == cluster_tag(cluster)


class Api:
    def __init__(self, http: aiohttp.ClientSession, node: RunningNode) -> None:
        self.http, self.url = http, node.url
        key = node.key("service_role")
        self.headers = {"apikey": key, "Authorization": f"Bearer {key}"}

    async def get(self, path: str) -> Any:
        async with self.http.get(self.url + path, headers=self.headers) as response:
            return await response.json()

    async def note(self, text: str) -> None:
        event = {"kind": "app.note", "scope": "notes", "payload": {"text": text}}
        async with self.http.post(
            self.url + "/performer/v1/events", json=event, headers=self.headers
        ) as response:
            assert response.status == 201

    async def live_peers(self) -> int:
        peers = await self.get("/performer/v1/peers")
        return sum(p["state"] == "live" for p in peers.get("peers", peers))

    async def total(self) -> int:
        return sum((await self.get("/performer/v1/events/heads"))["origins"].values())


async def test_two_members_find_each_other_and_sync(serving: Any, tmp_path: Path) -> None:
    a_dir, b_dir, stranger_dir = tmp_path / "a", tmp_path / "b", tmp_path / "stranger"
    join(a_dir)
    join(b_dir)
    join(stranger_dir, SigningKey(b"S" * 32))  # another cluster, also announcing
    a, b, stranger = serving(a_dir), serving(b_dir), serving(stranger_dir)
    async with aiohttp.ClientSession() as http:
        apis = [Api(http, n) for n in (a, b)]
        await apis[0].note("from a")
        await apis[1].note("from b")

        async def synced() -> bool:
            counts = [await api.total() for api in apis]
            return counts[0] == counts[1] and counts[0] >= 2

        await wait_for(synced, "the two members to find each other and sync", 60)
        assert [await api.live_peers() for api in apis] == [1, 1]
        assert await Api(http, stranger).live_peers() == 0
