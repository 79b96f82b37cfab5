"""Yjs documents: one in-memory pycrdt doc per open document, its updates as events.

Theory of operation. A client's update is applied to the room's doc at once (which validates
it: garbage raises) and appended to the log as a `ydoc.update` event (scope `ydoc:<name>`,
payload `{"u": update}`); every connection of the room gets it from the bus once committed,
like peers' updates, which merge by the CRDT (applying an update twice changes nothing). A
room loads from the document's stored state plus the updates since (`ydoc_store`); every
`CHECKPOINT_EVERY` updates, and when its last connection leaves, the room folds what it has
applied into the stored state. Awareness (cursors, names) is relayed between connections and
never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, merge_updates

from performer_edge.core.db import Database
from performer_edge.core.events import Event
from performer_edge.realtime import ydoc_store
from performer_edge.realtime.ydoc_store import SCOPE_PREFIX, YDOC_KIND, UpdateKey, update_of
from performer_edge.realtime.yjs_protocol import (
    AwarenessState,
    SyncStep,
    YjsFrameError,
    awareness_frame,
    decode_awareness,
    encode_awareness,
    sync_frame,
)

log = logging.getLogger("performer.realtime")

CHECKPOINT_EVERY = 100

Append = Callable[[str, str, object], Awaitable[Event]]


class YConnection:
    """One client socket's outbox: bounded; a client too slow to drain it is closed."""

    def __init__(self, outbox_size: int) -> None:
        self.outbox_size = outbox_size
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False
        self.client_ids: set[int] = set()  # awareness states this connection introduced

    def send(self, frame: bytes) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= self.outbox_size:
            self.close()
            return
        self.queue.put_nowait(frame)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


@dataclass(eq=False)
class DocRoom:
    name: str
    doc: Doc[Any] = field(default_factory=Doc)
    connections: set[YConnection] = field(default_factory=set)
    awareness: dict[int, AwarenessState] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    applied: set[UpdateKey] = field(default_factory=set)  # stored updates the doc holds

    @property
    def scope(self) -> str:
        return SCOPE_PREFIX + self.name

    def apply(self, update: bytes) -> None:
        """Apply an update; YjsFrameError when it is not one."""
        try:
            self.doc.apply_update(update)
        except ValueError as exc:
            raise YjsFrameError(f"not a Yjs update: {exc}") from exc

    def step2(self, state_vector: bytes) -> bytes:
        try:
            return sync_frame(SyncStep.STEP2, self.doc.get_update(state_vector))
        except ValueError as exc:
            raise YjsFrameError(f"not a state vector: {exc}") from exc

    def step1(self) -> bytes:
        return sync_frame(SyncStep.STEP1, self.doc.get_state())

    def awareness_frame(self) -> bytes | None:
        if not self.awareness:
            return None
        return awareness_frame(encode_awareness(list(self.awareness.values())))

    def relay_awareness(self, sender: YConnection, update: bytes) -> None:
        for state in decode_awareness(update):
            known = self.awareness.get(state.client_id)
            if known is not None and known.clock > state.clock:
                continue
            if state.state is None:
                self.awareness.pop(state.client_id, None)
                sender.client_ids.discard(state.client_id)
            else:
                self.awareness[state.client_id] = state
                sender.client_ids.add(state.client_id)
        frame = awareness_frame(update)
        for connection in self.connections:
            if connection is not sender:
                connection.send(frame)

    def forget(self, connection: YConnection) -> None:
        """A connection left: others see the awareness states it introduced go."""
        gone = [
            AwarenessState(cid, self.awareness[cid].clock + 1, None)
            for cid in connection.client_ids
            if cid in self.awareness
        ]
        for state in gone:
            del self.awareness[state.client_id]
        if gone:
            frame = awareness_frame(encode_awareness(gone))
            for other in self.connections:
                other.send(frame)


class DocRooms:
    """The open documents of this node."""

    def __init__(self, db: Database, append: Append) -> None:
        self.db = db
        self.append = append
        self.rooms: dict[str, DocRoom] = {}

    async def join(self, name: str, connection: YConnection) -> DocRoom:
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = DocRoom(name)
            try:
                await self._load(room)
            except BaseException:
                del self.rooms[name]
                room.ready.set()
                raise
            room.ready.set()
        await room.ready.wait()
        if self.rooms.get(name) is not room:
            return await self.join(name, connection)  # its load failed: try afresh
        room.connections.add(connection)
        return room

    async def leave(self, room: DocRoom, connection: YConnection) -> None:
        room.connections.discard(connection)
        room.forget(connection)
        if room.connections:
            return
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]
        if room.applied:
            await self.checkpoint(room)

    async def append_update(self, room: DocRoom, update: bytes) -> None:
        """Log a client's update (already applied to the room, which validated it); the room's
        connections get it from the bus once it is committed."""
        await self.append(YDOC_KIND, room.scope, {"u": update})

    def on_committed(self, events: Sequence[Event]) -> None:
        """Logged updates, local or peers': apply them and send them to their rooms, one frame
        per room and connection for the whole batch (the updates merged), not one per update:
        with group commit a fast typist's updates arrive by the dozen."""
        by_room: dict[str, list[Event]] = {}
        for event in events:
            by_room.setdefault(event.scope.removeprefix(SCOPE_PREFIX), []).append(event)
        for name, batch in by_room.items():
            room = self.rooms.get(name)
            if room is not None:  # else nobody has it open: it loads from the store next time
                self._deliver(room, batch)

    def _deliver(self, room: DocRoom, events: list[Event]) -> None:
        updates: list[bytes] = []
        for event in events:
            update = update_of(event)
            if update is None:
                continue
            try:
                room.apply(update)
            except YjsFrameError:
                log.warning("ydoc %s: event %s holds no valid update", room.name, event.pos)
                continue
            room.applied.add(event.key)
            updates.append(update)
        if not updates:
            return
        merged = updates[0] if len(updates) == 1 else merge_updates(*updates)
        frame = sync_frame(SyncStep.UPDATE, merged)
        for connection in room.connections:
            connection.send(frame)
        if len(room.applied) >= CHECKPOINT_EVERY:
            task = asyncio.get_running_loop().create_task(self.checkpoint(room))
            task.add_done_callback(_log_failure)

    async def checkpoint(self, room: DocRoom) -> None:
        """Fold what the room applied into the stored state (the doc holds all of it)."""
        state, covered = room.doc.get_update(), list(room.applied)
        room.applied.clear()
        try:
            await self.db.write(lambda tx: ydoc_store.checkpoint(tx, room.name, state, covered))
        except BaseException:
            room.applied.update(covered)  # still stored as updates: fold them next time
            raise

    async def _load(self, room: DocRoom) -> None:
        state, updates = await self.db.read(lambda conn: ydoc_store.load(conn, room.name))
        if state is not None:
            room.apply(state)
        for key, update in updates:
            try:
                room.apply(update)
            except YjsFrameError:
                log.warning("ydoc %s: stored update %s holds no valid update", room.name, key)
            room.applied.add(key)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("ydoc checkpoint failed: %s", task.exception())
