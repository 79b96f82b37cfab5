"""Sync between real `performer serve` processes on 127.0.0.1, through the REST API.

Discovery is off (`--no-discovery`): the topology is the one each test dials.
A line A-B-C (A and C dial B through proxies the test can cut; no A-C link): rows written on
each while cut off converge on all three through B. A hub with two edges over SSE converges.
`performer peers` lists the hub's edges.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import RunningNode, performer_command
from tests.peers.peer_support import join, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.network]

MIGRATION = "create table public.items (id text primary key, node text, note text);\n"


class Proxy:
    """A TCP forwarder to one port that the test can cut (every connection dropped, new ones
    refused) and restore."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.open = True
        self.port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.open = False
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


class Rest:
    def __init__(self, http: aiohttp.ClientSession, node: RunningNode) -> None:
        self.http = http
        self.url = f"{node.url}/rest/v1/items"
        key = node.key("service_role")
        self.headers = {"apikey": key, "Authorization": f"Bearer {key}"}

    async def rows(self, **params: str) -> list[dict[str, Any]] | None:
        query = {"order": "id", **params}
        async with self.http.get(self.url, params=query, headers=self.headers) as r:
            return await r.json() if r.status == 200 else None

    async def insert(self, **row: str) -> None:
        async with self.http.post(self.url, json=row, headers=self.headers) as r:
            assert r.status == 201, await r.text()

    async def update(self, row_id: str, **values: str) -> None:
        params = {"id": f"eq.{row_id}"}
        async with self.http.patch(self.url, params=params, json=values, headers=self.headers) as r:
            assert r.status in (200, 204), await r.text()


def members(tmp_path: Path, *names: str) -> list[Path]:
    migrations = tmp_path / "migrations"
    migrations.mkdir(exist_ok=True)
    (migrations / "001_items.sql").write_text(MIGRATION)
    dirs = [tmp_path / name for name in names]
    for data in dirs:
        join(data)
    return dirs


async def has_rows(rest: Rest, count: int) -> bool:
    rows = await rest.rows()
    return rows is not None and len(rows) == count


async def same_rows(rests: list[Rest], count: int) -> bool:
    tables = [await r.rows() for r in rests]
    return all(t is not None and len(t) == count and t == tables[0] for t in tables)


async def test_a_line_of_three_converges_through_the_middle(serving: Any, tmp_path: Path) -> None:
    a_dir, b_dir, c_dir = members(tmp_path, "a", "b", "c")
    b = serving(b_dir, "--no-discovery", "--migrations", str(tmp_path / "migrations"))
    ab, cb = Proxy(int(b.url.rsplit(":", 1)[1])), Proxy(int(b.url.rsplit(":", 1)[1]))
    await ab.start()
    await cb.start()
    a = serving(a_dir, "--no-discovery", "--peer", f"http://127.0.0.1:{ab.port}")
    c = serving(c_dir, "--no-discovery", "--peer", f"http://127.0.0.1:{cb.port}")
    try:
        async with aiohttp.ClientSession() as http:
            ra, rb, rc = Rest(http, a), Rest(http, b), Rest(http, c)
            await rb.insert(id="shared", node="b", note="first")
            await wait_for(lambda: same_rows([ra, rb, rc], 1), "the schema and a row to spread")

            ab.cut()
            cb.cut()
            await ra.insert(id="a1", node="a", note="offline")
            await ra.update("shared", note="from a")
            await rb.insert(id="b1", node="b", note="offline")
            await rc.insert(id="c1", node="c", note="offline")
            await rc.insert(id="c2", node="c", note="offline")
            await rc.update("shared", note="from c")  # the latest write: it wins everywhere
            assert await has_rows(ra, 2) and await has_rows(rc, 3)

            ab.open = cb.open = True  # the dialers find B again after their backoff
            await wait_for(lambda: same_rows([ra, rb, rc], 5), "the line to converge", 60)
            rows = await ra.rows()
            assert rows is not None
            assert {r["id"]: r["note"] for r in rows}["shared"] == "from c"
            assert await rb.rows() == rows == await rc.rows()
    finally:
        await ab.close()
        await cb.close()


async def test_a_hub_with_two_edges_over_sse(serving: Any, tmp_path: Path) -> None:
    hub_dir, e1_dir, e2_dir = members(tmp_path, "hub", "e1", "e2")
    hub = serving(hub_dir, "--no-discovery", "--migrations", str(tmp_path / "migrations"))
    e1 = serving(e1_dir, "--no-discovery", "--hub", f"sse+{hub.url}")
    e2 = serving(e2_dir, "--no-discovery", "--hub", f"sse+{hub.url}")
    async with aiohttp.ClientSession() as http:
        rests = [Rest(http, n) for n in (hub, e1, e2)]
        await wait_for(lambda: same_rows(rests, 0), "the schema to reach the edges")
        for i, rest in enumerate(rests[1:], 1):
            for n in range(3):
                await rest.insert(id=f"e{i}-{n}", node=f"e{i}", note="over sse")
        await wait_for(lambda: same_rows(rests, 6), "hub and edges to converge")

    port = hub.url.rsplit(":", 1)[1]
    done = await asyncio.to_thread(
        subprocess.run,
        performer_command("peers", "--data", str(hub_dir), "--port", port),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [line for line in done.stdout.splitlines() if " live " in line]
    assert len(lines) == 2 and all(" sse " in line and "accepted" in line for line in lines)


async def test_identity_keys_written_apart_never_collide(serving: Any, tmp_path: Path) -> None:
    migrations = tmp_path / "identity"
    migrations.mkdir()
    (migrations / "001_items.sql").write_text(
        "create table public.items (id bigint generated by default as identity primary key,"
        " node text, note text);\n"
    )
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    join(a_dir, block=0)  # the root's block: 1, 2, 3 as a lone Postgres would give
    join(b_dir, block=5)
    flags = ("--no-discovery", "--migrations", str(migrations))
    a, b = serving(a_dir, *flags), serving(b_dir, *flags)
    async with aiohttp.ClientSession() as http:
        for node, name in ((a, "a"), (b, "b")):
            for n in range(3):
                await Rest(http, node).insert(node=name, note=f"{name}{n}")
    assert b.stop() == 0
    b = serving(b_dir, *flags, "--peer", a.url)
    async with aiohttp.ClientSession() as http:
        rests = [Rest(http, a), Rest(http, b)]
        await wait_for(lambda: same_rows(rests, 6), "six rows on both", seconds=60)
        rows = await rests[0].rows()
    assert rows is not None
    by_node = {row["node"]: [] for row in rows}
    for row in rows:
        by_node[row["node"]].append(row["id"])
    assert by_node == {"a": [1, 2, 3], "b": [(5 << 32) + 1, (5 << 32) + 2, (5 << 32) + 3]}
