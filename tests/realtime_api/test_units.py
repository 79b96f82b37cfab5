"""The sans-IO parts without sockets: the Phoenix codec (both versions, binary frames), binding
filters, presence diffs, and a session's bounded outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from performer_edge.core.events import Event
from performer_edge.errors import InvalidInput
from performer_edge.realtime.bindings import parse_binding, parse_filter
from performer_edge.realtime.channels import SLOW_CLIENT, Session
from performer_edge.realtime.phoenix import (
    FrameError,
    Message,
    UserBroadcast,
    Vsn,
    decode_binary,
    decode_text,
    encode,
    encode_broadcast_binary,
    parse_vsn,
)
from performer_edge.realtime.presence import TopicPresence
from performer_edge.realtime.recent import RecentChanges
from performer_edge.rest.row_format import RowOp
from performer_edge.rest.row_merge import RowChange

short_text = st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | short_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=4),
    max_leaves=10,
)


def push_frame(
    join_ref: str, ref: str, topic: str, event: str, meta: bytes, body: bytes, encoding: int = 1
) -> bytes:
    parts = [p.encode() for p in (join_ref, ref, topic, event)]
    header = bytes([3, *(len(p) for p in parts), len(meta), encoding])
    return header + b"".join(parts) + meta + body


@given(
    st.text(min_size=1, max_size=60),
    st.text(min_size=1, max_size=60),
    st.dictionaries(short_text, json_values, max_size=5),
)
def test_binary_push_round_trips(topic: str, event: str, payload: dict[str, object]) -> None:
    if len(topic.encode()) > 255 or len(event.encode()) > 255:
        return
    frame = push_frame("1", "2", topic, event, b"", json.dumps(payload).encode())
    message = decode_binary(frame)
    assert (message.topic, message.event, message.ref, message.join_ref) == (
        topic,
        "broadcast",
        "2",
        "1",
    )
    assert message.payload == {"type": "broadcast", "event": event, "payload": payload}
    out = encode_broadcast_binary(UserBroadcast(topic, event, payload))
    assert out[0] == 4 and out[1] == len(topic.encode()) and out[4] == 1


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_decoder(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        decode_binary(data)


@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_decoder(text: str) -> None:
    for vsn in Vsn:
        with contextlib.suppress(FrameError):
            decode_text(vsn, text)


def test_raw_binary_payloads_and_meta() -> None:
    frame = push_frame("", "5", "realtime:r", "blob", b'{"persist":true}', b"\x00\xff", encoding=0)
    message = decode_binary(frame)
    assert message.payload["binary"] == b"\x00\xff"
    assert message.payload["meta"] == {"persist": True}
    assert message.join_ref is None
    with pytest.raises(FrameError):
        decode_binary(push_frame("1", "2", "t", "e", b"", b"x", encoding=7))
    with pytest.raises(FrameError):
        decode_binary(bytes([3, 9, 9, 9, 9, 0, 1]) + b"short")


def test_text_frames_of_each_version() -> None:
    v2 = decode_text(Vsn.V2, '["1","2","realtime:a","phx_join",{"config":{}}]')
    assert (v2.join_ref, v2.ref, v2.topic, v2.event) == ("1", "2", "realtime:a", "phx_join")
    v1 = decode_text(Vsn.V1, '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":3}')
    assert v1.ref == "3" and v1.join_ref is None
    for bad in ('{"topic":1,"event":"x"}', "[1,2]", '{"topic":"t","event":"e","payload":[]}'):
        with pytest.raises(FrameError):
            decode_text(Vsn.V1 if bad.startswith("{") else Vsn.V2, bad)
    message = Message("t", "phx_reply", {"status": "ok"}, None, "1")
    assert json.loads(encode(Vsn.V1, message)) == {
        "topic": "t",
        "event": "phx_reply",
        "payload": {"status": "ok"},
        "ref": None,
        "join_ref": "1",
    }
    assert json.loads(encode(Vsn.V2, message)) == ["1", None, "t", "phx_reply", {"status": "ok"}]
    assert parse_vsn(None) is Vsn.V1 and parse_vsn("2.0.0") is Vsn.V2
    with pytest.raises(FrameError):
        parse_vsn("3.0.0")


TYPES = {"id": "int8", "name": "text", "done": "bool", "score": "float8"}


@pytest.mark.parametrize(
    ("text", "record", "holds"),
    [
        ("id=eq.5", {"id": 5}, True),
        ("id=eq.5", {"id": 50}, False),
        ("id=neq.5", {"id": None}, False),  # NULL matches nothing, as in SQL
        ("id=gt.5", {"id": 10}, True),  # typed: 10 > 5 although "10" < "5"
        ("score=lte.1.5", {"score": 1.5}, True),
        ("done=eq.true", {"done": True}, True),
        ('name=in.(a,"b,c")', {"name": "b,c"}, True),
        ('name=in.(a,"b,c")', {"name": "b"}, False),
        ("id=gte.1,name=eq.x", {"id": 2, "name": "x"}, True),
        ("id=gte.1,name=eq.x", {"id": 2, "name": "y"}, False),
        ('name=eq."quoted \\" value"', {"name": 'quoted " value'}, True),
    ],
)
def test_filters(text: str, record: dict[str, object], holds: bool) -> None:
    assert all(c.holds(record) for c in parse_filter(text, TYPES)) is holds


@pytest.mark.parametrize(
    "text",
    ["id=like.5", "id", "nope=eq.1", "id=eq.x", "done=eq.maybe", "name=in.a", 'name=eq."open'],
)
def test_bad_filters_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_filter(text, TYPES)


def test_bindings_match_event_schema_and_table() -> None:
    binding = parse_binding(
        {"event": "UPDATE", "schema": "public", "table": "t"}, lambda s, t: TYPES
    )
    assert binding.matches("public", "t", "UPDATE", {})
    assert not binding.matches("public", "t", "INSERT", {})
    assert not binding.matches("public", "u", "UPDATE", {})
    every = parse_binding({"event": "*", "schema": "public"}, lambda s, t: None)
    assert every.matches("public", "anything", "DELETE", {})
    assert binding.id == parse_binding(dict(binding.raw), lambda s, t: TYPES).id
    with pytest.raises(InvalidInput):
        parse_binding({"event": "TRUNCATE", "schema": "public"}, lambda s, t: None)


def test_presence_track_update_untrack() -> None:
    presence = TopicPresence()
    first = presence.track("s1", "alice", {"status": "on"})
    assert first["leaves"] == {} and first["joins"]["alice"]["metas"][0]["status"] == "on"
    old_ref = first["joins"]["alice"]["metas"][0]["phx_ref"]
    update = presence.track("s1", "alice", {"status": "away"})
    assert update["leaves"]["alice"]["metas"][0]["phx_ref"] == old_ref
    assert update["joins"]["alice"]["metas"][0]["phx_ref_prev"] == old_ref
    presence.track("s2", "alice", {"status": "phone"})
    assert len(presence.state()["alice"]["metas"]) == 2
    assert all("phx_ref" in m for m in presence.state()["alice"]["metas"])
    left = presence.untrack("s1")
    assert left is not None and left["leaves"]["alice"]["metas"][0]["status"] == "away"
    assert presence.untrack("s1") is None
    presence.untrack("s2")
    assert presence.empty() and presence.state() == {}


async def test_a_full_outbox_closes_the_session_instead_of_waiting() -> None:
    session = Session(Vsn.V1, None, outbox_size=2)
    for n in range(5):
        session.send(Message("t", "broadcast", {"n": n}))
    assert session.closed == SLOW_CLIENT
    delivered = []
    while (delivery := await asyncio.wait_for(session.next_delivery(), 1)) is not None:
        delivered.append(delivery.message.payload["n"])
    assert delivered == [0, 1]


def test_recent_changes_put_back_the_newest_effects_only() -> None:
    recent = RecentChanges(capacity=2)

    def event(pos: int, effect: object = None) -> Event:
        return Event(b"o" * 32, pos, 0, "row.update", "t", b"", b"", pos, effect)

    changes = {
        pos: RowChange("t", RowOp.UPDATE, {"id": pos}, {"id": pos, "a": 1}) for pos in (1, 2, 3)
    }
    for pos, change in changes.items():
        recent.remember(event(pos, change))
    recent.remember(event(4))  # no effect: nothing to remember
    assert len(recent) == 2
    assert recent.restore(event(1)).effect is None  # evicted: rebuilt from the log instead
    assert recent.restore(event(3)).effect is changes[3]
    own = RowChange("t", RowOp.DELETE, {"id": 2})
    assert recent.restore(event(2, own)).effect is own  # an event's own effect wins
