"""HTTP scenarios against a real server on 127.0.0.1: health, CORS, credentials, events API.

Each scenario is a row: request, expected status, expected body fragment, expected headers.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer

from performer_edge.core.tokens import generate_es256_key
from performer_edge.node import Node

BROWSER = "http://app.example"


@dataclass
class Scenario:
    name: str
    method: str
    path: str
    key: str | None = None  # "anon", "service", "forged", "expired", "none", "garbage" or None
    as_apikey: bool = True
    body: Any = None
    status: int = 200
    fragment: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def credential(node: Node, kind: str | None) -> str | None:
    if kind is None:
        return None
    if kind == "anon":
        return node.api_keys.anon_key
    if kind == "service":
        return node.api_keys.service_role_key
    if kind == "forged":
        return jwt.encode({"role": "service_role"}, generate_es256_key(), algorithm="ES256")
    if kind == "expired":
        return node.tokens.sign({"role": "service_role", "exp": int(time.time()) - 60})
    if kind == "none":
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(b'{"role":"service_role"}').rstrip(b"=").decode()
        return f"{header}.{body}."
    return "not-a-jwt"


SCENARIOS = [
    Scenario("health is public", "GET", "/health", fragment={"status": "healthy"}),
    Scenario("health ignores a bad key", "GET", "/health", key="forged"),
    Scenario("jwks is public", "GET", "/auth/v1/.well-known/jwks.json"),
    Scenario(
        "rest without key",
        "GET",
        "/rest/v1/todos",
        status=401,
        fragment={"code": "PGRST302", "details": None, "hint": None},
    ),
    Scenario(
        "rest forged key",
        "GET",
        "/rest/v1/todos",
        key="forged",
        status=401,
        fragment={"code": "PGRST301"},
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    ),
    Scenario(
        "rest expired bearer",
        "GET",
        "/rest/v1/todos",
        key="expired",
        as_apikey=False,
        status=401,
        fragment={"code": "PGRST303", "message": "JWT expired"},
    ),
    Scenario("rest alg none", "GET", "/rest/v1/t", key="none", status=401),
    Scenario("rest garbage", "GET", "/rest/v1/t", key="garbage", status=401),
    Scenario(
        "auth forged user token is GoTrue's 403 bad_jwt",
        "GET",
        "/auth/v1/user",
        key="forged",
        status=403,
        fragment={"code": "bad_jwt", "error_code": "bad_jwt"},
        headers={"X-Supabase-Api-Version": "2024-01-01", "x-sb-error-code": "bad_jwt"},
    ),
    Scenario(
        "auth user endpoint without token",
        "GET",
        "/auth/v1/user",
        status=401,
        fragment={"code": "no_authorization", "msg": "This endpoint requires a valid Bearer token"},
    ),
    Scenario(
        "auth unknown route without key",
        "GET",
        "/auth/v1/nothing-here",
        status=401,
        fragment={"code": "no_authorization"},
    ),
    Scenario(
        "storage expired",
        "GET",
        "/storage/v1/bucket",
        key="expired",
        status=401,
        fragment={"statusCode": "401", "code": "InvalidJWT", "message": "JWT expired"},
    ),
    Scenario(
        "functions without key",
        "POST",
        "/functions/v1/hello",
        status=401,
        fragment={"code": "UNAUTHORIZED_NO_AUTH_HEADER"},
    ),
    Scenario(
        "valid key reaches routing",
        "GET",
        "/rest/v1/todos",
        key="anon",
        status=404,
    ),
    Scenario("unknown performer path", "GET", "/nope", status=404, fragment={"code": "not_found"}),
    Scenario(
        "events need service role",
        "GET",
        "/performer/v1/events",
        key="anon",
        status=403,
        fragment={"code": "service_role_required"},
    ),
    Scenario("events forged", "GET", "/performer/v1/events", key="forged", status=401),
    Scenario(
        "append refuses capability kinds",
        "POST",
        "/performer/v1/events",
        key="service",
        body={"kind": "auth.user_created", "scope": "x", "payload": {}},
        status=400,
        fragment={"code": "invalid_event_kind"},
    ),
    Scenario(
        "append refuses bad json",
        "POST",
        "/performer/v1/events",
        key="service",
        body=b"{not json",
        status=400,
        fragment={"code": "invalid_json"},
    ),
    Scenario(
        "append refuses unknown fields",
        "POST",
        "/performer/v1/events",
        key="service",
        body={"kind": "app.x", "extra": 1},
        status=400,
    ),
    Scenario(
        "list refuses a bad limit",
        "GET",
        "/performer/v1/events?limit=abc",
        key="service",
        status=400,
    ),
    Scenario(
        "method not allowed",
        "DELETE",
        "/performer/v1/events",
        key="service",
        status=405,
        fragment={"code": "method_not_allowed"},
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_scenario(
    scenario: Scenario, node: Node, server: TestServer, http: aiohttp.ClientSession
) -> None:
    headers = {"Origin": BROWSER}
    token = credential(node, scenario.key)
    if token is not None:
        if scenario.as_apikey:
            headers["apikey"] = token
        headers["Authorization"] = f"Bearer {token}"
    data = scenario.body
    if data is not None and not isinstance(data, bytes):
        data = json.dumps(data).encode()
    async with http.request(
        scenario.method, str(server.make_url(scenario.path)), headers=headers, data=data
    ) as response:
        assert response.status == scenario.status, await response.text()
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        body = await response.json()
        for key, value in scenario.fragment.items():
            assert body.get(key) == value, body
        for name, value in scenario.headers.items():
            assert value in response.headers.get(name, ""), dict(response.headers)
        if response.status >= 400:
            assert isinstance(body.get("code"), str)


async def test_health_reports_version_node_and_uptime(
    node: Node, server: TestServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(str(server.make_url("/health"))) as response:
        body = await response.json()
    assert body["version"] == node.version
    assert body["node_id"] == node.identity.node_id
    assert body["uptime_s"] >= 0


async def test_cors_preflight_allows_what_supabase_js_sends(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    headers = {
        "Origin": BROWSER,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "apikey, authorization, x-client-info, prefer, x-custom",
    }
    async with http.options(str(server.make_url("/rest/v1/todos")), headers=headers) as response:
        assert response.status == 204
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        for name in ("apikey", "authorization", "x-client-info", "prefer", "range", "x-custom"):
            assert name in allowed
        assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
        assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_append_and_read_events_over_http(
    node: Node, server: TestServer, http: aiohttp.ClientSession
) -> None:
    service = {"apikey": node.api_keys.service_role_key}
    batch = [
        {"kind": "app.order_placed", "scope": "orders/1", "payload": {"total": 12.5, "n": i}}
        for i in range(3)
    ]
    async with http.post(
        str(server.make_url("/performer/v1/events")), json=batch, headers=service
    ) as response:
        assert response.status == 201
        created = (await response.json())["events"]
    assert [e["seq"] for e in created] == [1, 2, 3]
    query = "/performer/v1/events?after=1&kind=app.order_placed&scope=orders/1"
    async with http.get(str(server.make_url(query)), headers=service) as response:
        listed = await response.json()
    assert [e["seq"] for e in listed["events"]] == [2, 3]
    assert listed["events"][0]["payload"] == {"total": 12.5, "n": 1}
    assert listed["next_after"] == 3
    async with http.get(
        str(server.make_url("/performer/v1/events/heads")), headers=service
    ) as response:
        assert (await response.json())["origins"] == {node.identity.node_id: 3}


async def test_query_strings_decode_plus_as_space(
    node: Node, server: TestServer, http: aiohttp.ClientSession
) -> None:
    service = {"apikey": node.api_keys.service_role_key}
    await node.append("app.note", "a b+c", None)
    url = str(server.make_url("/performer/v1/events")) + "?scope=a+b%2Bc"
    async with http.get(url, headers=service) as response:
        assert [e["scope"] for e in (await response.json())["events"]] == ["a b+c"]


async def test_bearer_user_token_wins_over_apikey(
    node: Node, server: TestServer, http: aiohttp.ClientSession
) -> None:
    user = node.tokens.sign({"role": "authenticated", "sub": "user-1"})
    headers = {"apikey": node.api_keys.service_role_key, "Authorization": f"Bearer {user}"}
    async with http.get(str(server.make_url("/performer/v1/events")), headers=headers) as response:
        assert response.status == 403


async def test_jwks_verifies_the_api_keys(
    node: Node, server: TestServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(str(server.make_url("/auth/v1/.well-known/jwks.json"))) as response:
        jwks = await response.json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(node.api_keys.anon_key, key, algorithms=["ES256"])
    assert claims["role"] == "anon" and claims["iss"] == "performer"
