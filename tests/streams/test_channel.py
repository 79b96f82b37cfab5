"""Following a stream on a realtime channel (`broadcast.stream` in the join config), with the
official Python async client and with raw Phoenix 1.0.0 frames: backlog, then live events, as
broadcasts `stream` (and `stream_snapshot` first when no version is given)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from conftest import RunningNode
from realtime import RealtimeSubscribeStates
from supabase import AsyncClient, acreate_client

from tests.realtime_api.phoenix_client import RawSocket

from .conftest import WAIT_S, Api, fresh_scope, service_headers, user_headers, user_token

pytestmark = pytest.mark.network


@pytest.fixture
async def python_client(node: RunningNode) -> AsyncIterator[AsyncClient]:
    client = await acreate_client(node.url, node.key("anon"))
    yield client
    await client.realtime.close()


async def test_the_official_python_client_follows_a_stream_from_a_version(
    node: RunningNode, http: aiohttp.ClientSession, python_client: AsyncClient
) -> None:
    user = str(uuid.uuid4())
    token = user_token(user)
    await python_client.realtime.set_auth(token)
    scope = f"actor:{user}"
    api = Api(http, node.url, user_headers(node, token))
    await api.append(scope, [{"op": "append", "value": n} for n in range(3)])
    got: asyncio.Queue[Any] = asyncio.Queue()
    config = {"broadcast": {"stream": {"scope": scope, "from": 1}}}
    channel = python_client.channel(f"follow-{user[:8]}", {"config": config})
    channel.on_broadcast("stream", got.put_nowait)
    states: list[Any] = []
    await channel.subscribe(lambda state, error: states.append(state))
    assert states[-1] == RealtimeSubscribeStates.SUBSCRIBED, states

    async def version() -> int:
        message = await asyncio.wait_for(got.get(), WAIT_S)
        assert message["event"] == "stream"
        return int(message["payload"]["version"])

    assert [await version(), await version()] == [2, 3]
    await api.append(scope, {"op": "append", "value": 3})
    assert await version() == 4
    await channel.unsubscribe()


async def test_raw_frames_snapshot_first_and_refusals(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    api = Api(http, node.url, service_headers(node))
    scope = fresh_scope("app")
    await api.append(scope, [{"value": {"n": n}} for n in range(3)])
    assert (await api.call("POST", f"{scope}/snapshots", {"at": 2}))[0] == 201
    socket = await RawSocket.open(http, node.url, node.key("service_role"), vsn="1.0.0")
    topic = f"realtime:follow-{uuid.uuid4().hex[:8]}"
    reply = await socket.join(topic, {"broadcast": {"stream": {"scope": scope}}})
    assert reply["status"] == "ok", reply
    first = await socket.next_event("broadcast")
    assert first["payload"]["event"] == "stream_snapshot"
    assert first["payload"]["payload"] == {"version": 2, "state": {"n": 1}, "head": 3}
    then = await socket.next_event("broadcast")
    assert (then["payload"]["event"], then["payload"]["payload"]["version"]) == ("stream", 3)
    await api.append(scope, {"value": {"n": 3}})
    live = await socket.next_event("broadcast")
    assert live["payload"]["payload"]["data"] == {"op": "merge", "value": {"n": 3}}
    # Refused joins: a stream the caller may not read, a version beyond the head, bad config.
    anon = await RawSocket.open(http, node.url, node.key("anon"), vsn="1.0.0")
    for config, reason in (
        ({"stream": {"scope": f"actor:{uuid.uuid4()}"}}, "no policy lets this caller read"),
        ({"stream": {"scope": "nope:1"}}, "no stream 'nope:1'"),
        ({"stream": {"scope": scope, "from": -1}}, "must be a version"),
        ({"stream": {"scope": scope, "extra": 1}}, "broadcast.stream must be"),
    ):
        refused = await anon.join(f"realtime:r-{uuid.uuid4().hex[:6]}", {"broadcast": config})
        assert refused["status"] == "error" and reason in refused["response"]["reason"], refused
    refused = await socket.join(
        f"realtime:r-{uuid.uuid4().hex[:6]}", {"broadcast": {"stream": {"scope": scope, "from": 9}}}
    )
    assert "beyond the stream's head" in refused["response"]["reason"]
    await socket.ws.close()
    await anon.ws.close()
