"""The streams API against a real node: appends, snapshot at k plus the events after it equal
the whole fold, paging, the snapshot policy, policies, Yjs documents and broadcast rooms as
streams, and the errors bad input gets."""

from __future__ import annotations

import base64
import random
import uuid
from typing import Any

import aiohttp
import pytest
from conftest import RunningNode
from pycrdt import Doc, Text

from tests.realtime_api.ypy_client import PyYClient

from .conftest import (
    EVERY,
    Api,
    fresh_scope,
    service_headers,
    user_headers,
    user_token,
    wait_until,
)

pytestmark = pytest.mark.network


def reference_fold(ops: list[dict[str, Any]]) -> Any:
    """The documented reducer, written again from the README: set, merge (RFC 7396), append."""

    def merge(target: Any, patch: Any) -> Any:
        if not isinstance(patch, dict):
            return patch
        out = dict(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(out.get(key), value)
        return out

    def at(state: Any, path: list[str], op: str, value: Any) -> Any:
        if path:
            node = dict(state) if isinstance(state, dict) else {}
            node[path[0]] = at(node.get(path[0]), path[1:], op, value)
            return node
        if op == "set":
            return value
        if op == "merge":
            return merge(state, value)
        return [*(state if isinstance(state, list) else []), value]

    state: Any = None
    for item in ops:
        state = at(state, item.get("path", []), item.get("op", "merge"), item["value"])
    return state


def random_ops(rng: random.Random, count: int) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    for n in range(count):
        key = rng.choice(["a", "b", "c"])
        kind = rng.choice(["set", "merge", "merge", "append", None])
        if kind == "set":
            ops.append({"op": "set", "path": [key], "value": {"n": n}})
        elif kind == "append":
            ops.append({"op": "append", "path": ["log"], "value": n})
        elif kind == "merge":
            ops.append({"op": "merge", "value": {key: {"n": n, "gone": None}, "last": n}})
        else:  # op left out: merge
            ops.append({"value": {key: None} if n % 5 == 0 else {"tick": n}})
    return ops


async def test_snapshot_at_k_plus_events_after_equals_the_whole_fold(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    api = Api(http, node.url, service_headers(node))
    scope = fresh_scope()
    ops = random_ops(random.Random(7), 37)
    for start in range(0, len(ops), 8):
        appended = await api.append(scope, ops[start : start + 8])
        assert [e["version"] for e in appended["events"]] == list(
            range(start + 1, min(start + 8, len(ops)) + 1)
        )
    made = await api.call("POST", f"{scope}/snapshots", {"at": 13})
    assert made[0] == 201 and made[1]["version"] == 13
    whole = reference_fold(ops)
    for k in (0, 5, 13, 14, 29, 36, 37):
        got = await api.get(f"{scope}/snapshot", at=k, limit=4)
        assert got["version"] == k and got["head"] == len(ops)
        assert got["state"] == reference_fold(ops[:k])
        events = got["events"]
        cursor = got["next"]
        while cursor is not None:  # page on with events?from=next
            page = await api.get(f"{scope}/events", **{"from": cursor, "limit": 4})
            events += page["events"]
            cursor = page["next"]
        assert [e["version"] for e in events] == list(range(k + 1, len(ops) + 1))
        assert reference_fold(ops[:k] + [e["data"] for e in events]) == whole
    # Without `at`: the newest stored snapshot (the policy made 10, 20, 30; two are kept).
    latest = await api.get(f"{scope}/snapshot")
    assert latest["version"] == 30 and latest["state"] == reference_fold(ops[:30])
    assert [e["version"] for e in latest["events"]] == list(range(31, 38))
    info = await api.get(scope)
    assert info["head"] == 37 and info["reducer"] == "json"


async def test_the_policy_snapshots_every_n_events_and_keeps_the_newest(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    api = Api(http, node.url, service_headers(node))
    scope = fresh_scope("app")

    async def versions() -> list[int]:
        return [s["version"] for s in (await api.get(scope))["snapshots"]]

    for n in range(EVERY * 2 + 3):  # one event per request: the policy sees each commit
        await api.append(scope, {"op": "append", "value": n})

    async def two_kept() -> bool:
        return await versions() == [EVERY, EVERY * 2]

    await wait_until(two_kept)
    await api.append(scope, [{"op": "append", "value": n} for n in range(EVERY)])

    async def moved_on() -> bool:
        return await versions() == [EVERY * 2, EVERY * 3]

    await wait_until(moved_on)
    snapshots = (await api.get(scope))["snapshots"]
    assert {s["reason"] for s in snapshots} == {"policy"}
    got = await api.get(f"{scope}/snapshot")
    assert got["version"] == EVERY * 3 and len(got["state"]) == EVERY * 3


async def test_expect_appends_only_at_the_expected_version(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    api = Api(http, node.url, service_headers(node))
    scope = fresh_scope()
    await api.append(scope, {"value": {"x": 1}}, expect=0)
    status, body = await api.call("POST", f"{scope}/events", {"value": {"x": 2}}, expect=0)
    assert status == 409 and body["code"] == "version_conflict" and body["details"]["head"] == 1
    await api.append(scope, {"value": {"x": 3}}, expect=1)
    assert (await api.get(f"{scope}/snapshot", at=2))["state"] == {"x": 3}


async def test_policies_decide_who_reads_and_appends(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    user = str(uuid.uuid4())
    mine = Api(http, node.url, user_headers(node, user_token(user)))
    own, other = f"actor:{user}", f"actor:{uuid.uuid4()}"
    appended = await mine.append(own, {"op": "set", "value": {"name": "ann"}})
    assert appended["head"] == 1
    assert (await mine.get(f"{own}/snapshot", at=1))["state"] == {"name": "ann"}
    for method, path, body in (
        ("GET", f"{other}/snapshot", None),
        ("GET", f"{other}/events", None),
        ("POST", f"{other}/events", {"value": 1}),
        ("POST", "app:board/events", {"value": 1}),
        ("GET", f"realtime:lobby-{user[:6]}/snapshot", None),
    ):
        status, answer = await mine.call(method, path, body)
        assert status == 403 and answer["code"] == "stream_forbidden", (path, answer)
    # The shared board: readable by users, written by service_role only.
    await Api(http, node.url, service_headers(node)).append("app:board", {"value": {"a": 1}})
    assert (await mine.get("app:board/snapshot", at=1))["state"] == {"a": 1}
    anon = Api(http, node.url, {"apikey": node.key("anon")})
    status, answer = await anon.call("GET", f"{own}/snapshot")
    assert status == 403 and answer["code"] == "stream_forbidden"
    nobody = Api(http, node.url, {})
    status, answer = await nobody.call("GET", f"{own}/snapshot")
    assert status == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "query", "status", "code"),
    [
        ("GET", "nope:1/snapshot", None, {}, 404, "unknown_stream"),
        ("GET", "actor:/snapshot", None, {}, 404, "unknown_stream"),
        ("GET", f"actor:{'x' * 1100}/events", None, {}, 400, "invalid_scope"),
        ("GET", "SCOPE/snapshot", None, {"at": 99}, 400, "version_beyond_head"),
        ("GET", "SCOPE/snapshot", None, {"at": -1}, 400, "invalid_version"),
        ("GET", "SCOPE/events", None, {"from": "x"}, 400, "invalid_version"),
        ("GET", "SCOPE/events", None, {"from": 3}, 400, "version_beyond_head"),
        ("GET", "SCOPE/events", None, {"limit": 0}, 400, "invalid_limit"),
        ("POST", "SCOPE/events", b"{not json", {}, 400, "invalid_json"),
        ("POST", "SCOPE/events", b"", {}, 400, "invalid_json"),
        ("POST", "SCOPE/events", [], {}, 400, "invalid_event"),
        ("POST", "SCOPE/events", {"op": "push", "value": 1}, {}, 400, "invalid_event"),
        ("POST", "SCOPE/events", {"op": "set"}, {}, 400, "invalid_event"),
        ("POST", "SCOPE/events", {"value": 1, "path": [1]}, {}, 400, "invalid_event"),
        ("POST", "SCOPE/events", {"value": 1, "extra": 2}, {}, 400, "invalid_event"),
        ("POST", "SCOPE/events", {"value": 1, "type": "Bad Kind"}, {}, 400, "invalid_event_kind"),
        ("POST", "SCOPE/events", {"value": 1, "type": 5}, {}, 400, "invalid_event"),
        ("POST", "SCOPE/events", {"value": "x" * 300_000}, {}, 413, "event_too_large"),
        ("POST", "SCOPE/events", {"value": 1}, {"expect": -2}, 400, "invalid_version"),
        ("POST", "ydoc:doc-x/events", {"value": 1}, {}, 400, "stream_not_writable"),
        ("POST", "realtime:room-x/events", {"value": 1}, {}, 400, "stream_not_writable"),
        ("POST", "SCOPE/snapshots", {"at": 5}, {}, 400, "version_beyond_head"),
        ("POST", "SCOPE/snapshots", {"at": "1"}, {}, 400, "invalid_version"),
        ("GET", "SCOPE/subscribe", None, {"from": 7}, 400, "version_beyond_head"),
    ],
)
async def test_bad_input_gets_a_clear_error(
    node: RunningNode,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any,
    query: dict[str, Any],
    status: int,
    code: str,
) -> None:
    api = Api(http, node.url, service_headers(node))
    scope = fresh_scope()
    await api.append(scope, [{"value": {"n": 1}}, {"value": {"n": 2}}])
    raw = body if isinstance(body, bytes) else None
    got_status, got = await api.call(
        method, path.replace("SCOPE", scope), None if raw is not None else body, raw=raw, **query
    )
    assert (got_status, got["code"]) == (status, code), got
    assert got["message"]


async def test_a_yjs_document_is_a_stream_of_its_updates(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    name = f"doc-{uuid.uuid4().hex[:8]}"
    token = user_token()
    client = await PyYClient.open(
        http,
        node.url.replace("http", "ws") + f"/realtime/v1/yjs/{name}",
        apikey=node.key("anon"),
        token=token,
    )
    for word in ("one ", "two ", "three"):
        await client.type(word)
        await client.flush()
    api = Api(http, node.url, user_headers(node, token))
    scope = f"ydoc:{name}"

    async def all_logged() -> bool:
        return (await api.get(scope))["head"] >= len("one two three")  # an update per key

    await wait_until(all_logged)
    head = (await api.get(scope))["head"]
    got = await api.get(f"{scope}/snapshot", at=head)
    doc: Doc[Any] = Doc()
    doc["t"] = text = Text()
    doc.apply_update(base64.b64decode(got["state"]["update"]))
    assert str(text) == str(client.text) == "one two three"
    # From an earlier version plus the updates after it: the same document.
    early = await api.get(f"{scope}/snapshot", at=1)
    rebuilt: Doc[Any] = Doc()
    rebuilt["t"] = rebuilt_text = Text()
    rebuilt.apply_update(base64.b64decode(early["state"]["update"]))
    for event in early["events"]:
        rebuilt.apply_update(base64.b64decode(event["data"]["update"]))
    assert str(rebuilt_text) == "one two three"
    await client.close()


async def test_a_broadcast_room_is_a_stream_of_its_messages(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    room = f"room-{uuid.uuid4().hex[:8]}"
    url = f"{node.url}/realtime/v1/api/broadcast"
    messages = [{"topic": room, "event": "chat", "payload": {"text": f"hi {n}"}} for n in range(3)]
    async with http.post(
        url, json={"messages": messages}, headers={"apikey": node.key("anon")}
    ) as sent:
        assert sent.status == 202
    api = Api(http, node.url, user_headers(node, user_token()))
    got = await api.get(f"realtime:{room}/snapshot", at=3)
    assert got["state"]["count"] == 3
    assert [m["payload"]["text"] for m in got["state"]["messages"]] == ["hi 0", "hi 1", "hi 2"]
    assert [m["version"] for m in got["state"]["messages"]] == [1, 2, 3]
    page = await api.get(f"realtime:{room}/events", **{"from": 1})
    assert [e["data"]["event"] for e in page["events"]] == ["chat", "chat"]
