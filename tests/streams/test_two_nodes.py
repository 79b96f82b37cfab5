"""Streams across two synced nodes (in-process, one cluster, B dialing A): events appended on A
reach B by sync and appear in B's stream, in its snapshots and to its live subscribers, with
B's own versions."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.peers.peer_support import Served, dialing, join, served, wait_for
from tests.realtime_api.test_sse import EventStream

from .conftest import Api, fresh_scope

pytestmark = pytest.mark.network


def service(node: Served) -> dict[str, str]:
    key = node.node.api_keys.service_role_key
    return {"apikey": key, "Authorization": f"Bearer {key}"}


async def test_events_appended_on_a_peer_appear_in_the_stream(tmp_path: Path) -> None:
    join(tmp_path / "a")
    join(tmp_path / "b")
    scope = fresh_scope()
    async with (
        served(tmp_path / "a") as a,
        served(tmp_path / "b") as b,
        aiohttp.ClientSession() as http,
    ):
        on_a, on_b = Api(http, a.url, service(a)), Api(http, b.url, service(b))
        await on_b.append(scope, {"op": "set", "value": {"from": ["b"]}})
        url = f"{b.url}/performer/v1/streams/{scope}/subscribe"
        async with http.get(url, params={"from": "1"}, headers=service(b)) as response:
            assert response.status == 200
            live = EventStream(response)
            async with dialing(b, a.url):
                await on_a.append(scope, [{"op": "append", "path": ["from"], "value": "a"}] * 3)

                async def arrived() -> bool:
                    return bool((await on_b.get(scope))["head"] == 4)

                await wait_for(arrived, "A's events in B's stream")
                seen = [await live.next() for _ in range(3)]

                async def on_a_too() -> bool:  # sync runs both ways
                    return bool((await on_a.get(scope))["head"] == 4)

                await wait_for(on_a_too, "B's event in A's stream")
        assert [(e, d["version"], d["origin"]) for e, d in seen] == [
            ("event", v, a.node.identity.public_key.hex()) for v in (2, 3, 4)
        ]
        state = (await on_b.get(f"{scope}/snapshot", at=4))["state"]
        assert state == {"from": ["b", "a", "a", "a"]}
