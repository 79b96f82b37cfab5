"""Channels over SSE: subscribe with GET, push with POST, every event with an id; a connection
killed mid-stream and resumed with Last-Event-ID misses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import RunningNode

from .conftest import WAIT_S, user_token

pytestmark = pytest.mark.network


class EventStream:
    """A minimal EventSource: parses `id`, `event` and `data` fields of one response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.last_id: str | None = None

    async def next(self) -> tuple[str, Any]:
        """The next event; keepalive comments do not extend the deadline."""
        event, data = "message", ""
        deadline = time.monotonic() + WAIT_S
        while True:
            remaining = max(0.01, deadline - time.monotonic())
            raw = await asyncio.wait_for(self.response.content.readline(), remaining)
            if not raw:
                raise EOFError("stream ended")
            line = raw.decode().rstrip("\n")
            if line == "" and data:
                return event, json.loads(data)
            if line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            if field == "id":
                self.last_id = value
            elif field == "event":
                event = value
            elif field == "data":
                data += value

    async def until(self, event: str) -> Any:
        while True:
            got, data = await self.next()
            if got == event:
                return data


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def subscribe(
    http: aiohttp.ClientSession,
    node: RunningNode,
    channel: str,
    config: dict[str, Any],
    last_id: str | None = None,
    token: str | None = None,
) -> aiohttp.ClientResponse:
    params = {"channel": channel, "config": json.dumps(config), "apikey": node.key("anon")}
    if token:
        params["token"] = token
    headers = {"Last-Event-ID": last_id} if last_id else {}
    return await http.get(f"{node.url}/realtime/v1/sse", params=params, headers=headers)


