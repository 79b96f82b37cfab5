"""The two table APIs bench/rest.py drives over the same `items` shape: ours (`/rest/v1`, the table
made by a migration) and PocketBase (a base collection made through its API). The processes are
auth_servers' `Ours` and `PocketBase`; this module adds the table, the bulk load and the requests.
"""

from __future__ import annotations

import asyncio
import random
import string
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from auth_servers import Ours, PocketBase
from load import expect_ok

TABLE = "items"
# Ours: Supabase's idiom for the same columns; RLS stays off, as PocketBase's rules are public.
MIGRATION = f"""create table public.{TABLE} (
  id uuid primary key default gen_random_uuid(),
  owner text not null default '',
  category text not null default '',
  price numeric not null default 0,
  created timestamptz not null default now(),
  title text not null default ''
);
create index {TABLE}_category_price on public.{TABLE} (category, price);
"""
# PocketBase: `id` (15 chars of [a-z0-9]) comes with every collection; rules "" = anyone.
PB_COLLECTION: dict[str, Any] = {
    "name": TABLE,
    "type": "base",
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "fields": [
        {"name": "owner", "type": "text"},
        {"name": "category", "type": "text"},
        {"name": "price", "type": "number"},
        {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "title", "type": "text"},
    ],
    "indexes": [f"CREATE INDEX idx_{TABLE}_category_price ON {TABLE} (category, price)"],
}
# PocketBase opens data.db with `_pragma=synchronous(NORMAL)` (core/db_connect.go): a WAL commit
# is not fsynced. All its writes go through one connection (nonconcurrentDB, max 1 open), so
# setting FULL on it once after bootstrap makes every record commit fsync its WAL, as ours does.
# The route lets the bench read the setting back from that same connection.
PB_HOOK_FULL = """onBootstrap((e) => {
  e.next()
  $app.nonconcurrentDB().newQuery("PRAGMA synchronous = FULL").execute()
})
"""
PB_HOOK_PRAGMAS = """routerAdd("GET", "/bench/pragmas", (e) => {
  const sync = new DynamicModel({ synchronous: 0 })
  $app.nonconcurrentDB().newQuery("PRAGMA synchronous").one(sync)
  const journal = new DynamicModel({ journal_mode: "" })
  $app.nonconcurrentDB().newQuery("PRAGMA journal_mode").one(journal)
  return e.json(200, { synchronous: sync.synchronous, journal_mode: journal.journal_mode })
})
"""
SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


async def read_pb_pragmas(
    session: aiohttp.ClientSession, server: PocketBase, synchronous: str, when: str
) -> dict[str, Any]:
    """PocketBase's writer pragmas, read back through the hook's route; they must be as set."""
    found = orjson.loads(await expect_ok(await session.get(f"{server.url}/bench/pragmas")))
    found["synchronous"] = SYNCHRONOUS_NAMES.get(found["synchronous"], found["synchronous"])
    if found["synchronous"] != synchronous:
        raise RuntimeError(f"PocketBase runs synchronous={found['synchronous']} ({when})")
    return dict(found)


def write_pb_hooks(server: PocketBase, synchronous: str) -> None:
    """The pb_hooks script: the pragmas route, and FULL on the writer unless NORMAL is asked."""
    hooks = server.home / "pb_hooks"  # its default --hooksDir: pb_data/../pb_hooks
    hooks.mkdir(parents=True, exist_ok=True)
    source = PB_HOOK_PRAGMAS + (PB_HOOK_FULL if synchronous == "FULL" else "")
    (hooks / "bench.pb.js").write_text(source, encoding="utf-8")


PB_BATCH = 1000  # records per /api/batch request (its maxRequests is raised to this)
OURS_BATCH = 2000  # rows per bulk POST /rest/v1/items


@dataclass(frozen=True)
class Item:
    id: str
    owner: str
    category: str
    price: float
    title: str

    def fields(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "category": self.category,
            "price": self.price,
            "title": self.title,
        }


