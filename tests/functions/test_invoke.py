"""Invoking deployed functions through supabase-py's `functions.invoke` and plain HTTP: bodies
(JSON, text, binary), methods, path suffixes, status codes and headers, versions."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from supabase import create_client
from supabase_functions.errors import FunctionsHttpError

from tests.conftest import RunningNode
from tests.functions.conftest import deploy, deployed, invoke, service_headers
from tests.functions.guests import RAW_ECHO, command_constant

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def echo(node: RunningNode) -> str:
    deployed(node, "echo", RAW_ECHO)
    return "echo"


def test_json_body_reaches_the_function_and_json_comes_back(node: RunningNode, echo: str) -> None:
    client = create_client(node.url, node.key("anon"))
    answer = client.functions.invoke(echo, {"body": {"hello": "world"}, "responseType": "json"})
    assert answer["method"] == "POST"
    assert json.loads(answer["body"]) == {"hello": "world"}
    assert answer["headers"]["content-type"] == "application/json"
    assert answer["principal"]["role"] == "anon"
    assert "authorization" not in answer["headers"] and "apikey" not in answer["headers"]


def test_text_body_path_suffix_query_and_method(node: RunningNode, echo: str) -> None:
    client = create_client(node.url, node.key("anon"))
    raw = client.functions.invoke(
        f"{echo}/items/7?color=red+blue",
        {"body": "plain words", "method": "PUT", "headers": {"X-Trace": "abc"}},
    )
    answer = json.loads(raw)
    assert answer["method"] == "PUT"
    assert answer["path"] == "/items/7"
    assert answer["query"] == {"color": "red blue"}
    assert answer["body"] == "plain words"
    assert answer["headers"]["x-trace"] == "abc"
    assert answer["headers"]["content-type"].startswith("text/plain")


def test_binary_body_arrives_as_base64(node: RunningNode, echo: str) -> None:
    client = create_client(node.url, node.key("anon"))
    payload = bytes(range(256))
    answer = json.loads(client.functions.invoke(echo, {"body": payload}))
    assert base64.b64decode(answer["body_base64"]) == payload
    assert "body" not in answer


def test_signed_in_caller_is_the_principal(node: RunningNode, echo: str) -> None:
    from tests.conftest import signed_up

    client, user_id = signed_up(node)
    answer = client.functions.invoke(echo, {"body": {}, "responseType": "json"})
    assert answer["principal"]["role"] == "authenticated"
    assert answer["principal"]["sub"] == user_id


@pytest.mark.parametrize(
    ("response", "status", "body", "content_type"),
    [
        ({"status": 201, "json": {"ok": True}}, 201, b'{"ok":true}', "application/json"),
        ({"body": "hi"}, 200, b"hi", "text/plain; charset=utf-8"),
        (
            {"status": 200, "body_base64": base64.b64encode(b"\x00\xff").decode()},
            200,
            b"\x00\xff",
            "application/octet-stream",
        ),
        (
            {"status": 202, "headers": {"Content-Type": "text/csv", "X-Answer": "42"}, "body": "a"},
            202,
            b"a",
            "text/csv",
        ),
    ],
)
def test_status_headers_and_body_of_a_command_response(
    node: RunningNode, response: dict, status: int, body: bytes, content_type: str
) -> None:
    name = f"const-{status}-{len(json.dumps(response))}"
    deployed(node, name, command_constant(response))
    answer = invoke(node, name)
    assert answer.status_code == status
    assert answer.content == body
    assert answer.headers["content-type"] == content_type
    if "headers" in response:
        assert answer.headers["x-answer"] == "42"


def test_a_non_2xx_function_response_is_a_functions_http_error(node: RunningNode) -> None:
    deployed(node, "teapot", command_constant({"status": 418, "json": {"error": "short"}}))
    client = create_client(node.url, node.key("anon"))
    with pytest.raises(FunctionsHttpError) as caught:
        client.functions.invoke("teapot", {"body": {}})
    assert caught.value.status == 418
    assert "short" in caught.value.message


def test_unknown_function_is_404_not_found(node: RunningNode) -> None:
    answer = invoke(node, "nobody-here")
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    assert answer.headers.get("x-relay-error") is None


def test_invoke_needs_an_api_key(node: RunningNode, echo: str) -> None:
    answer = httpx.post(f"{node.url}/functions/v1/{echo}", content=b"{}")
    assert answer.status_code == 401


def test_versions_are_addressable_by_version_and_hash_and_roll_back(node: RunningNode) -> None:
    first = deployed(node, "versioned", command_constant({"body": "one"}))
    second = deployed(node, "versioned", command_constant({"body": "two"}), version="2.0")
    assert (first["version"], second["version"]) == ("1", "2.0")
    assert invoke(node, "versioned").text == "two"
    assert invoke(node, "versioned@1").text == "one"
    assert invoke(node, f"versioned@{first['sha256']}").text == "one"
    again = deploy(node, "versioned", command_constant({"body": "other"}), version="2.0")
    assert again.status_code == 409
    assert (
        deploy(node, "versioned", command_constant({"body": "two"}), version="2.0").status_code
        == 200
    )

    manage = f"{node.url}/performer/v1/functions/versioned"
    rolled = httpx.post(manage + "/rollback", json={"version": "1"}, headers=service_headers(node))
    assert rolled.status_code == 200, rolled.text
    assert invoke(node, "versioned").text == "one"
    info = httpx.get(manage, headers=service_headers(node)).json()
    assert info["version"] == "1"
    assert [v["version"] for v in info["versions"]] == ["1", "2.0"]
    assert info["metrics"]["invocations"] >= 4
    assert info["metrics"]["p50_ms"] is not None

    assert httpx.delete(manage, headers=service_headers(node)).status_code == 204
    assert invoke(node, "versioned").status_code == 404
    assert httpx.get(manage, headers=service_headers(node)).status_code == 404


def test_deploy_needs_the_service_role(node: RunningNode) -> None:
    key = node.key("anon")
    answer = httpx.post(
        f"{node.url}/functions/v1/deploy",
        json={"name": "x", "wasm_base64": base64.b64encode(RAW_ECHO).decode()},
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "Bad Name"}, "invalid_function_name"),
        ({"name": "deploy"}, "invalid_function_name"),
        ({"name": "ok", "permissions": ["root"]}, "invalid_permissions"),
        ({"name": "ok", "limits": {"fuel": -1}}, "invalid_limits"),
        ({"name": "ok", "limits": {"wall": 1}}, "invalid_limits"),
        ({"name": "ok", "triggers": ["sometimes"]}, "invalid_triggers"),
        ({"name": "ok", "triggers": ["event:schema.migration"]}, "invalid_triggers"),
        ({"name": "ok", "triggers": ["event:app.x"] * 33}, "invalid_triggers"),
    ],
)
def test_bad_deploy_fields_are_400_with_a_code(node: RunningNode, fields: dict, code: str) -> None:
    answer = deploy(node, wasm=RAW_ECHO, **fields)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code


def test_a_module_that_is_not_wasm_is_refused(node: RunningNode) -> None:
    answer = deploy(node, "junk", b"\0asm\x01\0\0\0garbage")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_module"
    assert deploy(node, "junk", b"hello").json()["code"] == "invalid_module"


def test_deploy_takes_the_raw_module_with_query_fields(node: RunningNode) -> None:
    answer = httpx.post(
        f"{node.url}/functions/v1/deploy",
        params={"name": "rawdeploy", "version": "7", "permissions": "db.read,events.append"},
        content=RAW_ECHO,
        headers={**service_headers(node), "Content-Type": "application/wasm"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["permissions"] == ["db.read", "events.append"]
    listed = httpx.get(f"{node.url}/performer/v1/functions", headers=service_headers(node))
    assert "rawdeploy" in [f["name"] for f in listed.json()["functions"]]
