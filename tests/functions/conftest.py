"""A node shared by a test module, and deploying to it over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningNode, serve_module

MIGRATIONS = Path(__file__).parent / "migrations"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    yield from serve_module(tmp_path_factory, "functions", "--migrations", str(MIGRATIONS))


def service_headers(node: RunningNode) -> dict[str, str]:
    key = node.key("service_role")
    return {"apikey": key, "Authorization": f"Bearer {key}"}


def deploy(
    node: RunningNode, name: str | None = None, wasm: bytes = b"", **fields: Any
) -> httpx.Response:
    body = {"wasm_base64": base64.b64encode(wasm).decode(), **fields}
    if name is not None:
        body["name"] = name
    return httpx.post(
        f"{node.url}/functions/v1/deploy", json=body, headers=service_headers(node), timeout=30
    )


def deployed(node: RunningNode, name: str, wasm: bytes, **fields: Any) -> dict[str, Any]:
    response = deploy(node, name, wasm, **fields)
    assert response.status_code in (200, 201), response.text
    found: dict[str, Any] = response.json()
    return found


def invoke(node: RunningNode, name: str, key: str = "anon", **kwargs: Any) -> httpx.Response:
    token = node.key(key)
    headers = {"apikey": token, "Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    method = kwargs.pop("method", "POST")
    return httpx.request(
        method, f"{node.url}/functions/v1/{name}", headers=headers, timeout=30, **kwargs
    )