def make_items(
    n: int, categories: int, new_id: Callable[[random.Random], str], seed: int = 42
) -> list[Item]:
    """The same rows for both servers (the same seed), but each with its server's id format."""
    rng = random.Random(seed)
    ids = random.Random(seed + 1)
    return [
        Item(
            id=new_id(ids),
            owner=f"user-{rng.randrange(1000)}",
            category=f"cat-{rng.randrange(categories)}",
            price=round(rng.uniform(1, 10_000), 2),
            title=f"item {i} " + "".join(rng.choices(string.ascii_lowercase, k=24)),
        )
        for i in range(n)
    ]


def fresh_item(worker: int, i: int) -> dict[str, Any]:
    """A created row: a category no list cell asks for, so reads keep seeing the loaded rows."""
    return {
        "owner": f"writer-{worker}",
        "category": "fresh",
        "price": round((worker * 7919 + i * 104_729) % 1_000_000 / 100, 2),
        "title": f"created by worker {worker}, request {i}",
    }


class RestPeer(ABC):
    """One server's side of every cell: the requests, over its own API."""

    name = "?"
    create_ops: tuple[str, ...] = ()

    @property
    @abstractmethod
    def pid(self) -> int:
        """The server process."""

    @abstractmethod
    def new_id(self, rng: random.Random) -> str:
        """An id in the server's own format."""

    @abstractmethod
    async def prepare(self, session: aiohttp.ClientSession) -> None:
        """Make the table (ours: done by the migration at start)."""

    @abstractmethod
    async def load(self, session: aiohttp.ClientSession, items: list[Item]) -> None:
        """Bulk-insert `items` with the server's own bulk path."""

    @abstractmethod
    def create(self, op: str) -> Callable[[aiohttp.ClientSession, int, int], Awaitable[None]]:
        """One durable single-row insert per call, as `op` says."""

    @abstractmethod
    async def get(self, session: aiohttp.ClientSession, item_id: str) -> None:
        """Read one row by primary key."""

    @abstractmethod
    async def list(self, session: aiohttp.ClientSession, category: str, count: bool) -> None:
        """50 rows of `category` by price descending, with or without the exact total."""

    @abstractmethod
    async def health(self, session: aiohttp.ClientSession) -> None:
        """The cheapest route: the HTTP floor the other cells stand on."""


async def _chunks(
    items: list[Item], size: int, send: Callable[[list[Item]], Awaitable[None]]
) -> None:
    for start in range(0, len(items), size):
        await send(items[start : start + size])


class OursRest(RestPeer):
    name = "ours"
    create_ops = ("create return=minimal", "create return=representation")

    def __init__(self, server: Ours) -> None:
        self.server = server

    @property
    def pid(self) -> int:
        return self.server.pid

    @staticmethod
    def write_migration(directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"001_{TABLE}.sql").write_text(MIGRATION, encoding="utf-8")

    def new_id(self, rng: random.Random) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    async def prepare(self, session: aiohttp.ClientSession) -> None:
        key = self.server.anon_key
        self.base = f"{self.server.url}/rest/v1/{TABLE}"
        self.read_headers = {"apikey": key, "Authorization": f"Bearer {key}"}
        self.write_headers = {
            "minimal": {**self.read_headers, "Prefer": "return=minimal"},
            "representation": {**self.read_headers, "Prefer": "return=representation"},
        }
        self.count_headers = {**self.read_headers, "Prefer": "count=exact"}
        service = self.service_role_key()
        self.service_headers = {
            "apikey": service,
            "Authorization": f"Bearer {service}",
            "Prefer": "return=minimal",
            "Content-Type": "application/json",
        }

    def service_role_key(self) -> str:
        for line in self.server.stdout_path.read_text().splitlines():
            if line.strip().startswith("service_role key"):
                return line.split()[-1]
        raise RuntimeError("performer serve printed no service_role key")

    async def load(self, session: aiohttp.ClientSession, items: list[Item]) -> None:
        async def send(chunk: list[Item]) -> None:
            body = orjson.dumps([{"id": item.id, **item.fields()} for item in chunk])
            await expect_ok(await session.post(self.base, data=body, headers=self.service_headers))

        await _chunks(items, OURS_BATCH, send)

    def create(self, op: str) -> Callable[[aiohttp.ClientSession, int, int], Awaitable[None]]:
        headers = self.write_headers[op.removeprefix("create return=")]

        async def call(session: aiohttp.ClientSession, worker: int, i: int) -> None:
            await expect_ok(
                await session.post(self.base, json=fresh_item(worker, i), headers=headers)
            )

        return call

    async def get(self, session: aiohttp.ClientSession, item_id: str) -> None:
        url = f"{self.base}?select=*&id=eq.{item_id}"
        if len(await expect_ok(await session.get(url, headers=self.read_headers))) < 10:
            raise KeyError(item_id)

    async def list(self, session: aiohttp.ClientSession, category: str, count: bool) -> None:
        url = f"{self.base}?select=*&category=eq.{category}&order=price.desc&limit=50"
        headers = self.count_headers if count else self.read_headers
        await expect_ok(await session.get(url, headers=headers))

    async def health(self, session: aiohttp.ClientSession) -> None:
        await expect_ok(await session.get(f"{self.server.url}/health"))


