"""The Phoenix channel wire format, sans-IO: frames in and out of `Message`s.

Two protocol versions share one socket endpoint (supabase-wire.md §4): vsn 1.0.0 speaks JSON
objects `{"topic","event","payload","ref","join_ref"}` (the Python client); vsn 2.0.0 speaks JSON
arrays `[join_ref, ref, topic, event, payload]` plus binary user-broadcast frames (supabase-js):
kind 3 client→server pushes and kind 4 server→client broadcasts. Imports nothing from the node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

PUSH_FRAME = 3  # client → server user broadcast
BROADCAST_FRAME = 4  # server → client user broadcast
BINARY_ENCODING = 0
JSON_ENCODING = 1
MAX_FIELD = 255  # every length in a binary header is one byte


class Vsn(StrEnum):
    V1 = "1.0.0"
    V2 = "2.0.0"


class FrameError(ValueError):
    """A frame that is not Phoenix: the socket answers it with a close, never a crash."""


@dataclass(frozen=True)
class Message:
    """One Phoenix message, either way. A client's `payload` is always a JSON object (a binary
    push carries its raw bytes under `binary`); a server's may hold a `UserBroadcast`, which
    each connection encodes in its own version."""

    topic: str
    event: str
    payload: Any
    ref: str | None = None
    join_ref: str | None = None


@dataclass(frozen=True)
class UserBroadcast:
    """A user broadcast to send: JSON `payload`, or raw bytes (`binary`) from a js client."""

    topic: str
    event: str
    payload: Any = None
    binary: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def as_json_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "broadcast", "event": self.event, "payload": self.payload}
        if self.meta:
            out["meta"] = self.meta
        return out


def parse_vsn(value: str | None) -> Vsn:
    if value in (None, "", Vsn.V1.value):
        return Vsn.V1
    if value == Vsn.V2.value:
        return Vsn.V2
    raise FrameError(f"unsupported protocol version {value!r} (use 1.0.0 or 2.0.0)")


def decode_text(vsn: Vsn, text: str) -> Message:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FrameError(f"frame is not JSON: {exc}") from exc
    if vsn is Vsn.V2:
        if not isinstance(data, list) or len(data) != 5:
            raise FrameError("a 2.0.0 frame is [join_ref, ref, topic, event, payload]")
        join_ref, ref, topic, event, payload = data
    else:
        if not isinstance(data, dict):
            raise FrameError("a 1.0.0 frame is a JSON object")
        join_ref, ref = data.get("join_ref"), data.get("ref")
        topic, event, payload = data.get("topic"), data.get("event"), data.get("payload", {})
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("topic and event must be strings")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise FrameError("payload must be a JSON object")
    return Message(topic, event, payload, _ref(ref), _ref(join_ref))


def decode_binary(data: bytes) -> Message:
    """A kind-3 user broadcast push: header lengths, then join_ref, ref, topic, event, meta."""
    if len(data) < 7 or data[0] != PUSH_FRAME:
        raise FrameError("binary frames must be user broadcast pushes (kind 3)")
    sizes = data[1:6]
    encoding = data[6]
    offset = 7
    fields: list[str] = []
    for size in sizes:
        chunk = data[offset : offset + size]
        if len(chunk) != size:
            raise FrameError("binary frame is shorter than its header says")
        try:
            fields.append(chunk.decode())
        except UnicodeDecodeError as exc:
            raise FrameError("binary frame header is not UTF-8") from exc
        offset += size
    join_ref, ref, topic, event, meta_text = fields
    body = data[offset:]
    try:
        meta = json.loads(meta_text) if meta_text else {}
    except ValueError as exc:
        raise FrameError("binary frame metadata is not JSON") from exc
    payload: dict[str, Any] = {"type": "broadcast", "event": event}
    if isinstance(meta, dict) and meta:
        payload["meta"] = meta
    if encoding == JSON_ENCODING:
        try:
            payload["payload"] = json.loads(body) if body else {}
        except ValueError as exc:
            raise FrameError("binary frame payload is not JSON") from exc
    elif encoding == BINARY_ENCODING:
        payload["binary"] = bytes(body)
    else:
        raise FrameError(f"unknown payload encoding {encoding}")
    return Message(topic, "broadcast", payload, ref or None, join_ref or None)


def encode(vsn: Vsn, message: Message) -> str:
    """A text frame. Python validates every frame, so `ref` is always present (null if none)."""
    if vsn is Vsn.V2:
        frame: Any = [message.join_ref, message.ref, message.topic, message.event, message.payload]
    else:
        frame = {
            "topic": message.topic,
            "event": message.event,
            "payload": message.payload,
            "ref": message.ref,
            "join_ref": message.join_ref,
        }
    return orjson.dumps(frame).decode()


def encode_broadcast_binary(broadcast: UserBroadcast) -> bytes:
    """A kind-4 frame for a 2.0.0 client (supabase-js decodes JSON or raw payloads)."""
    topic = broadcast.topic.encode()
    event = broadcast.event.encode()
    meta = orjson.dumps(broadcast.meta) if broadcast.meta else b""
    if len(topic) > MAX_FIELD or len(event) > MAX_FIELD or len(meta) > MAX_FIELD:
        raise FrameError("topic, event and meta must each fit in 255 bytes")
    if broadcast.binary is not None:
        encoding, body = BINARY_ENCODING, broadcast.binary
    else:
        encoding, body = JSON_ENCODING, orjson.dumps(broadcast.payload)
    header = bytes([BROADCAST_FRAME, len(topic), len(event), len(meta), encoding])
    return header + topic + event + meta + body


def reply(message: Message, status: str, response: Any) -> Message:
    """The `phx_reply` to a client push, carrying its ref and join_ref."""
    return Message(
        message.topic,
        "phx_reply",
        {"status": status, "response": response},
        message.ref,
        message.join_ref,
    )


def _ref(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int):
        return str(value)
    raise FrameError("refs must be strings")
