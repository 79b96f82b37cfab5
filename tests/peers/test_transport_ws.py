"""Two in-process nodes over the WebSocket transport: they converge, live writes flow both
ways, the peers list and /health report the session; a stopped peer is noticed and redialed."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.peers.peer_support import converged, dialing, free_port, join, served, wait_for


async def test_two_nodes_converge_over_websocket(tmp_path: Path) -> None:
    join(tmp_path / "a")
    join(tmp_path / "b")
    async with served(tmp_path / "a") as a, served(tmp_path / "b") as b:
        await a.write(300, "a-offline")
        await b.write(200, "b-offline")
        start = a.node.log.vector().total() + b.node.log.vector().total()
        async with dialing(a, b.url):
            await wait_for(lambda: converged(a, b), "catch-up both ways")
            assert a.node.log.vector().total() == start
            await b.write(5, "b-live")
            await a.write(7, "a-live")
            await wait_for(lambda: converged(a, b), "live pushes")
            assert a.node.log.vector().total() == start + 12

            [listed] = b.peers.peers()
            assert listed["node_id"] == a.node.identity.node_id
            assert listed["transport"] == "websocket" and listed["direction"] == "accepted"
            assert listed["state"] == "live" and listed["faults"] == 0
            await wait_for(lambda: b.peers.peers()[0]["lag_events"] == 0, "lag to reach 0")
            headers = {"apikey": b.node.api_keys.service_role_key}
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{b.url}/performer/v1/peers", headers=headers) as r:
                    assert r.status == 200
                    body = await r.json()
                async with http.get(f"{b.url}/performer/v1/peers") as r:
                    assert r.status == 401
                async with http.get(f"{b.url}/health") as r:
                    health = (await r.json())["sync"]
            assert body["peers"][0]["node_id"] == a.node.identity.node_id
            assert health["peers_live"] == 1 and health["events_received"] >= 307
        await wait_for(lambda: not b.peers.connections, "the session to end on b")


async def test_a_restarted_peer_is_noticed_and_redialed(tmp_path: Path) -> None:
    join(tmp_path / "a")
    join(tmp_path / "b")
    port = free_port()
    async with served(tmp_path / "a") as a, dialing(a, f"http://127.0.0.1:{port}"):
        async with served(tmp_path / "b", port=port) as b:
            await a.write(3, "one")
            await wait_for(lambda: converged(a, b), "first sync")
        await wait_for(lambda: not a.peers.connections, "a to see b gone")
        await a.write(4, "while b is down")
        async with served(tmp_path / "b", port=port) as b:
            await wait_for(lambda: converged(a, b), "sync after b came back")


async def test_two_nodes_dialing_each_other_keep_one_session(tmp_path: Path) -> None:
    join(tmp_path / "a")
    join(tmp_path / "b")
    async with served(tmp_path / "a") as a, served(tmp_path / "b") as b:
        smaller = a if a.node.identity.public_key < b.node.identity.public_key else b
        async with dialing(a, b.url), dialing(b, a.url):
            await a.write(20, "a")
            await wait_for(lambda: converged(a, b), "sync over either session")

            def one_each() -> bool:
                return all(
                    [c.direction for c in s.peers.connections if c.live_since] == [expected]
                    for s, expected in ((smaller, "dialed"), (a if smaller is b else b, "accepted"))
                )

            await wait_for(one_each, "one session, the one the smaller node id dialed")
            await b.write(5, "b")
            await wait_for(lambda: converged(a, b), "live pushes over the kept session")
            assert a.peers.faults.total() == 0 and b.peers.faults.total() == 0
