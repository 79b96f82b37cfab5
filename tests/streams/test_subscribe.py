"""Subscribing to a stream over SSE: the backlog from a version, then live events; a connection
killed mid-stream and resumed with Last-Event-ID misses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from conftest import RunningNode

from performer_edge.config import Settings
from performer_edge.http.app import make_app
from performer_edge.node import Node
from tests.realtime_api.test_sse import EventStream

from .conftest import (
    WAIT_S,
    Api,
    fresh_scope,
    service_headers,
    user_headers,
    user_token,
)

pytestmark = pytest.mark.network


async def open_stream(
    http: aiohttp.ClientSession,
    node: RunningNode,
    scope: str,
    headers: dict[str, str],
    **query: str,
) -> aiohttp.ClientResponse:
    url = f"{node.url}/performer/v1/streams/{scope}/subscribe"
    response = await http.get(url, params=query, headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return response


async def test_backlog_then_live_and_a_resume_misses_nothing_and_repeats_nothing(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    api = Api(http, node.url, service_headers(node))
    scope = fresh_scope()
    total = 60
    await api.append(scope, [{"op": "append", "value": n} for n in range(20)])

    async def publish() -> None:  # live events while the subscriber reads, drops, resumes
        for n in range(20, total):
            await api.append(scope, {"op": "append", "value": n})
            await asyncio.sleep(0.005)

    got: list[tuple[int, int]] = []  # (version, value)
    first = await open_stream(http, node, scope, service_headers(node), **{"from": "5"})
    stream = EventStream(first)
    publisher = asyncio.create_task(publish())
    while len(got) < 25:  # the backlog (6..20) and some live ones
        event, data = await stream.next()
        assert event == "event" and stream.last_id == str(data["version"])
        got.append((data["version"], data["data"]["value"]))
    first.close()  # killed mid-stream, the publisher still sending
    resumed = EventStream(
        await open_stream(
            http, node, scope, {**service_headers(node), "Last-Event-ID": str(stream.last_id)}
        )
    )
    while len(got) < total - 5:
        event, data = await resumed.next()
        assert event == "event"
        got.append((data["version"], data["data"]["value"]))
    await asyncio.wait_for(publisher, WAIT_S)
    assert got == [(v, v - 1) for v in range(6, total + 1)]
    with pytest.raises(TimeoutError):  # and nothing after the last one
        await asyncio.wait_for(resumed.next(), 0.3)
    resumed.response.close()


async def test_without_a_version_the_stream_starts_with_the_newest_snapshot(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    user = str(uuid.uuid4())
    token = user_token(user)
    scope = f"actor:{user}"
    api = Api(http, node.url, user_headers(node, token))
    await api.append(scope, [{"value": {"n": n}} for n in range(4)])
    assert (await api.call("POST", f"{scope}/snapshots", {}))[0] == 201
    await api.append(scope, {"value": {"after": True}})
    # EventSource sends no headers: the apikey and the token go in the query.
    response = await open_stream(http, node, scope, {}, apikey=node.key("anon"), token=token)
    stream = EventStream(response)
    event, snapshot = await stream.next()
    assert event == "snapshot" and stream.last_id == "4"
    assert snapshot == {"version": 4, "state": {"n": 3}, "head": 5}
    event, data = await stream.next()
    assert (event, data["version"], data["data"]["value"]) == ("event", 5, {"after": True})
    await api.append(scope, {"op": "set", "path": ["live"], "value": 1})
    event, data = await stream.next()
    assert (event, data["version"]) == ("event", 6)
    response.close()
    # Someone else's stream: refused before any stream starts.
    other = f"{node.url}/performer/v1/streams/actor:{uuid.uuid4()}/subscribe"
    params = {"apikey": node.key("anon"), "token": token}
    async with http.get(other, params=params) as refused:
        assert refused.status == 403
        assert (await refused.json())["code"] == "stream_forbidden"


async def test_a_subscriber_that_falls_behind_is_told_to_resume_and_loses_nothing(
    tmp_path: Path,
) -> None:
    # A node whose subscribers may fall 4 events behind; 20 events in one commit overflow it.
    node = Node.open(Settings(data=tmp_path / "data", bus_queue_size=4))
    node.bus.attach(asyncio.get_running_loop())
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    key = node.api_keys.service_role_key
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    url = f"http://127.0.0.1:{server.port}/performer/v1/streams/actor:burst/subscribe"
    try:
        async with aiohttp.ClientSession() as http:
            await node.append("app.stream", "actor:burst", {"op": "append", "value": 0})
            versions: list[int] = []
            async with http.get(url, params={"from": "0"}, headers=headers) as response:
                stream = EventStream(response)
                assert (await stream.next())[1]["version"] == 1
                burst = [
                    ("app.stream", "actor:burst", {"op": "append", "value": n}) for n in range(20)
                ]
                await node.append_many(burst)
                while True:
                    event, data = await stream.next()
                    if event == "system":
                        assert data == {"message": "resume_again"}
                        break
                    versions.append(data["version"])
                with pytest.raises(EOFError):  # the stream ended
                    await stream.next()
            last = str(versions[-1]) if versions else "1"
            resumed_headers = {**headers, "Last-Event-ID": last}
            async with http.get(url, headers=resumed_headers) as response:
                resumed = EventStream(response)
                while len(versions) < 20:
                    versions.append((await resumed.next())[1]["version"])
            assert versions == list(range(2, 22))
    finally:
        await server.close()
        node.close()


async def test_a_subscription_ends_when_its_token_expires(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    user = str(uuid.uuid4())
    scope = f"actor:{user}"
    await Api(http, node.url, service_headers(node)).append(scope, {"value": {"n": 1}})
    token = user_token(user, lifetime_s=2)
    response = await open_stream(http, node, scope, {}, apikey=node.key("anon"), token=token)
    stream = EventStream(response)
    assert (await stream.next())[0] == "snapshot"
    assert (await stream.next())[1]["version"] == 1
    event, data = await stream.next()  # within a second or so of the token's expiry
    assert (event, data) == ("system", {"message": "token_expired"})
    with pytest.raises(EOFError):
        await stream.next()
