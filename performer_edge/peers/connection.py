"""One sync session over one link: the session's driver between a transport and the log.

A transport (transport_ws.py, transport_sse.py) hands each frame it reads to `receive`; the
`PeerManager` pokes `changed` (new local or ingested events) and `tick` (timers). Everything
that touches the session runs in one worker thread call at a time (`_advance`, under a lock),
because `SessionHost` blocks on the database and the session is not thread-safe. What the
session wants sent goes to an outbox that a writer task drains into the link in order, so a
reader never waits on a slow writer (two peers that both write can never deadlock). When the
session closes, the writer flushes what is queued (the BYE), closes the link and reports.
Imports nothing from the transports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from performer_edge.peers.bridge import SessionHost
from sync.session import Closed, Fault, Session
from sync.version_vector import VersionVector

log = logging.getLogger("performer.peers")

SessionOp = Callable[[Session, float], None]


class LinkClosed(Exception):
    """The link failed or was closed under the session (the peer vanished, a write failed)."""


class Link(Protocol):
    """What a transport offers a connection: send frames in order, close."""

    transport: str  # "websocket" or "sse"
    address: str  # where the peer is: the dialled URL or the remote address

    async def send(self, frames: list[bytes]) -> None:
        """Send frames in order; raise `LinkClosed` when the link is gone."""

    async def close(self) -> None:
        """Close the link (idempotent)."""


class PeerConnection:
    """A live session with one peer. Create it with `PeerManager.open`."""

    def __init__(
        self,
        host: SessionHost,
        link: Link,
        direction: str,
        on_finished: Callable[[PeerConnection], None],
        on_live: Callable[[PeerConnection], None] = lambda connection: None,
        on_fault: Callable[[PeerConnection, str], None] = lambda connection, reason: None,
    ) -> None:
        self.host = host
        self.link = link
        self.direction = direction  # "dialed" or "accepted"
        self.connected_at = time.time()
        self.last_seen = self.connected_at
        self.frames_in = 0
        self.frames_out = 0
        self.live_since: float | None = None  # monotonic, once the peer proved its key
        self._on_finished = on_finished
        self._on_live = on_live
        self._on_fault = on_fault
        self._lock = asyncio.Lock()
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._changed = False
        self._tick = False
        self._closing = False
        self._finished = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- what the others see -----------------------------------------------------------------

    @property
    def session(self) -> Session:
        return self.host.session

    @property
    def peer_id(self) -> bytes | None:
        hello = self.session.peer_hello
        return hello.node_id if hello is not None else None

    @property
    def peer_vector(self) -> VersionVector:
        """What the peer is known to hold (its last summary, its ACKs, what it sent)."""
        return self.session.peer

    @property
    def closed(self) -> Closed | None:
        return self.host.closed

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    async def wait_finished(self) -> None:
        await self._finished.wait()

    # -- driving -----------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._drive(), name=f"sync-drive-{self.link.address}"),
            asyncio.create_task(self._write(), name=f"sync-write-{self.link.address}"),
        ]
        self._tick = True  # the first step says HELLO
        self._wake.set()

    def changed(self) -> None:
        """New events in the log: push them (coalesced with other pokes)."""
        self._changed = True
        self._wake.set()

    def tick(self) -> None:
        self._tick = True
        self._wake.set()

    async def receive(self, frame: bytes) -> None:
        """A frame from the peer, in the order it came."""
        self.frames_in += 1
        self.last_seen = time.time()
        # Start first: the peer's HELLO can come before the drive task's first step has run.
        await self._step(
            [lambda session, now: session.start(now), lambda s, now: s.receive(frame, now)]
        )

    async def refuse(self, reason: str) -> None:
        """The link saw the peer break the rules (oversized or text frame, bad upload). When the
        session had already ended another way (the broken link failed a send first), the fault
        is still reported, through `on_fault`."""
        await self._step([lambda session, now: session.refuse(reason, now)])
        closed = self.host.closed
        if closed is None or closed.fault is not Fault.PEER:
            self._on_fault(self, reason)

    async def close(self, reason: str) -> None:
        """End the session from this side, with a BYE when the link still works."""
        await self._step([lambda session, now: session.close(reason, now)])

    async def link_lost(self, reason: str) -> None:
        """The link is gone: end the session (nothing more can be sent)."""
        await self.close(reason)

    async def _drive(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            ops: list[SessionOp] = []
            if self._changed:
                self._changed = False
                ops.append(self._push_new)
            if self._tick:
                self._tick = False
                ops.append(self._timers)
            if ops:
                await self._step(ops)

    def _push_new(self, session: Session, now: float) -> None:
        snapshots = self.host.snapshots
        if snapshots is not None and snapshots.horizon != session.horizon:
            session.horizon_changed(snapshots.horizon, now)
        session.local_changed(self.host.log.vector(), now)

    @staticmethod
    def _timers(session: Session, now: float) -> None:
        session.start(now)  # a no-op once started
        session.tick(now)

    async def _step(self, ops: list[SessionOp]) -> None:
        async with self._lock:
            if self._closing:
                return
            try:
                frames = await asyncio.to_thread(self._advance, ops, time.monotonic())
            except Exception as exc:  # a bug here, not the peer's doing: end only this session
                log.exception("sync session with %s failed", self.link.address)
                self.host.closed = Closed(f"internal error: {exc!r}", Fault.LOCAL)
                frames = []
            for frame in frames:
                self._outbox.put_nowait(frame)
            if self.live_since is None and self.session.live:
                self.live_since = time.monotonic()
                self._on_live(self)
            if self.host.closed is not None:
                self._closing = True
                self._wake.set()
                self._outbox.put_nowait(None)

    def _advance(self, ops: list[SessionOp], now: float) -> list[bytes]:
        """In a worker thread: feed the session, carry out its actions, take its frames."""
        session = self.session
        for op in ops:
            op(session, now)
        self.host.handle_all(now)
        return session.take_frames()

    async def _write(self) -> None:
        lost: str | None = None
        try:
            while (frame := await self._outbox.get()) is not None:
                frames = [frame]
                while not self._outbox.empty():
                    following = self._outbox.get_nowait()
                    if following is None:
                        self._outbox.put_nowait(None)
                        break
                    frames.append(following)
                await self.link.send(frames)
                self.frames_out += len(frames)
        except LinkClosed as exc:
            lost = str(exc) or "the connection closed"
        if lost is not None:
            await self.link_lost(lost)
        await self.link.close()
        self._finish()

    def _finish(self) -> None:
        if self._finished.is_set():
            return
        self._finished.set()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._on_finished(self)

    async def abort(self) -> None:
        """Stop without ceremony (the node is going away and the BYE could not be sent)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.link.close()
        if self.host.closed is None:
            self.host.closed = Closed("the node stopped", Fault.LOCAL)
        self._finish()
