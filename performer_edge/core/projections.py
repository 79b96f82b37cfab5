"""Projections: the tables the APIs read, derived from events in the transaction that appends them.

A capability registers one `Projection` per set of tables it owns. `replay` resets them all and
re-applies the log, so a projection must be a pure function of the events it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import apsw

from performer_edge.core.events import Event


@dataclass(frozen=True)
class Projection:
    """`kinds` are exact kinds (`user_created`) or prefixes ending in a dot (`row.`).

    `apply` may return the event's visible effect (anything but None); the log attaches it to the
    committed event the bus carries (`Event.effect`).
    """

    name: str
    kinds: tuple[str, ...]
    apply: Callable[[apsw.Connection, Event], object]
    reset: Callable[[apsw.Connection], None]

    def handles(self, kind: str) -> bool:
        return any(kind == k or (k.endswith(".") and kind.startswith(k)) for k in self.kinds)


class Projections:
    """The registry: which projections an event kind goes through, in registration order."""

    def __init__(self) -> None:
        self._all: list[Projection] = []
        self._by_kind: dict[str, tuple[Projection, ...]] = {}

    def register(self, projection: Projection) -> None:
        if any(p.name == projection.name for p in self._all):
            raise ValueError(f"projection {projection.name!r} is registered twice")
        self._all.append(projection)
        self._by_kind.clear()

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(tuple(self._all))

    def __len__(self) -> int:
        return len(self._all)

    def apply(self, conn: apsw.Connection, event: Event) -> object:
        """Run every projection of the event's kind; the last effect one of them returned."""
        targets = self._by_kind.get(event.kind)
        if targets is None:
            targets = tuple(p for p in self._all if p.handles(event.kind))
            self._by_kind[event.kind] = targets
        effect: object = None
        for projection in targets:
            result = projection.apply(conn, event)
            if result is not None:
                effect = result
        return effect

    def reset(self, conn: apsw.Connection) -> None:
        for projection in self._all:
            projection.reset(conn)
