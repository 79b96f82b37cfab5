"""The y-websocket wire protocol, sans-IO: one binary WebSocket message per frame.

lib0 encoding (sync-anchors.md §1.1): `varUint` is 7 bits per byte, least significant group
first; a byte array is its varUint length then the bytes. Frames (§1.2): outer varUint type,
then 0 sync (varUint sub: 0 step 1 with a state vector, 1 step 2 and 2 update with an update),
1 awareness (a byte array holding `n` x [client id, clock, JSON state]), 2 auth (0 permission
denied + reason), 3 query awareness (empty). Imports nothing from the node; pycrdt is not
needed to frame or unframe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

MAX_VAR_UINT_BYTES = 8  # lib0 varUints carry up to 53 bits


class FrameType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


class SyncStep(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class YjsFrameError(ValueError):
    """Bytes that are not a y-websocket frame."""


@dataclass(frozen=True)
class SyncFrame:
    step: SyncStep
    payload: bytes  # a state vector (step 1) or an update (step 2, update)


@dataclass(frozen=True)
class AwarenessFrame:
    update: bytes  # the awareness update, still encoded (relayed as is)


@dataclass(frozen=True)
class QueryAwarenessFrame:
    pass


@dataclass(frozen=True)
class AwarenessState:
    client_id: int
    clock: int
    state: Any  # None: the client left


Frame = SyncFrame | AwarenessFrame | QueryAwarenessFrame


def write_var_uint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def read_var_uint(data: bytes, offset: int) -> tuple[int, int]:
    """The varUint at `offset` and the offset after it."""
    value = shift = 0
    for index in range(MAX_VAR_UINT_BYTES):
        if offset + index >= len(data):
            raise YjsFrameError("truncated varUint")
        byte = data[offset + index]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset + index + 1
        shift += 7
    raise YjsFrameError("varUint longer than 53 bits")


def read_bytes(data: bytes, offset: int) -> tuple[bytes, int]:
    length, offset = read_var_uint(data, offset)
    end = offset + length
    if end > len(data):
        raise YjsFrameError("byte array longer than the frame")
    return data[offset:end], end


def write_bytes(value: bytes) -> bytes:
    return write_var_uint(len(value)) + value


def decode_frame(data: bytes) -> Frame | None:
    """A client frame; None for kinds a server ignores (auth from a client)."""
    kind, offset = read_var_uint(data, 0)
    if kind == FrameType.SYNC:
        step, offset = read_var_uint(data, offset)
        if step not in tuple(SyncStep):
            raise YjsFrameError(f"unknown sync step {step}")
        payload, _ = read_bytes(data, offset)
        return SyncFrame(SyncStep(step), payload)
    if kind == FrameType.AWARENESS:
        update, _ = read_bytes(data, offset)
        decode_awareness(update)  # reject malformed updates before relaying them
        return AwarenessFrame(update)
    if kind == FrameType.QUERY_AWARENESS:
        return QueryAwarenessFrame()
    if kind == FrameType.AUTH:
        return None
    raise YjsFrameError(f"unknown frame type {kind}")


def sync_frame(step: SyncStep, payload: bytes) -> bytes:
    return write_var_uint(FrameType.SYNC) + write_var_uint(step) + write_bytes(payload)


def awareness_frame(update: bytes) -> bytes:
    return write_var_uint(FrameType.AWARENESS) + write_bytes(update)


def permission_denied_frame(reason: str) -> bytes:
    return write_var_uint(FrameType.AUTH) + write_var_uint(0) + write_bytes(reason.encode())


def decode_awareness(update: bytes) -> list[AwarenessState]:
    count, offset = read_var_uint(update, 0)
    states: list[AwarenessState] = []
    for _ in range(count):
        client_id, offset = read_var_uint(update, offset)
        clock, offset = read_var_uint(update, offset)
        text, offset = read_bytes(update, offset)
        try:
            state = json.loads(text.decode()) if text else None
        except (UnicodeDecodeError, ValueError) as exc:
            raise YjsFrameError("awareness state is not JSON") from exc
        states.append(AwarenessState(client_id, clock, state))
    return states


def encode_awareness(states: list[AwarenessState]) -> bytes:
    out = bytearray(write_var_uint(len(states)))
    for entry in states:
        out += write_var_uint(entry.client_id) + write_var_uint(entry.clock)
        text = json.dumps(entry.state, separators=(",", ":")) if entry.state is not None else "null"
        out += write_bytes(text.encode())
    return bytes(out)
