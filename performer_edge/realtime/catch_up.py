"""What a member missed, read back from the log: `broadcast.replay` on join, and the catch-up
after `Last-Event-ID` (its broadcasts plus the row changes its bindings and policies let
through), no further back than the retention window.

Also the shapes both this and the live path (`dispatch`) share: what a logged broadcast
carries, who receives it, and the dependencies the hub is built with.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import apsw

from performer_edge.core.bus import EventBus
from performer_edge.core.db import Database
from performer_edge.core.events import Event
from performer_edge.core.tokens import TokenKeys
from performer_edge.realtime import history
from performer_edge.realtime.access import CatalogSource
from performer_edge.realtime.channels import Delivery, Member
from performer_edge.realtime.join import Replay
from performer_edge.realtime.phoenix import UserBroadcast, Vsn
from performer_edge.realtime.recent import RecentChanges
from performer_edge.rest.catalog import sqlite_table_name

BROADCAST_KIND = "realtime.broadcast"
MAX_CATCH_UP = 5000  # most logged events one resume sends; the client resumes again for more
# Sent first when some of what came after the client's id is no longer in the log (older than
# the retention window, or compacted away): what follows is all the log still holds.
HISTORY_TRUNCATED = "history_truncated"
Append = Callable[[str, str, Any], Awaitable[Event]]
AppendMany = Callable[[list[tuple[str, str, Any]]], Awaitable[list[Event]]]  # one transaction
Planned = dict[int, list[tuple[Member, dict[str, Any]]]]  # event position → deliveries


class PlanRows(Protocol):
    """Who receives which row change, policies applied (`Dispatcher.plan`, on a reader)."""

    def __call__(
        self, conn: apsw.Connection, events: Sequence[Event], listeners: list[Member], *, live: bool
    ) -> Planned: ...


@dataclass(frozen=True)
class HubDeps:
    """What the hub needs from the node: reads, appends, keys, the schema catalog, the bus."""

    db: Database
    append: Append
    append_many: AppendMany
    tokens: TokenKeys
    catalog: CatalogSource
    bus: EventBus
    outbox_size: int
    retention_s: int


async def replayed(deps: HubDeps, member: Member, replay: Replay) -> list[Delivery]:
    """`broadcast.replay`: the topic's broadcasts since `replay.since_ms`, marked replayed."""
    since_ms = max(replay.since_ms, _oldest_ms(deps))
    events = await deps.db.read(
        lambda conn: history.broadcasts_since(
            conn, member.topic, since_ms, member.live_after, replay.limit
        )
    )
    return [
        Delivery(member.message("broadcast", broadcast), event.pos)
        for event in events
        if (broadcast := broadcast_of(event, member.topic, replayed=True)) is not None
    ]


async def missed(
    deps: HubDeps, plan_rows: PlanRows, member: Member, after: int, recent: RecentChanges
) -> tuple[list[Delivery], bool]:
    """What the channel logged after `after` (within the retention window): its
    broadcasts and the row changes its bindings and policies let through (with whole records
    while `recent` still holds them), after a `history_truncated` system message when part of
    it is gone. False with a partial list when there is more than one catch-up sends."""
    tables = _bound_tables(member)
    oldest = _oldest_ms(deps)

    def read(conn: apsw.Connection) -> tuple[list[Event], bool]:
        found = history.channel_events(
            conn, member.topic, tables, after, member.live_after, oldest, MAX_CATCH_UP + 1
        )
        return found, history.gone_since(conn, after, oldest)

    events, truncated = await deps.db.read(read)
    complete = len(events) <= MAX_CATCH_UP
    events = events[:MAX_CATCH_UP]
    rows = [recent.restore(e) for e in events if e.kind != BROADCAST_KIND]
    planned = await deps.db.read(lambda conn: plan_rows(conn, rows, [member], live=False))
    out: list[Delivery] = []
    if truncated:
        notice = {
            "channel": member.name,
            "extension": "system",
            "message": HISTORY_TRUNCATED,
            "status": "ok",
        }
        out.append(Delivery(member.message("system", notice), after))
    for event in events:
        if event.kind == BROADCAST_KIND:
            broadcast = broadcast_of(event, member.topic)
            if broadcast is not None and receives(member, event, broadcast):
                out.append(Delivery(member.message("broadcast", broadcast), event.pos))
        for _, payload in planned.get(event.pos, ()):
            out.append(Delivery(member.message("postgres_changes", payload), event.pos))
    if not complete and events:
        # Nothing newer may be sent after a partial catch-up: the client resumes from here.
        member.session.position = events[-1].pos
    return out, complete


def _oldest_ms(deps: HubDeps) -> int:
    return int(time.time() * 1000) - deps.retention_s * 1000


def broadcast_of(event: Event, topic: str, *, replayed: bool = False) -> UserBroadcast | None:
    """The user broadcast a logged `realtime.broadcast` event carries (None if malformed)."""
    try:
        data = event.data
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return None
    meta = {"replayed": True, "id": str(event.pos)} if replayed else {}
    binary = data.get("binary")
    return UserBroadcast(
        topic,
        data["event"],
        data.get("payload"),
        binary if isinstance(binary, bytes) else None,
        meta,
    )


def receives(member: Member, event: Event, broadcast: UserBroadcast) -> bool:
    """Whether a member gets a logged broadcast: same privacy, not its own unless `self`, and
    raw bytes only on 2.0.0 (they have no 1.0.0 or SSE form, supabase-wire.md §4.4)."""
    data = event.data
    if member.private != bool(data.get("private")):
        return False
    if data.get("from") == member.session.id and not member.broadcast_self:
        return False
    return broadcast.binary is None or member.session.vsn is Vsn.V2


def _bound_tables(member: Member) -> list[str] | None:
    """The SQLite names of the tables a member's bindings name; None when one names any."""
    names: list[str] = []
    for binding in member.bindings:
        if binding.table in (None, "*") or binding.schema == "*":
            return None
        assert binding.table is not None
        names.append(sqlite_table_name(binding.schema, binding.table))
    return names