class PocketBaseRest(RestPeer):
    name = "PocketBase"
    create_ops = ("create",)

    def __init__(self, server: PocketBase, synchronous: str) -> None:
        self.server = server
        self.synchronous = synchronous
        self.pragmas: dict[str, dict[str, Any]] = {}
        write_pb_hooks(server, synchronous)

    @property
    def pid(self) -> int:
        return self.server.pid

    def new_id(self, rng: random.Random) -> str:
        return "".join(rng.choices(string.ascii_lowercase + string.digits, k=15))

    async def prepare(self, session: aiohttp.ClientSession) -> None:
        server = self.server
        await server.configure(session)  # superuser token; its rate limiter off
        self.auth = {"Authorization": server.superuser_token}
        await expect_ok(
            await session.post(
                f"{server.url}/api/collections", json=PB_COLLECTION, headers=self.auth
            )
        )
        batch = {"enabled": True, "maxRequests": PB_BATCH, "timeout": 120, "maxBodySize": 0}
        await expect_ok(
            await session.patch(
                f"{server.url}/api/settings", json={"batch": batch}, headers=self.auth
            )
        )
        self.base = f"{server.url}/api/collections/{TABLE}/records"
        await self.read_pragmas(session, "start")

    async def read_pragmas(self, session: aiohttp.ClientSession, when: str) -> None:
        self.pragmas[when] = await read_pb_pragmas(session, self.server, self.synchronous, when)

    async def load(self, session: aiohttp.ClientSession, items: list[Item]) -> None:
        path = f"/api/collections/{TABLE}/records"

        async def send(chunk: list[Item]) -> None:
            requests = [
                {"method": "POST", "url": path, "body": {"id": item.id, **item.fields()}}
                for item in chunk
            ]
            await expect_ok(
                await session.post(
                    f"{self.server.url}/api/batch",
                    data=orjson.dumps({"requests": requests}),
                    headers={**self.auth, "Content-Type": "application/json"},
                )
            )

        await _chunks(items, PB_BATCH, send)

    def create(self, op: str) -> Callable[[aiohttp.ClientSession, int, int], Awaitable[None]]:
        async def call(session: aiohttp.ClientSession, worker: int, i: int) -> None:
            await expect_ok(await session.post(self.base, json=fresh_item(worker, i)))

        return call

    async def get(self, session: aiohttp.ClientSession, item_id: str) -> None:
        await expect_ok(await session.get(f"{self.base}/{item_id}"))

    async def list(self, session: aiohttp.ClientSession, category: str, count: bool) -> None:
        skip = "false" if count else "true"
        url = f"{self.base}?filter=(category='{category}')&sort=-price&perPage=50&skipTotal={skip}"
        await expect_ok(await session.get(url))

    async def health(self, session: aiohttp.ClientSession) -> None:
        await expect_ok(await session.get(f"{self.server.url}/api/health"))


async def timed_load(peer: RestPeer, session: aiohttp.ClientSession, items: list[Item]) -> float:
    started = asyncio.get_running_loop().time()
    await peer.load(session, items)
    return asyncio.get_running_loop().time() - started