async def test_resume_after_a_killed_connection_misses_nothing(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    run = uuid.uuid4().hex[:8]
    channel = f"sse-{run}"
    config = {
        "postgres_changes": [
            {
                "event": "INSERT",
                "schema": "public",
                "table": "messages",
                "filter": f"title=eq.{run}",
            }
        ]
    }
    total = 30
    headers = {
        "apikey": node.key("service_role"),
        "Authorization": f"Bearer {node.key('service_role')}",
    }

    async def publish() -> None:
        for n in range(total):
            url = f"{node.url}/realtime/v1/api/broadcast/{channel}/events/tick"
            async with http.post(url, json={"n": n}, headers=headers) as sent:
                assert sent.status == 202
            row = {"title": run, "message": f"row number {n} of {run}", "priority": n}
            async with http.post(f"{node.url}/rest/v1/messages", json=row, headers=headers) as made:
                assert made.status == 201, await made.text()

    first = await subscribe(http, node, channel, config)
    assert first.status == 200 and first.headers["Content-Type"].startswith("text/event-stream")
    stream = EventStream(first)
    assert "session" in (await stream.until("session"))
    assert (await stream.until("phx_reply"))["payload"]["status"] == "ok"
    publisher = asyncio.create_task(publish())
    ticks: list[int] = []
    rows: list[int] = []

    async def take(events: EventStream, count: int | None) -> None:
        while count is None or len(ticks) + len(rows) < count:
            event, data = await events.next()
            if event == "broadcast":
                ticks.append(data["payload"]["payload"]["n"])
            elif event == "postgres_changes":
                rows.append(data["payload"]["data"]["record"]["priority"])
            if len(ticks) == total and len(rows) == total:
                return

    await take(stream, 7)
    last_id = stream.last_id
    first.close()  # killed mid-stream: the publisher is still sending
    await asyncio.sleep(0)  # let the publisher go on while nobody listens
    await asyncio.wait_for(publisher, WAIT_S * 4)

    second = await subscribe(http, node, channel, config, last_id=last_id)
    assert second.status == 200
    resumed = EventStream(second)
    await take(resumed, None)
    second.close()
    assert ticks == list(range(total)), ticks
    assert rows == list(range(total)), rows


async def test_resumed_updates_carry_whole_records(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    """An update missed while disconnected comes back with the whole new row (what the live
    path sends), not only the column the write set."""
    run = uuid.uuid4().hex[:8]
    binding = {"event": "*", "schema": "public", "table": "messages", "filter": f"title=eq.{run}"}
    config = {"postgres_changes": [binding]}
    headers = {
        "apikey": node.key("service_role"),
        "Authorization": f"Bearer {node.key('service_role')}",
        "Prefer": "return=representation",
    }
    first = await subscribe(http, node, f"sse-{run}", config)
    stream = EventStream(first)
    assert (await stream.until("phx_reply"))["payload"]["status"] == "ok"
    row = {"title": run, "message": f"a message of {run}", "priority": 1}
    async with http.post(f"{node.url}/rest/v1/messages", json=row, headers=headers) as made:
        assert made.status == 201, await made.text()
        row_id = (await made.json())[0]["id"]
    assert (await stream.until("postgres_changes"))["payload"]["data"]["type"] == "INSERT"
    last_id = stream.last_id
    first.close()
    url = f"{node.url}/rest/v1/messages?id=eq.{row_id}"
    async with http.patch(url, json={"priority": 2}, headers=headers) as changed:
        assert changed.status == 200, await changed.text()

    second = await subscribe(http, node, f"sse-{run}", config, last_id=last_id)
    data = (await EventStream(second).until("postgres_changes"))["payload"]["data"]
    second.close()
    assert data["type"] == "UPDATE"
    assert data["record"]["priority"] == 2
    assert data["record"]["message"] == row["message"] and data["record"]["title"] == run
    assert data["old_record"] == {"id": row_id}


async def test_push_with_post_and_ids_on_every_event(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    channel = f"sse-{uuid.uuid4().hex[:8]}"
    config = {"broadcast": {"self": True, "ack": True}, "presence": {"key": "sam", "enabled": True}}
    response = await subscribe(http, node, channel, config)
    stream = EventStream(response)
    key = (await stream.until("session"))["session"]
    await stream.until("presence_state")
    ids = [stream.last_id]
    url = f"{node.url}/realtime/v1/sse/{key}"
    headers = {"apikey": node.key("anon")}
    body = {
        "event": "broadcast",
        "ref": "r1",
        "payload": {"type": "broadcast", "event": "hi", "payload": {"a": 1}},
    }
    async with http.post(url, json=body, headers=headers) as pushed:
        assert pushed.status == 202
    assert (await stream.until("phx_reply"))["ref"] == "r1"  # ack
    ids.append(stream.last_id)
    got = await stream.until("broadcast")  # self: true
    assert got["payload"] == {"type": "broadcast", "event": "hi", "payload": {"a": 1}}
    ids.append(stream.last_id)
    track = {"event": "presence", "payload": {"event": "track", "payload": {"online": True}}}
    async with http.post(url, json=track, headers=headers) as pushed:
        assert pushed.status == 202
    diff = await stream.until("presence_diff")
    assert diff["payload"]["joins"]["sam"]["metas"][0]["online"] is True
    ids.append(stream.last_id)
    assert all(i is not None and i.isdigit() for i in ids)
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)  # ids never go back
    async with http.post(url, json={"event": "phx_join"}, headers=headers) as refused:
        assert refused.status == 400
    response.close()
    async with http.post(f"{node.url}/realtime/v1/sse/nope", json=track, headers=headers) as gone:
        assert gone.status == 404


async def test_bad_subscriptions_are_refused_with_errors(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    for params, status in (
        ({"channel": "x", "config": "{not json"}, 400),
        ({"channel": "", "config": "{}"}, 400),
        ({"channel": "x", "config": '{"private": true}'}, 401),  # anon: no policy lets it in
        ({"channel": "x", "config": "{}", "token": user_token(lifetime_s=-5)}, 401),
    ):
        query = {**params, "apikey": node.key("anon")}
        async with http.get(f"{node.url}/realtime/v1/sse", params=query) as response:
            assert response.status == status, (params, await response.text())
    query = {"channel": "x", "apikey": node.key("anon")}
    async with http.get(
        f"{node.url}/realtime/v1/sse", params=query, headers={"Last-Event-ID": "abc"}
    ) as response:
        assert response.status == 400
    # A private room a signed-in user may read works over SSE too.
    query = {
        "channel": "room-sse",
        "config": '{"private": true}',
        "token": user_token(),
        "apikey": node.key("anon"),
    }
    async with http.get(f"{node.url}/realtime/v1/sse", params=query) as response:
        assert response.status == 200


async def test_resume_says_when_history_is_gone(
    tmp_path: Path, serving: Callable[..., RunningNode], http: aiohttp.ClientSession
) -> None:
    """With a one-second retention window, a client resuming from an id whose successors have
    aged out is told so (`history_truncated`) before what the log still holds."""
    node = serving(tmp_path / "data", "--realtime-retention", "1")
    channel = "old-news"
    headers = {"apikey": node.key("service_role")}
    url = f"{node.url}/realtime/v1/api/broadcast/{channel}/events/tick"
    first = await subscribe(http, node, channel, {})
    stream = EventStream(first)
    await stream.until("phx_reply")
    async with http.post(url, json={"n": 1}, headers=headers) as sent:
        assert sent.status == 202
    await stream.until("broadcast")
    seen = stream.last_id
    first.close()
    async with http.post(url, json={"n": 2}, headers=headers) as sent:  # missed, then aged out
        assert sent.status == 202

    async def first_after_join() -> tuple[str, Any]:
        response = await subscribe(http, node, channel, {}, last_id=seen)
        events = EventStream(response)
        await events.until("phx_reply")
        got = await events.next()
        response.close()
        return got

    deadline = time.monotonic() + WAIT_S
    while True:
        event, data = await first_after_join()
        if event == "system":
            assert data["payload"]["message"] == "history_truncated"
            break
        # Still inside the window: the missed broadcast itself comes first.
        assert event == "broadcast" and data["payload"]["payload"] == {"n": 2}, (event, data)
        assert time.monotonic() < deadline, "the missed broadcast never aged out"


async def test_a_closed_stream_leaves_presence_within_seconds(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    """A client that goes away leaves at once, not at the next keepalive (15 s later)."""
    channel = f"sse-{uuid.uuid4().hex[:8]}"
    watcher = EventStream(
        await subscribe(http, node, channel, {"presence": {"key": "watcher", "enabled": True}})
    )
    await watcher.until("presence_state")
    leaving = await subscribe(http, node, channel, {"presence": {"key": "amy", "enabled": True}})
    stream = EventStream(leaving)
    key = (await stream.until("session"))["session"]
    track = {"event": "presence", "payload": {"event": "track", "payload": {"name": "amy"}}}
    url = f"{node.url}/realtime/v1/sse/{key}"
    async with http.post(url, json=track, headers={"apikey": node.key("anon")}) as pushed:
        assert pushed.status == 202
    assert "amy" in (await watcher.until("presence_diff"))["payload"]["joins"]
    leaving.close()
    closed_at = time.monotonic()
    diff = await watcher.until("presence_diff")
    assert "amy" in diff["payload"]["leaves"]
    assert time.monotonic() - closed_at < 5.0
    watcher.response.close()
