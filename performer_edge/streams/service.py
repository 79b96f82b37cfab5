"""What the streams API does, transport-free: a scope's state at a version (the newest
snapshot at or below it, plus the events after it folded), its events from a version, appends
with an optional expected version, and snapshots on demand or every N events.

Reads run on a reader connection inside one read transaction, so the head, the snapshot and the
events come from one commit. Folding happens there too, off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from performer_edge.core import hlc
from performer_edge.core.db import Database
from performer_edge.core.events import MAX_SCOPE_LENGTH, Event, encode_checked
from performer_edge.core.log import LogWriter, last_position
from performer_edge.errors import Conflict, InvalidInput, NotFound, TooLarge
from performer_edge.streams import store
from performer_edge.streams.reducers import StreamEvent, StreamFamilies, StreamFamily, parse_op

log = logging.getLogger("performer.streams")

MAX_APPEND = 100  # events per request
MAX_EVENT_BYTES = 256 * 1024  # one event's JSON
MAX_PAGE = 1000
FOLD_CHUNK = 2000
HISTORY_COMPACTED = "stream_history_compacted"


@dataclass(frozen=True)
class Stream:
    """A scope the API serves, and its family."""

    scope: str
    family: StreamFamily

    def event_json(self, item: StreamEvent) -> dict[str, Any]:
        """An event of the stream as the API shows it."""
        event = item.event
        return {
            "version": item.version,
            "kind": event.kind,
            "time": hlc.to_iso(event.hlc),
            "origin": event.origin.hex(),
            "seq": event.seq,
            "data": self.family.reducer.event_json(event),
        }


@dataclass(frozen=True)
class StateAt:
    version: int
    state: Any  # the reducer's state
    head: int
    events: list[StreamEvent]  # after `version`, at most a page
    more: bool  # events after the page remain


@dataclass(frozen=True)
class EventsPage:
    head: int
    events: list[StreamEvent]
    more: bool
    log_pos: int = 0  # the log's newest position when the page was read (see follow)


class Streams:
    def __init__(
        self,
        db: Database,
        log_writer: LogWriter,
        families: StreamFamilies,
        *,
        snapshot_every: int,
        snapshot_keep: int,
    ) -> None:
        self.db = db
        self.log = log_writer
        self.families = families
        self.snapshot_every = snapshot_every
        self.snapshot_keep = snapshot_keep

    def resolve(self, scope: str) -> Stream:
        if len(scope) > MAX_SCOPE_LENGTH:
            raise InvalidInput(
                f"a stream's scope has at most {MAX_SCOPE_LENGTH} characters", code="invalid_scope"
            )
        family = self.families.of(scope)
        if family is None:
            raise NotFound(
                f"no stream {scope!r}: a stream's scope starts with one of "
                + ", ".join(self.families.prefixes),
                code="unknown_stream",
            )
        return Stream(scope, family)

    # -- reads ---------------------------------------------------------------------------------

    async def state_at(self, stream: Stream, at: int | None, limit: int) -> StateAt:
        """`at` None: the newest stored snapshot (nothing folded); else the state at `at`."""
        return await self.db.read(lambda conn: _in_read_tx(conn, _state_at, stream, at, limit))

    async def events_from(self, stream: Stream, after: int, limit: int) -> EventsPage:
        return await self.db.read(
            lambda conn: _in_read_tx(conn, _events_from, stream, after, limit)
        )

    async def head(self, stream: Stream) -> int:
        return await self.db.read(lambda conn: store.head(conn, stream.scope))

    async def describe(self, stream: Stream) -> dict[str, Any]:
        def read(conn: apsw.Connection) -> dict[str, Any]:
            return {
                "scope": stream.scope,
                "reducer": stream.family.reducer.name,
                "writable": stream.family.writable,
                "head": store.head(conn, stream.scope),
                "snapshots": store.snapshot_versions(conn, stream.scope),
            }

        return await self.db.read(lambda conn: _in_read_tx(conn, read))

    # -- writes --------------------------------------------------------------------------------

    def parse_append(self, stream: Stream, body: Any) -> list[tuple[str, bytes]]:
        """A request body (one event or an array) as (kind, payload) pairs, checked."""
        if not stream.family.writable:
            raise InvalidInput(
                f"stream {stream.scope!r} is read-only here: its events come from "
                + ("the broadcast API" if stream.family.reducer.name == "room" else "y-websocket"),
                code="stream_not_writable",
            )
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > MAX_APPEND:
            raise InvalidInput(f"send 1 to {MAX_APPEND} events", code="invalid_event")
        out = []
        for index, item in enumerate(items):
            where = f"event {index}"
            size = len(orjson.dumps(item))
            if size > MAX_EVENT_BYTES:
                raise TooLarge(
                    f"{where} is {size} bytes of JSON, over the limit of {MAX_EVENT_BYTES}",
                    code="event_too_large",
                )
            data = parse_op(item, where)
            kind = "app." + str(item.get("type", "stream"))
            out.append((kind, encode_checked(kind, data)))
        return out

    async def append(
        self, stream: Stream, items: list[tuple[str, bytes]], expect: int | None
    ) -> tuple[int, list[Event]]:
        """Append atomically; with `expect`, only if the stream's head is that version
        (Conflict `version_conflict` otherwise). The new head and the committed events."""

        def write(tx: Any) -> tuple[int, list[Event]]:
            current = store.head(tx.conn, stream.scope)
            if expect is not None and current != expect:
                raise Conflict(
                    f"stream {stream.scope!r} is at version {current}, not {expect}",
                    code="version_conflict",
                    details={"head": current},
                )
            events = [self.log.append_encoded(tx, k, stream.scope, p) for k, p in items]
            return current + len(events), events

        return await self.db.write(write)

    async def snapshot(self, stream: Stream, at: int | None, reason: str) -> tuple[int, Any]:
        """Fold the state at `at` (default: the head) and store it; (version, state)."""

        def fold(conn: apsw.Connection) -> tuple[int, Any]:
            version = store.head(conn, stream.scope) if at is None else at
            found = _state_at(conn, stream, version, 0)
            return found.version, found.state

        version, state = await self.db.read(lambda conn: _in_read_tx(conn, fold))
        reducer = stream.family.reducer
        blob = reducer.encode(state)
        await self.db.write(
            lambda tx: store.save_snapshot(
                tx.conn, stream.scope, version, reducer.name, blob, reason, self.snapshot_keep
            )
        )
        return version, state

    async def snapshot_if_due(self, scope: str) -> None:
        """Snapshot the scope at the newest multiple of `snapshot_every` at or below its head,
        unless that snapshot exists (policy snapshots land on the same versions)."""
        every = self.snapshot_every
        stream = self.resolve(scope)
        reducer = stream.family.reducer.name

        def due(conn: apsw.Connection) -> int | None:
            mark = store.head(conn, scope) // every * every
            if mark == 0:
                return None
            newest = store.latest_snapshot(conn, scope, mark, reducer)
            return mark if newest is None or newest.version < mark else None

        mark = await self.db.read(due)
        if mark is not None:
            await self.snapshot(stream, mark, "policy")


def _in_read_tx(conn: apsw.Connection, fn: Callable[..., Any], *args: Any) -> Any:
    conn.execute("BEGIN")
    try:
        return fn(conn, *args)
    finally:
        conn.execute("COMMIT")


def check_version(name: str, version: int, head: int) -> None:
    if version < 0:
        raise InvalidInput(f"{name} must be a version >= 0", code="invalid_version")
    if version > head:
        raise InvalidInput(
            f"{name}={version} is beyond the stream's head, version {head}",
            code="version_beyond_head",
            details={"head": head},
        )


def _state_at(conn: apsw.Connection, stream: Stream, at: int | None, limit: int) -> StateAt:
    reducer = stream.family.reducer
    head = store.head(conn, stream.scope)
    if at is not None:
        check_version("at", at, head)
    snapshot = store.latest_snapshot(conn, stream.scope, head if at is None else at, reducer.name)
    version = snapshot.version if snapshot is not None else 0
    state = reducer.decode(snapshot.state) if snapshot is not None else reducer.initial()
    target = version if at is None else at
    while version < target:
        chunk = store.events_between(conn, stream.scope, version, target, FOLD_CHUNK)
        if not chunk or chunk[0].version != version + 1:
            raise _compacted(stream.scope, version + 1)
        for item in chunk:
            if item.version != version + 1:
                raise _compacted(stream.scope, version + 1)
            state = reducer.apply(state, item)
            version = item.version
    page = _events_from(conn, stream, version, limit) if limit else EventsPage(head, [], False)
    return StateAt(version, state, head, page.events, page.more)


def _events_from(conn: apsw.Connection, stream: Stream, after: int, limit: int) -> EventsPage:
    head = store.head(conn, stream.scope)
    check_version("from", after, head)
    found = store.events_between(conn, stream.scope, after, head, limit + 1)
    for offset, item in enumerate(found):
        if item.version != after + 1 + offset:
            raise _compacted(stream.scope, after + 1 + offset)
    return EventsPage(head, found[:limit], len(found) > limit, last_position(conn))


def _compacted(scope: str, version: int) -> NotFound:
    return NotFound(
        f"event {version} of stream {scope!r} was compacted out of this node's log: "
        "read from a snapshot at or after it (GET .../snapshot without at)",
        code=HISTORY_COMPACTED,
    )
