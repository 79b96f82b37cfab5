"""The SSE transport's wire, sans-IO: sync frames as server-sent events (downstream) and as
length-prefixed uploads (upstream). Pure functions and one incremental parser; no sockets.

Downstream, the first event of every stream names the session (`event: session`, `data: ID`);
each frame follows as `id: ID.N` + `data: base64(frame)`, N counting from 1 within the session,
so `Last-Event-ID: ID.N` asks to resume after frame N. Comment lines keep proxies from timing
the stream out. Upstream, a POST body is frames, each after its length as 4 big-endian bytes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from sync.codec import MAX_FRAME

LENGTH_BYTES: Final = 4
MAX_LINE: Final = (MAX_FRAME + 2) // 3 * 4 + 1024  # a frame in base64, and the field name


class WireError(ValueError):
    """A stream or upload that breaks the SSE transport's format."""


# -- downstream --------------------------------------------------------------------------------


def session_event(session_id: str) -> bytes:
    return f"event: session\ndata: {session_id}\n\n".encode()


def frame_event(session_id: str, number: int, frame: bytes) -> bytes:
    data = base64.b64encode(frame)
    return b"id: %s.%d\ndata: %s\n\n" % (session_id.encode(), number, data)


KEEPALIVE: Final = b": keepalive\n\n"


def parse_event_id(value: str) -> tuple[str, int] | None:
    """`ID.N` -> (ID, N); None when it is not one of ours."""
    session_id, dot, number = value.strip().rpartition(".")
    if not dot or not session_id or not number.isdigit() or len(number) > 18:
        return None
    return session_id, int(number)


@dataclass(frozen=True)
class ServerEvent:
    name: str  # "message" unless the event says otherwise
    event_id: str | None
    data: str


class EventParser:
    """Server-sent events from bytes as they arrive. A line longer than `MAX_LINE` is an error
    (nothing a peer sends legitimately is longer)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._scanned = 0  # bytes of the buffer known to hold no newline
        self._name = "message"
        self._id: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        self._buffer += chunk
        events: list[ServerEvent] = []
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    raise WireError(f"an event line over {MAX_LINE} bytes")
                self._scanned = len(self._buffer)
                return events
            line = self._buffer[:end].rstrip(b"\r").decode("utf-8", errors="replace")
            self._buffer = self._buffer[end + 1 :]
            self._scanned = 0
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> ServerEvent | None:
        if not line:
            if not self._data:
                self._name = "message"
                return None
            event = ServerEvent(self._name, self._id, "\n".join(self._data))
            self._name, self._data = "message", []
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            self._id = value
        return None


def frame_of(event: ServerEvent) -> bytes:
    try:
        return base64.b64decode(event.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireError("an event's data is not base64") from exc


# -- upstream ----------------------------------------------------------------------------------


def pack_frames(frames: list[bytes]) -> bytes:
    return b"".join(len(f).to_bytes(LENGTH_BYTES, "big") + f for f in frames)


def unpack_frames(body: bytes) -> list[bytes]:
    """The frames of an upload; WireError when it is truncated or a frame is too large."""
    frames: list[bytes] = []
    at = 0
    while at < len(body):
        if at + LENGTH_BYTES > len(body):
            raise WireError(f"the upload ends inside a frame length at byte {at}")
        size = int.from_bytes(body[at : at + LENGTH_BYTES], "big")
        at += LENGTH_BYTES
        if size > MAX_FRAME:
            raise WireError(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
        if at + size > len(body):
            raise WireError(f"the upload ends inside a frame of {size} bytes")
        frames.append(body[at : at + size])
        at += size
    if not frames:
        raise WireError("the upload holds no frames")
    return frames
