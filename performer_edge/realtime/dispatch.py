"""From the bus to the members: logged broadcasts and row changes, in log order.

One task reads one bus subscription and takes what is queued in batches. Row changes are
matched against every listener's bindings and checked against its row policies on a reader
connection, one read per batch, so the loop never runs SQL; then messages go to the sessions'
outboxes, which never block (a full one closes its session). If this subscription itself falls
behind, it resubscribes and reads what it missed back from the log: no change is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import apsw

from performer_edge.core.bus import Subscription, SubscriptionDropped
from performer_edge.core.events import Event
from performer_edge.core.log import read_after
from performer_edge.realtime.access import candidate_allowed
from performer_edge.realtime.catch_up import BROADCAST_KIND, Planned, broadcast_of, receives
from performer_edge.realtime.changes import TableChange, TableIndex, table_changes
from performer_edge.realtime.channels import Member
from performer_edge.realtime.history import ROW_KINDS
from performer_edge.realtime.hub import Hub
from performer_edge.realtime.ydoc_store import YDOC_KIND
from performer_edge.realtime.ydocs import DocRooms
from performer_edge.rest.catalog import PolicyCommand
from performer_edge.rest.compile_context import request_context
from performer_edge.rest.row_merge import RowChange

log = logging.getLogger("performer.realtime")

BATCH = 512


def wanted(event: Event) -> bool:
    return event.kind in (BROADCAST_KIND, YDOC_KIND) or isinstance(event.effect, RowChange)


class Dispatcher:
    def __init__(self, hub: Hub, queue_size: int) -> None:
        self.hub = hub
        self.queue_size = queue_size
        self.index = TableIndex()
        self.ydocs: DocRooms | None = None  # set by the component
        hub.plan_rows = self.plan

    def subscribe(self) -> Subscription:
        return self.hub.deps.bus.subscribe("realtime", accept=wanted, queue_size=self.queue_size)

    async def run(self, subscription: Subscription) -> None:
        while True:
            try:
                batch = [await subscription.get()]
                while subscription.pending() and len(batch) < BATCH:
                    batch.append(await subscription.get())
            except SubscriptionDropped as dropped:
                if subscription.dropped is not None and "shutting down" in dropped.reason:
                    return
                log.warning("realtime fell behind the bus (%s); reading the log", dropped.reason)
                subscription = self.subscribe()
                await self._catch_up(dropped.last_pos, subscription.last_pos)
                continue
            await self.deliver(batch)

    async def _catch_up(self, after: int, upto: int) -> None:
        kinds = (BROADCAST_KIND, YDOC_KIND, *ROW_KINDS)
        while after < upto:
            missed = await self.hub.deps.db.read(
                lambda conn, start=after: read_after(conn, start, BATCH, kinds=kinds)  # type: ignore[misc]
            )
            missed = [e for e in missed if e.pos <= upto]
            if not missed:
                return
            await self.deliver(missed)
            after = missed[-1].pos

    async def deliver(self, events: Sequence[Event]) -> None:
        for event in events:
            self.hub.recent.remember(event)
        listeners = list(self.hub.listeners)
        rows = [e for e in events if e.kind not in (BROADCAST_KIND, YDOC_KIND)]
        planned: Planned = {}
        if rows and listeners:
            planned = await self.hub.deps.db.read(lambda conn: self.plan(conn, rows, listeners))
        ydoc_updates = [e for e in events if e.kind == YDOC_KIND]
        if ydoc_updates and self.ydocs is not None:
            self.ydocs.on_committed(ydoc_updates)  # documents are CRDTs: order is theirs
        for event in events:
            if event.kind == BROADCAST_KIND:
                self._broadcast(event)
            elif event.kind != YDOC_KIND:
                for member, payload in planned.get(event.pos, ()):
                    member.push("postgres_changes", payload, event.pos)

    def _broadcast(self, event: Event) -> None:
        members = self.hub.topics.get(event.scope)
        if not members:
            return
        broadcast = broadcast_of(event, event.scope)
        if broadcast is None:
            return
        for member in list(members):
            if event.pos > member.live_after and receives(member, event, broadcast):
                member.push("broadcast", broadcast, event.pos)

    def plan(
        self,
        conn: apsw.Connection,
        events: Sequence[Event],
        listeners: list[Member],
        *,
        live: bool = True,
    ) -> Planned:
        """Runs on a reader thread: who receives which row change, policies applied. `live`:
        events from the bus, which skip members that joined after them (a catch-up reads
        those from the log on purpose)."""
        catalog = self.hub.deps.catalog(conn)
        planned: Planned = {}
        for event in events:
            for change in table_changes(event, catalog, self.index, conn):
                deliveries = self._matches(conn, catalog, change, event.pos, listeners, live)
                if deliveries:
                    planned.setdefault(event.pos, []).extend(deliveries)
        return planned

    def _matches(
        self,
        conn: apsw.Connection,
        catalog: Any,
        change: TableChange,
        position: int,
        listeners: list[Member],
        live: bool,
    ) -> list[tuple[Member, dict[str, Any]]]:
        record = change.api_record(change.checked_record)
        table = change.table
        schema, name, kind = table.schema, table.name, change.kind
        verdicts: dict[tuple[str, str], bool] = {}
        # Members whose bindings matched alike share one payload object (built, and then
        # encoded, once per change rather than once per subscriber); nothing mutates it.
        payloads: dict[tuple[tuple[int, ...], tuple[str, ...] | None], dict[str, Any]] = {}
        out: list[tuple[Member, dict[str, Any]]] = []
        for member in listeners:
            if (live and position <= member.live_after) or member.caller.expired():
                continue
            matched = [b for b in member.bindings if b.matches(schema, name, kind, record)]
            if not matched:
                continue
            context = member.caller.context
            key = member.caller.policy_key
            allowed = verdicts.get(key)
            if allowed is None:
                with request_context(context):
                    allowed = candidate_allowed(
                        conn, catalog, table, context, PolicyCommand.SELECT, change.checked_record
                    )
                verdicts[key] = allowed
            if not allowed:
                continue
            ids = tuple(dict.fromkeys(b.id for b in matched))
            selects = [b.select for b in matched]
            columns = {c for s in selects if s for c in s}
            select = None if None in selects else tuple(sorted(columns))
            payload = payloads.get((ids, select))
            if payload is None:
                payload = payloads[ids, select] = change.payload(list(ids), select)
            out.append((member, payload))
        return out
