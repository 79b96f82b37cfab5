"""Messages to bytes and back: one CBOR array per frame, `[type, field, ...]`.

Decoding trusts nothing: the frame size is checked before parsing, every field's type and bound
after, and any failure is a `ProtocolError` naming what was wrong (the session closes with it).
Version vectors travel as maps of origin bytes to sequence numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

import cbor2

from sync.messages import (
    NODE_ID_BYTES,
    NONCE_BYTES,
    SIGNATURE_BYTES,
    Ack,
    Auth,
    Bye,
    Events,
    Hello,
    Message,
    Ping,
    Pong,
    SnapshotChunk,
    SnapshotOffer,
    SnapshotRequest,
    Summary,
    WireEvent,
)
from sync.version_vector import VersionVector

MAX_FRAME: Final = 4 * 1024 * 1024
MAX_TEXT: Final = 1024  # kinds, scopes, reasons, snapshot and document ids
MAX_SEQ: Final = (1 << 63) - 1
MAX_VECTOR: Final = 100_000  # origins in one vector
MAX_BATCH: Final = 10_000  # events in one batch

_TYPES: Final[dict[type, int]] = {
    Hello: 1,
    Auth: 2,
    Summary: 3,
    Events: 4,
    Ack: 5,
    SnapshotOffer: 6,
    SnapshotRequest: 7,
    SnapshotChunk: 8,
    Ping: 9,
    Pong: 10,
    Bye: 11,
}


class ProtocolError(Exception):
    """A frame that is not a valid message. The session ends; the node goes on."""


def encode(message: Message) -> bytes:
    return cbor2.dumps([_TYPES[type(message)], *_fields(message)])


def _fields(message: Message) -> list[Any]:
    match message:
        case Hello():
            return [
                message.version,
                message.node_id,
                message.cluster_id,
                message.nonce,
                message.certificate,
                list(message.features),
            ]
        case Summary():
            return [message.vector.to_wire(), message.horizon.to_wire(), dict(message.docs)]
        case Events():
            return [message.batch, [_event_fields(e) for e in message.events]]
        case Ack():
            return [message.batch, message.vector.to_wire()]
        case SnapshotOffer():
            vector = message.vector.to_wire()
            return [message.snapshot, vector, message.size, message.digest]
        case Auth():
            return [message.signature]
        case SnapshotRequest():
            return [message.snapshot, message.offset]
        case SnapshotChunk():
            return [message.snapshot, message.offset, message.data]
        case Ping() | Pong():
            return [message.sent]
        case Bye():
            return [message.reason]


def _event_fields(event: WireEvent) -> list[Any]:
    return [event.origin, event.seq, event.hlc, event.kind, event.scope, event.payload, event.sig]


def decode(frame: bytes) -> Message:
    if len(frame) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(frame)} bytes is over the limit of {MAX_FRAME}")
    try:
        value = cbor2.loads(frame)
    except Exception as exc:  # cbor2 raises several types, and RecursionError on deep nesting
        raise ProtocolError(f"frame is not CBOR: {type(exc).__name__}") from exc
    if not isinstance(value, list) or not value or type(value[0]) is not int:
        raise ProtocolError("frame is not a message: expected [type, fields...]")
    parse = _PARSERS.get(value[0])
    if parse is None:
        raise ProtocolError(f"unknown message type {value[0]}")
    fields = value[1:]
    try:
        return parse(fields)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise ProtocolError(f"bad {_NAMES[value[0]]} message: {exc}") from exc


# -- field checks: each raises ValueError/TypeError with what is wrong ---------------------------


def _count(fields: list[Any], n: int) -> list[Any]:
    if len(fields) != n:
        raise ValueError(f"expected {n} fields, got {len(fields)}")
    return fields


def _int(value: Any, what: str, low: int = 0, high: int = MAX_SEQ) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{what} must be an integer in [{low}, {high}]")
    return value


def _bytes(value: Any, what: str, size: int | None = None, most: int = MAX_FRAME) -> bytes:
    if type(value) is not bytes or (size is not None and len(value) != size) or len(value) > most:
        expected = f"{size} bytes" if size is not None else f"at most {most} bytes"
        raise ValueError(f"{what} must be {expected}")
    return value


def _text(value: Any, what: str, most: int = MAX_TEXT) -> str:
    if type(value) is not str or len(value) > most:
        raise ValueError(f"{what} must be text of at most {most} characters")
    return value


def _vector(value: Any, what: str) -> VersionVector:
    if not isinstance(value, dict) or len(value) > MAX_VECTOR:
        raise ValueError(f"{what} must be a map of at most {MAX_VECTOR} origins")
    return VersionVector(
        {
            _bytes(o, f"{what} origin", NODE_ID_BYTES): _int(s, f"{what} sequence")
            for o, s in value.items()
        }
    )


def _time(value: Any) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError("time must be a finite number")
    return float(value)


def _hello(f: list[Any]) -> Hello:
    version, node_id, cluster, nonce, certificate, features = _count(f, 6)
    if not isinstance(features, list) or len(features) > 64:
        raise ValueError("features must be a list of at most 64 names")
    return Hello(
        _int(version, "version", 1, 1 << 16),
        _bytes(node_id, "node id", NODE_ID_BYTES),
        _bytes(cluster, "cluster id", most=64),
        _bytes(nonce, "nonce", NONCE_BYTES),
        _bytes(certificate, "certificate", most=4096),
        tuple(_text(x, "feature", 64) for x in features),
    )


def _summary(f: list[Any]) -> Summary:
    vector, horizon, docs = _count(f, 3)
    if not isinstance(docs, dict) or len(docs) > MAX_VECTOR:
        raise ValueError(f"docs must be a map of at most {MAX_VECTOR} entries")
    digests = {
        _text(d, "document id"): _bytes(h, "document digest", most=64) for d, h in docs.items()
    }
    return Summary(_vector(vector, "vector"), _vector(horizon, "horizon"), digests)


def _event(value: Any) -> WireEvent:
    if not isinstance(value, list):
        raise ValueError("an event must be a list")
    origin, seq, hlc, kind, scope, payload, sig = _count(value, 7)
    return WireEvent(
        _bytes(origin, "event origin", NODE_ID_BYTES),
        _int(seq, "event sequence", 1),
        _int(hlc, "event time", 0, (1 << 64) - 1),
        _text(kind, "event kind", 128),
        _text(scope, "event scope"),
        _bytes(payload, "event payload"),
        _bytes(sig, "event signature", SIGNATURE_BYTES),
    )


def _events(f: list[Any]) -> Events:
    batch, events = _count(f, 2)
    if not isinstance(events, list) or len(events) > MAX_BATCH:
        raise ValueError(f"events must be a list of at most {MAX_BATCH}")
    return Events(_int(batch, "batch"), tuple(_event(e) for e in events))


_PARSERS: Final[dict[int, Callable[[list[Any]], Message]]] = {
    1: _hello,
    2: lambda f: Auth(_bytes(_count(f, 1)[0], "signature", SIGNATURE_BYTES)),
    3: _summary,
    4: _events,
    5: lambda f: Ack(_int(_count(f, 2)[0], "batch"), _vector(f[1], "vector")),
    6: lambda f: SnapshotOffer(
        _text(_count(f, 4)[0], "snapshot id"),
        _vector(f[1], "snapshot vector"),
        _int(f[2], "snapshot size"),
        _bytes(f[3], "snapshot digest", 32),
    ),
    7: lambda f: SnapshotRequest(_text(_count(f, 2)[0], "snapshot id"), _int(f[1], "offset")),
    8: lambda f: SnapshotChunk(
        _text(_count(f, 3)[0], "snapshot id"), _int(f[1], "offset"), _bytes(f[2], "chunk")
    ),
    9: lambda f: Ping(_time(_count(f, 1)[0])),
    10: lambda f: Pong(_time(_count(f, 1)[0])),
    11: lambda f: Bye(_text(_count(f, 1)[0], "reason")),
}
_NAMES: Final = {code: cls.__name__ for cls, code in _TYPES.items()}
