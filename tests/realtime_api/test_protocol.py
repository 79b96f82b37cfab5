"""Phoenix frames byte for byte, with a bare client: both protocol versions, binary broadcast
frames, acks, heartbeats, token expiry, private channels, the HTTP broadcast endpoint, replay,
and bad input answered with the client's error shape."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from conftest import RunningNode

from .conftest import user_token
from .phoenix_client import RawSocket

pytestmark = pytest.mark.network


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def name() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


async def test_heartbeat_replies_in_both_versions(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    for vsn in ("1.0.0", "2.0.0"):
        sock = await RawSocket.open(http, node.url, node.key("anon"), vsn)
        ref = await sock.push("phoenix", "heartbeat", {})
        assert await sock.reply_to(ref) == {"status": "ok", "response": {}}
        await sock.ws.close()


async def test_join_reply_echoes_bindings_with_ids(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    sock = await RawSocket.open(http, node.url, node.key("anon"))
    bindings = [
        {"event": "INSERT", "schema": "public", "table": "todos"},
        {"event": "*", "schema": "public", "table": "messages", "filter": "priority=gt.1"},
    ]
    topic = "realtime:" + name()
    reply = await sock.join(topic, {"postgres_changes": bindings})
    assert reply["status"] == "ok"
    echoed = reply["response"]["postgres_changes"]
    assert [{k: v for k, v in b.items() if k != "id"} for b in echoed] == bindings
    assert all(isinstance(b["id"], int) for b in echoed)
    system = await sock.next_event("system")
    assert system["payload"]["status"] == "ok"
    assert system["payload"]["extension"] == "postgres_changes"
    assert "ref" in system and system["ref"] is None  # py drops frames without a ref key


async def test_ack_only_when_asked(node: RunningNode, http: aiohttp.ClientSession) -> None:
    sock = await RawSocket.open(http, node.url, node.key("anon"))
    quiet, acked = "realtime:" + name(), "realtime:" + name()
    await sock.join(quiet, {"broadcast": {"ack": False}})
    await sock.join(acked, {"broadcast": {"ack": True}})
    body = {"type": "broadcast", "event": "e", "payload": {"a": 1}}
    silent = await sock.push(quiet, "broadcast", body)
    loud = await sock.push(acked, "broadcast", body)
    reply = await sock.reply_to(loud)
    assert reply == {"status": "ok", "response": {}}
    # Replies come in order: had the first push been answered, reply_to would have seen it.
    assert int(silent) < int(loud)


async def test_binary_broadcast_frames_reach_both_versions(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    topic = "realtime:" + name()
    js = await RawSocket.open(http, node.url, node.key("anon"), "2.0.0")
    py = await RawSocket.open(http, node.url, node.key("anon"), "1.0.0")
    await js.join(topic, {"broadcast": {"self": True}})
    await py.join(topic, {})
    # kind 3: join_ref "1", ref "9", the topic, event "ev", no meta, JSON payload
    header = [3, 1, 1, len(topic), 2, 0, 1]
    frame = bytes(header) + b"1" + b"9" + topic.encode() + b"ev" + json.dumps({"m": 1}).encode()
    await js.ws.send_bytes(frame)
    got = await js.receive()
    assert isinstance(got, bytes) and got[0] == 4  # kind 4 back to the 2.0.0 client
    topic_len, event_len, meta_len, encoding = got[1:5]
    assert encoding == 1 and meta_len == 0
    body = got[5:]
    assert body[:topic_len].decode() == topic
    assert body[topic_len : topic_len + event_len] == b"ev"
    assert json.loads(body[topic_len + event_len :]) == {"m": 1}
    message = await py.next_event("broadcast")
    assert message["payload"] == {"type": "broadcast", "event": "ev", "payload": {"m": 1}}


async def test_bad_input_gets_error_replies_not_crashes(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    sock = await RawSocket.open(http, node.url, node.key("anon"))
    topic = "realtime:" + name()
    bad_filter = await sock.join(
        topic,
        {
            "postgres_changes": [
                {"event": "*", "schema": "public", "table": "todos", "filter": "id=like.x"}
            ]
        },
    )
    assert bad_filter["status"] == "error" and "like" in bad_filter["response"]["reason"]
    unknown_table = await sock.join(
        topic, {"postgres_changes": [{"event": "*", "schema": "public", "table": "nope"}]}
    )
    assert unknown_table["status"] == "error"
    bad_config = await sock.join(topic, {"private": "yes"})
    assert bad_config["status"] == "error"
    unmatched = await sock.push("realtime:never-joined", "broadcast", {"event": "x"})
    assert (await sock.reply_to(unmatched))["response"] == {"reason": "unmatched topic"}
    await sock.join(topic, {})
    unknown = await sock.push(topic, "no_such_event", {})
    assert (await sock.reply_to(unknown))["status"] == "error"
    # The socket still works after all that.
    ref = await sock.push("phoenix", "heartbeat", {})
    assert (await sock.reply_to(ref))["status"] == "ok"
    # A frame that is not Phoenix at all closes the socket with a reason.
    await sock.ws.send_str("not json")
    closed = await sock.receive()
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1003


async def test_a_bad_api_key_is_refused(node: RunningNode, http: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await RawSocket.open(http, node.url, "not-a-key")
    assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await RawSocket.open(http, node.url, node.key("anon"), vsn="9.9.9")


async def test_an_expired_token_closes_the_channel(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    sock = await RawSocket.open(http, node.url, node.key("anon"))
    topic = "realtime:" + name()
    expired = await sock.join(topic, {}, access_token=user_token(lifetime_s=-10))
    assert expired["status"] == "error"
    assert expired["response"]["reason"].startswith("InvalidJWTToken")

    started = time.monotonic()
    assert (await sock.join(topic, {}, access_token=user_token(lifetime_s=2)))["status"] == "ok"
    system = await sock.next_event("system")
    assert system["payload"]["status"] == "error"
    assert system["payload"]["extension"] == "system"
    assert "expired" in system["payload"]["message"]
    assert (await sock.next_event("phx_close"))["topic"] == topic
    assert time.monotonic() - started >= 1.0

    # A new token keeps a channel open; an expired one pushed later closes it.
    other = "realtime:" + name()
    await sock.join(other, {}, access_token=user_token(lifetime_s=3600))
    ref = await sock.push(other, "access_token", {"access_token": user_token()})
    assert (await sock.reply_to(ref))["status"] == "ok"
    await sock.push(other, "access_token", {"access_token": user_token(lifetime_s=-1)})
    assert (await sock.next_event("system"))["payload"]["status"] == "error"
    assert (await sock.next_event("phx_close"))["topic"] == other


async def test_private_channels_follow_realtime_messages_policies(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    room = "realtime:room-" + name()
    anon = await RawSocket.open(http, node.url, node.key("anon"))
    refused = await anon.join(room, {"private": True})
    assert refused["status"] == "error"
    assert refused["response"]["reason"].startswith("Unauthorized")

    user = await RawSocket.open(http, node.url, node.key("anon"))
    token = user_token()
    assert (
        await user.join(
            room, {"private": True, "broadcast": {"self": True, "ack": True}}, access_token=token
        )
    )["status"] == "ok"
    elsewhere = await user.join("realtime:lobby-" + name(), {"private": True}, access_token=token)
    assert elsewhere["status"] == "error"
    ref = await user.push(room, "broadcast", {"type": "broadcast", "event": "hi", "payload": {}})
    assert (await user.reply_to(ref))["status"] == "ok"
    # A public channel of the same name does not receive private broadcasts.
    public = await RawSocket.open(http, node.url, node.key("anon"))
    await public.join(room, {})
    assert (await user.next_event("broadcast"))["payload"]["event"] == "hi"

    # HTTP broadcast: anon may not write to the private room, a member may.
    url = node.url + "/realtime/v1/api/broadcast"
    message = {
        "topic": room.removeprefix("realtime:"),
        "event": "http",
        "payload": {"n": 1},
        "private": True,
    }
    headers = {"apikey": node.key("anon")}
    async with http.post(url, json={"messages": [message]}, headers=headers) as denied:
        assert denied.status == 403
    headers["Authorization"] = f"Bearer {token}"
    async with http.post(url, json={"messages": [message]}, headers=headers) as accepted:
        assert accepted.status == 202
    got = await user.next_event("broadcast")
    assert got["payload"] == {"type": "broadcast", "event": "http", "payload": {"n": 1}}
    async with http.post(url, json={"messages": "nope"}, headers=headers) as bad:
        assert bad.status == 400


async def test_replay_on_join_sends_what_was_logged(
    node: RunningNode, http: aiohttp.ClientSession
) -> None:
    room = "room-" + name()
    token = user_token()
    since = int(time.time() * 1000) - 1000
    headers = {"apikey": node.key("anon"), "Authorization": f"Bearer {token}"}
    for n in range(3):
        url = f"{node.url}/realtime/v1/api/broadcast/{room}/events/past?private=true"
        async with http.post(url, json={"n": n}, headers=headers) as sent:
            assert sent.status == 202
    sock = await RawSocket.open(http, node.url, node.key("anon"))
    config: dict[str, Any] = {
        "private": True,
        "broadcast": {"replay": {"since": since, "limit": 2}},
    }
    assert (await sock.join("realtime:" + room, config, access_token=token))["status"] == "ok"
    replayed = [(await sock.next_event("broadcast"))["payload"] for _ in range(2)]
    assert [r["payload"]["n"] for r in replayed] == [0, 1]
    assert all(r["meta"]["replayed"] is True and r["meta"]["id"] for r in replayed)
    public = await sock.join("realtime:" + name(), {"broadcast": {"replay": {"since": since}}})
    assert public["status"] == "error"  # replay is for private channels, as in Supabase
