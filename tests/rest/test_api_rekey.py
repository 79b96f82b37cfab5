"""A PATCH that changes a row's primary key, as Postgres allows: a delete and an insert as row
events; refused while other rows reference the old key (ON UPDATE NO ACTION) or when the new
key is taken."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from performer_edge.core.log import iter_all
from performer_edge.http.app import make_app
from performer_edge.node import Node
from performer_edge.rest.migrations import MigrationFile, apply_migrations

SCHEMA = """
create table public.lists (id bigint primary key, name text);
create table public.items (
  id bigint primary key,
  list_id bigint references public.lists(id),
  label text
);
insert into public.lists (id, name) values (1, 'groceries'), (2, 'chores'), (3, 'empty');
insert into public.items (id, list_id, label) values (10, 1, 'milk');
"""


@pytest.fixture
async def served(node: Node) -> AsyncIterator[tuple[Node, str, dict[str, str]]]:
    apply_migrations(node.db, node.log, [MigrationFile("001_lists.sql", SCHEMA)])
    node.bus.attach(asyncio.get_running_loop())
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    key = node.api_keys.service_role_key
    headers = {"apikey": key, "Authorization": f"Bearer {key}", "Prefer": "return=representation"}
    try:
        yield node, str(server.make_url("/rest/v1")), headers
    finally:
        await server.close()


async def patch(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], query: str, body: Any
) -> tuple[int, Any]:
    async with http.patch(f"{url}/{query}", json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_changing_the_key_moves_the_row(
    served: tuple[Node, str, dict[str, str]], http: aiohttp.ClientSession
) -> None:
    node, url, headers = served
    status, body = await patch(http, url, headers, "items?id=eq.10", {"id": 11, "label": "oat"})
    assert (status, body) == (200, [{"id": 11, "list_id": 1, "label": "oat"}])
    rows = node.db.read_sync(lambda c: c.execute("SELECT id, label FROM items").fetchall())
    assert rows == [(11, "oat")]
    kinds = [e.kind for e in node.db.read_sync(lambda c: list(iter_all(c)))]
    assert kinds[-2:] == ["row.delete", "row.insert"]


async def test_a_referenced_or_taken_key_cannot_change(
    served: tuple[Node, str, dict[str, str]], http: aiohttp.ClientSession
) -> None:
    _, url, headers = served
    status, body = await patch(http, url, headers, "lists?id=eq.1", {"id": 9})
    assert (status, body["code"]) == (409, "23503")
    assert body["details"] == 'Key (id)=(1) is still referenced from table "items".'
    status, body = await patch(http, url, headers, "lists?id=eq.3", {"id": 2})
    assert (status, body["code"]) == (409, "23505")
    assert body["details"] == "Key (id)=(2) already exists."
    status, body = await patch(http, url, headers, "lists?id=eq.3", {"id": 4, "name": "x"})
    assert (status, body) == (200, [{"id": 4, "name": "x"}])
