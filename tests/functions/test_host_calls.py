"""Host calls through `edge.call`: the Database as the caller under its policies, service role
only when granted, events appended under `app.`. The guest relays `edge.call`'s code as its
status (200, or 400 + |code|) and the pending result as its JSON body."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningNode, signed_up
from tests.functions.conftest import deployed, invoke, service_headers
from tests.functions.guests import host_call

pytestmark = pytest.mark.network


def as_user(node: RunningNode, name: str) -> httpx.Response:
    client, _ = signed_up(node)
    token = client.auth.get_session().access_token
    return httpx.post(
        f"{node.url}/functions/v1/{name}",
        headers={"apikey": node.key("anon"), "Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_an_insert_the_callers_policies_forbid_fails(node: RunningNode) -> None:
    row = {"body": "x", "user_id": "00000000-0000-0000-0000-000000000002"}
    deployed(
        node,
        "anon-writer",
        host_call("db.insert", {"table": "notes", "rows": row}),
        permissions=["db.write"],
    )
    answer = invoke(node, "anon-writer")  # anon: the policy is for authenticated users only
    assert answer.status_code == 403  # edge.call answered -3 (failed)
    error = answer.json()["error"]
    assert error["code"] == "42501"
    assert "row-level security" in error["message"]


def test_an_insert_as_a_signed_in_caller_is_theirs(node: RunningNode) -> None:
    deployed(
        node,
        "user-writer",
        host_call("db.insert", {"table": "notes", "rows": {"body": "mine"}}),
        permissions=["db.write"],
    )
    client, user_id = signed_up(node)
    token = client.auth.get_session().access_token
    answer = httpx.post(
        f"{node.url}/functions/v1/user-writer",
        headers={"apikey": node.key("anon"), "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["data"]
    assert (row["body"], row["user_id"]) == ("mine", user_id)
    # The caller reads it back through the Database API: it is a row event like any other.
    assert [n["body"] for n in client.table("notes").select("*").execute().data] == ["mine"]


def test_a_select_sees_only_what_the_caller_may_see(node: RunningNode) -> None:
    deployed(
        node,
        "reader",
        host_call("db.select", {"table": "notes", "query": "select=body"}),
        permissions=["db.read"],
    )
    assert invoke(node, "reader").json() == {"data": []}  # anon sees no notes
    assert as_user(node, "reader").json() == {"data": []}  # a new user has none of their own


def test_the_service_role_permission_bypasses_policies(node: RunningNode) -> None:
    deployed(
        node,
        "admin-writer",
        host_call(
            "db.insert",
            {
                "table": "notes",
                "rows": {"body": "sys", "user_id": "00000000-0000-0000-0000-000000000001"},
            },
        ),
        permissions=["db.write", "db.service_role"],
    )
    answer = invoke(node, "admin-writer")
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"][0]["body"] == "sys"


def test_a_bad_request_to_the_host_is_minus_two(node: RunningNode) -> None:
    deployed(
        node, "tableless", host_call("db.select", {"query": "select=*"}), permissions=["db.read"]
    )
    answer = invoke(node, "tableless")
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "bad_request"


def test_an_unknown_operation_is_denied(node: RunningNode) -> None:
    deployed(node, "shell", host_call("os.exec", {"cmd": "ls"}), permissions=["db.read"])
    answer = invoke(node, "shell")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unknown_operation"


def test_events_append_under_app_only(node: RunningNode) -> None:
    deployed(
        node,
        "emitter",
        host_call("events.append", {"kind": "app.fn_ran", "scope": "t", "data": {"n": 1}}),
        permissions=["events.append"],
    )
    answer = invoke(node, "emitter")
    assert answer.status_code == 200, answer.text
    pos = answer.json()["pos"]
    events = httpx.get(
        f"{node.url}/performer/v1/events",
        params={"after": pos - 1, "limit": 1},
        headers=service_headers(node),
    ).json()["events"]
    assert events[0]["kind"] == "app.fn_ran"
    assert events[0]["payload"] == {"n": 1}

    deployed(
        node,
        "forger",
        host_call("events.append", {"kind": "auth.user_created"}),
        permissions=["events.append"],
    )
    assert invoke(node, "forger").json()["error"]["code"] == "bad_request"
