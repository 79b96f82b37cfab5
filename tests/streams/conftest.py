"""One `performer serve` node for this folder's tests, with this folder's policies and
snapshots every 10 events, and a client for the streams API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from conftest import RunningNode, serve_module

MIGRATIONS = Path(__file__).parent / "migrations"
JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
WAIT_S = 15.0  # generous: the machine may be busy running other suites
EVERY = 10  # --stream-snapshot-every of the module's node


@pytest.fixture(scope="package")  # one node for the folder: each start costs seconds
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    yield from serve_module(
        tmp_path_factory,
        "streams",
        "--migrations",
        str(MIGRATIONS),
        "--jwt-secret",
        JWT_SECRET,
        "--stream-snapshot-every",
        str(EVERY),
        "--stream-snapshot-keep",
        "2",
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def user_token(user_id: str | None = None, *, lifetime_s: float = 3600) -> str:
    body = {
        "sub": user_id or str(uuid.uuid4()),
        "role": "authenticated",
        "exp": int(time.time() + lifetime_s),
    }
    return jwt.encode(body, JWT_SECRET, algorithm="HS256")


def service_headers(node: RunningNode) -> dict[str, str]:
    key = node.key("service_role")
    return {"apikey": key, "Authorization": f"Bearer {key}"}


def user_headers(node: RunningNode, token: str) -> dict[str, str]:
    return {"apikey": node.key("anon"), "Authorization": f"Bearer {token}"}


def fresh_scope(family: str = "actor") -> str:
    return f"{family}:{uuid.uuid4().hex[:10]}"


class Api:
    """The streams API of one node, as one caller."""

    def __init__(self, http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
        self.http = http
        self.base = f"{url}/performer/v1/streams"
        self.headers = headers

    async def call(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, **query: Any
    ) -> tuple[int, Any]:
        params = {k: str(v) for k, v in query.items()}
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        async with self.http.request(
            method, f"{self.base}/{path}", data=data, params=params, headers=self.headers
        ) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None

    async def append(self, scope: str, events: Any, **query: Any) -> Any:
        status, body = await self.call("POST", f"{scope}/events", events, **query)
        assert status == 201, body
        return body

    async def get(self, path: str, **query: Any) -> Any:
        status, body = await self.call("GET", path, **query)
        assert status == 200, body
        return body


async def wait_until(condition: Any, within: float = WAIT_S) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
