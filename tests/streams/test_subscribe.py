"""Subscribing to a stream over SSE: the backlog from a version, then live events; a connection
killed mid-stream and resumed with Last-Event-ID misses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
from conftest import RunningNode

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
