"""A `performer serve` node per test module with this folder's migrations and the Supabase demo
JWT secret (so tests can sign tokens of any lifetime), and helpers to wait on realtime clients."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import RunningNode, serve_module

MIGRATIONS = Path(__file__).parent / "migrations"
JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
WAIT_S = 15.0  # generous: the machine may be busy running other suites


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    yield from serve_module(
        tmp_path_factory, "realtime", "--migrations", str(MIGRATIONS), "--jwt-secret", JWT_SECRET
    )


def user_token(user_id: str | None = None, *, lifetime_s: float = 3600, **claims: Any) -> str:
    """A token the node accepts (HS256 with its secret) for an authenticated user."""
    body = {
        "sub": user_id or str(uuid.uuid4()),
        "role": "authenticated",
        "exp": int(time.time() + lifetime_s),
        **claims,
    }
    return jwt.encode(body, JWT_SECRET, algorithm="HS256")


async def next_item(queue: asyncio.Queue[Any], within: float = WAIT_S) -> Any:
    return await asyncio.wait_for(queue.get(), within)


async def wait_until(condition: Any, within: float = WAIT_S) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
