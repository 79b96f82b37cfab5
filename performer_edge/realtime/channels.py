"""A client connection (`Session`, any transport) and its joined channels (`Member`).

A session's outgoing messages wait in a bounded outbox that the transport drains. Nothing that
fans out (the bus dispatcher, another client's broadcast) ever waits on it: when the outbox is
full the session is closed with a reason the transport passes on (a WebSocket close frame, an
SSE `error` event), and the client reconnects (with `Last-Event-ID` or `broadcast.replay` to
catch up).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from performer_edge.realtime.access import Caller
from performer_edge.realtime.bindings import Binding
from performer_edge.realtime.phoenix import Message, Vsn

TOPIC_PREFIX = "realtime:"
SLOW_CLIENT = "slow_client"
RESUME_AGAIN = "resume_again"  # more was missed than one catch-up sends: reconnect from here
CLIENT_ENDED = frozenset({"closed", "gone"})  # the client closed, or its connection broke


@dataclass(frozen=True)
class Delivery:
    """An outgoing message and, when it comes from the event log, the event's position."""

    message: Message
    position: int | None = None


class Session:
    """One client connection. `default_token` is the API key it connected with."""

    def __init__(self, vsn: Vsn, default_token: str | None, outbox_size: int) -> None:
        self.id = secrets.token_hex(8)
        self.vsn = vsn
        self.default_token = default_token
        self.outbox_size = outbox_size
        self.members: dict[str, Member] = {}  # topic → its member
        self.closed: str | None = None
        self.position = 0  # the last log position delivered (SSE ids of unlogged messages)
        # Unbounded underneath; `send` enforces the bound so the close marker always fits.
        self._outbox: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self._held: list[Delivery] | None = None
        # Set by the transport: called when the outbox overflows, so that a writer stuck on a
        # client that reads nothing is stopped too.
        self.interrupt: Callable[[], None] | None = None

    def send(self, message: Message, position: int | None = None) -> None:
        if self.closed is not None:
            return
        held = self._held
        if self._outbox.qsize() + (len(held) if held is not None else 0) >= self.outbox_size:
            self.close(SLOW_CLIENT)
            return
        if held is not None:
            held.append(Delivery(message, position))
        else:
            self._outbox.put_nowait(Delivery(message, position))

    def hold(self) -> None:
        """Keep live messages back while what the client missed is read from the log."""
        self._held = []

    def release(self, missed: list[Delivery], *, complete: bool = True) -> None:
        """Send `missed` (read from the log, older; bounded by the reader, not the outbox),
        then the live messages held meanwhile. When `missed` is not `complete` the held ones
        are dropped instead, and the session ends after `missed`: the client resumes again
        from the last one it got."""
        held, self._held = self._held or [], None
        if self.closed is not None:
            return
        for delivery in missed:
            self._outbox.put_nowait(delivery)
        if not complete:
            self.close(RESUME_AGAIN)
            return
        for delivery in held:
            self.send(delivery.message, delivery.position)

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            self._outbox.put_nowait(None)
            if reason == SLOW_CLIENT and self.interrupt is not None:
                self.interrupt()

    async def next_delivery(self) -> Delivery | None:
        """The next message to write; None once the session is closed."""
        if self.closed is not None and self._outbox.empty():
            return None
        delivery = await self._outbox.get()
        if delivery is not None and delivery.position is not None:
            self.position = max(self.position, delivery.position)
        return delivery

    def pending(self) -> int:
        return self._outbox.qsize()


@dataclass(eq=False)
class Member:
    """One joined channel of one session: its config, its caller and its bindings."""

    session: Session
    topic: str
    join_ref: str | None
    caller: Caller
    private: bool = False
    broadcast_self: bool = False
    broadcast_ack: bool = False
    presence_enabled: bool = False
    presence_key: str = ""
    bindings: tuple[Binding, ...] = ()
    live_after: int = 0  # log events at or before this position reached it by replay, if at all
    expiry: asyncio.TimerHandle | None = None
    may_send: dict[str, bool] = field(default_factory=dict)  # extension → private send allowed

    @property
    def name(self) -> str:
        """The channel name without the `realtime:` prefix (the scope of its broadcasts)."""
        return channel_name(self.topic)

    @property
    def tracker(self) -> str:
        return self.session.id

    def message(self, event: str, payload: Any) -> Message:
        return Message(self.topic, event, payload, None, self.join_ref)

    def push(self, event: str, payload: Any, position: int | None = None) -> None:
        self.session.send(self.message(event, payload), position)

    def system(self, extension: str, message: str, status: str = "ok") -> None:
        self.push(
            "system",
            {"channel": self.name, "extension": extension, "message": message, "status": status},
        )


def channel_name(topic: str) -> str:
    return topic.removeprefix(TOPIC_PREFIX)


def full_topic(name: str) -> str:
    return name if name.startswith(TOPIC_PREFIX) else TOPIC_PREFIX + name
