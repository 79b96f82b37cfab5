"""The snapshot policy: a snapshot of a stream every `stream_snapshot_every` of its events.

Fed the committed events of streams (a bus subscription), it keeps each recent scope's head in
memory, so an event costs a dictionary update, not a read: the head is read once when a scope
is first seen (the version of its newest event in the batch, exact whatever else is queued),
then counted on. Only when a head passes a multiple of N does it ask the store whether that
multiple has its snapshot yet. A subscription that fell behind forgets every head it counted.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

import apsw

from performer_edge.core.events import Event
from performer_edge.errors import PerformerError
from performer_edge.streams.service import Streams

log = logging.getLogger("performer.streams")

REMEMBERED = 10_000  # scopes whose head is kept in memory; the least recent are forgotten


class SnapshotPolicy:
    def __init__(self, streams: Streams, remembered: int = REMEMBERED) -> None:
        self.streams = streams
        self.remembered = remembered
        self._heads: OrderedDict[str, int] = OrderedDict()

    def forget(self) -> None:
        self._heads.clear()

    async def on_committed(self, events: Sequence[Event]) -> None:
        every = self.streams.snapshot_every
        if every <= 0:
            return
        counts: dict[str, int] = {}
        newest: dict[str, Event] = {}
        for event in events:
            counts[event.scope] = counts.get(event.scope, 0) + 1
            newest[event.scope] = event
        for scope, count in counts.items():
            known = self._heads.pop(scope, None)
            if known is None:
                head = await self._version_of(newest[scope])
                crossed = head >= every
            else:
                head = known + count
                crossed = head // every > known // every
            self._heads[scope] = head
            if len(self._heads) > self.remembered:
                self._heads.popitem(last=False)
            if crossed:
                try:
                    await self.streams.snapshot_if_due(scope)
                except PerformerError as error:
                    log.warning("stream %s: no policy snapshot: %s", scope, error)

    async def _version_of(self, event: Event) -> int:
        def read(conn: apsw.Connection) -> int:
            row = conn.execute(
                "SELECT version FROM stream_index WHERE origin = ? AND seq = ?",
                (event.origin, event.seq),
            ).fetchone()
            return int(row[0]) if row else 0

        return await self.streams.db.read(read)
