"""When the node itself fails to run a function (not the function's fault), the answer is a relay
error: 502 with `x-relay-error: true`, which supabase-py raises as FunctionsRelayError, not as
the function's own FunctionsHttpError. The node keeps serving."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from supabase_functions import AsyncFunctionsClient
from supabase_functions.errors import FunctionsRelayError

from performer_edge.config import Settings
from performer_edge.http.app import make_app
from performer_edge.node import Node
from tests.functions.guests import RAW_ECHO


async def test_a_failure_of_the_node_is_a_relay_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = Node.open(Settings(data=tmp_path / "data", port=0))
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    try:
        await server.start_server()
        url = f"http://127.0.0.1:{server.port}"
        key = node.api_keys.service_role_key
        headers = {"apikey": key, "Authorization": f"Bearer {key}"}
        body = {"name": "echo", "wasm_base64": base64.b64encode(RAW_ECHO).decode()}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/functions/v1/deploy", json=body, headers=headers) as r:
                assert r.status in (200, 201), await r.text()

            async def broken(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("the engine fell over")

            monkeypatch.setattr(node.functions, "run", broken)
            async with http.post(f"{url}/functions/v1/echo", data=b"x", headers=headers) as r:
                assert r.status == 502 and r.headers["x-relay-error"] == "true"
                assert (await r.json())["code"] == "relay_error"
            client = AsyncFunctionsClient(f"{url}/functions/v1", headers)
            with pytest.raises(FunctionsRelayError):
                await client.invoke("echo", {"body": "x"})
            monkeypatch.undo()
            async with http.post(f"{url}/functions/v1/echo", data=b"x", headers=headers) as r:
                assert r.status == 200 and "x-relay-error" not in r.headers
    finally:
        await server.close()
        node.close()
