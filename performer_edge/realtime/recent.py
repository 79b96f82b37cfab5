"""The row changes of the newest committed events, kept in memory by log position.

A live delivery has the whole old and new rows (the event's `effect`). An event read back from
the log has only what its write set, so a catch-up after `Last-Event-ID` would send partial
records. The dispatcher remembers the effects of the newest `capacity` row events; a catch-up
puts them back on the events it reads. Older ones, and all of them after a restart, are
rebuilt from the write (`changes.table_changes`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from performer_edge.core.events import Event
from performer_edge.rest.row_merge import RowChange

CAPACITY = 5000  # as many as one catch-up sends (catch_up.MAX_CATCH_UP)


class RecentChanges:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._by_pos: OrderedDict[int, RowChange] = OrderedDict()

    def remember(self, event: Event) -> None:
        if isinstance(event.effect, RowChange) and event.pos:
            self._by_pos[event.pos] = event.effect
            if len(self._by_pos) > self.capacity:
                self._by_pos.popitem(last=False)

    def restore(self, event: Event) -> Event:
        """`event` with its effect back, when it is still remembered."""
        if event.effect is not None:
            return event
        effect = self._by_pos.get(event.pos)
        return event if effect is None else replace(event, effect=effect)

    def __len__(self) -> int:
        return len(self._by_pos)
