"""Load (issue 7): 1,000 concurrent WebSocket clients held for 60 s with heartbeats, then closed:
no errors, every heartbeat answered, and the node's memory back within 10% of where it started.

One real `performer serve` process, started with a soft open-files limit too small for 1,000
sockets, so the test also checks that the node lifts its own limit. Raw Phoenix frames over
aiohttp (half the clients speak 1.0.0, half 2.0.0), a third each on broadcast, presence and
postgres_changes channels; broadcasts and row inserts during the hold reach every client.
Memory is the node's VmRSS from /proc, read after a warm-up round, while held and after every
connection is gone (`/health` counts them)."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import RunningNode, start_serving, stop_serving

from .conftest import MIGRATIONS, WAIT_S

pytestmark = [pytest.mark.slow, pytest.mark.network]

CLIENTS = 1000
WARM_UP_CLIENTS = 150
HOLD_S = 60.0
HEARTBEAT_S = (25.0, 30.0)  # supabase clients heartbeat every 25 s; a little jitter on top
REPLY_WITHIN_S = 25.0  # supabase-js tears a socket down when a heartbeat reply takes longer
ROUNDS = 3  # broadcasts to every channel, and rows inserted, during the hold
NODE_SOFT_NOFILE = 512  # the node starts with this; it must lift it to serve 1,000 sockets
CONNECTING_AT_ONCE = 64
PRESENCE_ROOM = 20  # presence clients per channel: every track is a diff to the whole room
MEMORY_TOLERANCE = 0.10


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc status")


def node_environment(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/environ").read_text().split("\0")


def soft_nofile(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open files limit in /proc limits")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """A node started under a small soft open-files limit (children inherit it); the test's
    own process then takes its hard limit for the 1,000 client sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(NODE_SOFT_NOFILE, soft), hard))
    try:
        running = start_serving(
            tmp_path_factory.mktemp("load") / "data", "--migrations", str(MIGRATIONS)
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield running
    stop_serving(running)


@dataclass
class Client:
    """One raw Phoenix client: its channel, what it was sent, what it saw go wrong."""

    number: int
    ws: aiohttp.ClientWebSocketResponse
    vsn: str
    topic: str
    kind: str  # broadcast, presence or postgres_changes
    refs: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    broadcasts: int = 0
    changes: int = 0
    heartbeats_sent: int = 0
    heartbeats_answered: int = 0
    errors: list[str] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def push(self, topic: str, event: str, payload: Any, join_ref: str | None = None) -> Any:
        """Send a push and wait for its phx_reply (the reply's payload)."""
        ref = str(next(self.refs))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[ref] = future
        if self.vsn == "2.0.0":
            await self.ws.send_str(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            frame = {"topic": topic, "event": event, "payload": payload, "ref": ref}
            await self.ws.send_str(json.dumps({**frame, "join_ref": join_ref}))
        return await asyncio.wait_for(future, REPLY_WITHIN_S)

    async def read(self) -> None:
        """Every frame until the socket closes: replies resolve pushes, messages are counted."""
        async for frame in self.ws:
            if frame.type == aiohttp.WSMsgType.BINARY:  # a kind-4 broadcast (2.0.0)
                self.broadcasts += frame.data[0] == 4
                continue
            if frame.type != aiohttp.WSMsgType.TEXT:
                self.errors.append(f"unexpected frame {frame.type}")
                continue
            data = json.loads(frame.data)
            if isinstance(data, list):
                _, ref, topic, event, payload = data
            else:
                ref, topic, event, payload = (data[k] for k in ("ref", "topic", "event", "payload"))
            if event == "phx_reply" and ref in self.waiting:
                self.waiting.pop(ref).set_result(payload)
            elif event == "broadcast":
                self.broadcasts += 1
            elif event == "postgres_changes":
                self.changes += 1
            elif event == "system" and payload.get("status") == "ok":
                self.subscribed.set()
            elif event in ("phx_error", "phx_close", "system"):
                self.errors.append(f"{event} on {topic}: {payload}")

    async def heartbeat(self) -> None:
        reply = await self.push("phoenix", "heartbeat", {})
        self.heartbeats_sent += 1
        if reply.get("status") == "ok":
            self.heartbeats_answered += 1
        else:
            self.errors.append(f"heartbeat reply {reply}")


async def connect(
    session: aiohttp.ClientSession, node: RunningNode, number: int, prefix: str
) -> Client:
    """Connect and join; presence clients track themselves, postgres ones await `system`."""
    vsn = "1.0.0" if number % 2 else "2.0.0"
    ws_url = node.url.replace("http://", "ws://") + "/realtime/v1/websocket"
    ws = await session.ws_connect(
        ws_url, params={"apikey": node.key("anon"), "vsn": vsn}, autoping=True
    )
    kind = ("broadcast", "presence", "postgres_changes")[number % 3]
    if kind == "presence":
        topic = f"realtime:{prefix}-presence-{number // 3 // PRESENCE_ROOM}"
    else:
        topic = f"realtime:{prefix}-{kind}-{number % 10}"
    client = Client(number, ws, vsn, topic, kind)
    client.reader = asyncio.create_task(client.read())
    config: dict[str, Any] = {
        "broadcast": {"ack": False, "self": False},
        "presence": {"key": f"user-{number}", "enabled": kind == "presence"},
        "private": False,
        "postgres_changes": [],
    }
    if kind == "postgres_changes":
        config["postgres_changes"] = [{"event": "INSERT", "schema": "public", "table": "todos"}]
    joined = await client.push(topic, "phx_join", {"config": config})
    assert joined["status"] == "ok", joined
    join_ref = str(1)
    if kind == "presence":
        tracked = await client.push(
            topic,
            "presence",
            {"type": "presence", "event": "track", "payload": {"n": number}},
            join_ref,
        )
        assert tracked["status"] == "ok", tracked
    if kind == "postgres_changes":
        await asyncio.wait_for(client.subscribed.wait(), WAIT_S)
    return client


async def connect_all(
    session: aiohttp.ClientSession, node: RunningNode, count: int, prefix: str
) -> list[Client]:
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def one(number: int) -> Client:
        async with gate:
            return await connect(session, node, number, prefix)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def broadcast_everywhere(
    http: aiohttp.ClientSession, node: RunningNode, clients: list[Client], n: int
) -> None:
    topics = sorted({c.topic.removeprefix("realtime:") for c in clients})
    messages = [{"topic": t, "event": "tick", "payload": {"n": n}} for t in topics]
    headers = {"apikey": node.key("service_role")}
    for start in range(0, len(messages), 100):
        async with http.post(
            f"{node.url}/realtime/v1/api/broadcast",
            json={"messages": messages[start : start + 100]},
            headers=headers,
        ) as response:
            assert response.status == 202, await response.text()


async def insert_row(http: aiohttp.ClientSession, node: RunningNode, n: int) -> None:
    headers = {"apikey": node.key("anon"), "Authorization": f"Bearer {node.key('anon')}"}
    async with http.post(
        f"{node.url}/rest/v1/todos", json={"description": f"load {n}"}, headers=headers
    ) as response:
        assert response.status == 201, await response.text()


async def realtime_health(http: aiohttp.ClientSession, node: RunningNode) -> dict[str, int]:
    async with http.get(f"{node.url}/health") as response:
        return dict((await response.json())["realtime"])


async def wait_for_connections(
    http: aiohttp.ClientSession, node: RunningNode, count: int, within: float = 60.0
) -> None:
    deadline = time.monotonic() + within
    while (await realtime_health(http, node))["websocket_connections"] != count:
        assert time.monotonic() < deadline, f"the node never got to {count} connections"
        await asyncio.sleep(0.1)


async def close_all(clients: list[Client]) -> None:
    await asyncio.gather(*(c.ws.close() for c in clients))
    await asyncio.gather(*(c.reader for c in clients if c.reader is not None))


async def round_trip(
    session: aiohttp.ClientSession, http: aiohttp.ClientSession, node: RunningNode, count: int
) -> list[Client]:
    """Connect `count` clients, deliver one broadcast round to all, close: a warm-up."""
    clients = await connect_all(session, node, count, "warm")
    await broadcast_everywhere(http, node, clients, 0)
    deadline = time.monotonic() + WAIT_S
    while any(c.broadcasts < 1 for c in clients):
        assert time.monotonic() < deadline, "warm-up broadcast not delivered"
        await asyncio.sleep(0.05)
    await close_all(clients)
    await wait_for_connections(http, node, 0)
    return clients


async def hold(clients: list[Client], until: float) -> None:
    """Each client heartbeats every 25-30 s (first at a random phase) until `until`."""
    rng = random.Random(7)

    async def beat(client: Client, first: float) -> None:
        next_at = time.monotonic() + first
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            try:
                await client.heartbeat()
            except TimeoutError:
                client.errors.append("heartbeat not answered within 25 s")
            next_at += rng.uniform(*HEARTBEAT_S)

    await asyncio.gather(*(beat(c, rng.uniform(0, HEARTBEAT_S[0])) for c in clients))


async def test_thousand_clients_held_with_heartbeats_then_closed(node: RunningNode) -> None:
    pid = node.proc.pid
    assert "PYTHONMALLOC=malloc" in node_environment(pid)  # `performer serve` re-executed
    assert soft_nofile(pid) > NODE_SOFT_NOFILE, "the node did not lift its open-files limit"
    assert "open files limit raised" in node.log_path.read_text()
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        aiohttp.ClientSession() as http,
    ):
        await round_trip(session, http, node, WARM_UP_CLIENTS)
        await round_trip(session, http, node, WARM_UP_CLIENTS)
        rss_start = rss_kib(pid)

        started = time.monotonic()
        clients = await connect_all(session, node, CLIENTS, "load")
        connected_s = time.monotonic() - started
        health = await realtime_health(http, node)
        assert health["websocket_connections"] == CLIENTS
        assert health["channels_joined"] == CLIENTS

        held_from = time.monotonic()
        heartbeats = asyncio.create_task(hold(clients, held_from + HOLD_S))
        for n in range(1, ROUNDS + 1):
            await broadcast_everywhere(http, node, clients, n)
            await insert_row(http, node, n)
            await asyncio.sleep(HOLD_S / (ROUNDS + 1))  # spread the rounds over the hold
        await heartbeats
        rss_held = rss_kib(pid)
        deadline = time.monotonic() + WAIT_S
        while any(c.broadcasts < ROUNDS for c in clients) or any(
            c.changes < ROUNDS for c in clients if c.kind == "postgres_changes"
        ):
            assert time.monotonic() < deadline, "not every broadcast/change was delivered"
            await asyncio.sleep(0.05)
        assert all(not c.ws.closed for c in clients), "the node closed a held connection"

        trims = (await realtime_health(http, node))["memory_trims"]
        await close_all(clients)
        await wait_for_connections(http, node, 0)
        deadline = time.monotonic() + WAIT_S
        while (await realtime_health(http, node))["memory_trims"] == trims:
            assert time.monotonic() < deadline, "the node never returned freed memory"
            await asyncio.sleep(0.1)
        rss_end = rss_kib(pid)

    errors = [f"client {c.number}: {e}" for c in clients for e in c.errors]
    assert not errors, errors[:20]
    node_errors = [
        line
        for line in node.log_path.read_text().splitlines()
        if '"level":"error"' in line or "Traceback" in line or "fell behind" in line
    ]
    assert not node_errors, node_errors[:10]
    sent = sum(c.heartbeats_sent for c in clients)
    answered = sum(c.heartbeats_answered for c in clients)
    assert sent == answered
    assert all(c.heartbeats_sent >= 2 for c in clients)  # 60 s at 25-30 s: two or three each
    assert all(c.broadcasts == ROUNDS for c in clients)
    print(
        f"\n[load] {CLIENTS} clients connected+joined in {connected_s:.1f} s; "
        f"{sent} heartbeats, all answered; node RSS {rss_start / 1024:.1f} MiB before, "
        f"{rss_held / 1024:.1f} MiB held, {rss_end / 1024:.1f} MiB after close "
        f"({(rss_end - rss_start) / rss_start:+.1%})"
    )
    assert rss_end <= rss_start * (1 + MEMORY_TOLERANCE), (rss_start, rss_held, rss_end)
