"""Hybrid logical clock: 48 bits of wall-clock milliseconds and a 16-bit counter in one int.

Timestamps from peers are observed with a bounded skew: a remote clock too far ahead is refused,
so one bad clock cannot drag every node's time into the future.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

LOGICAL_BITS = 16
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1


def pack(physical_ms: int, logical: int) -> int:
    return (physical_ms << LOGICAL_BITS) | logical


def physical_ms(hlc: int) -> int:
    return hlc >> LOGICAL_BITS


def logical(hlc: int) -> int:
    return hlc & LOGICAL_MASK


def to_datetime(hlc: int) -> datetime:
    return datetime.fromtimestamp(physical_ms(hlc) / 1000, tz=UTC)


def to_iso(hlc: int) -> str:
    return to_datetime(hlc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class HybridClock:
    """Issues strictly increasing HLC timestamps; safe to share between threads."""

    def __init__(
        self,
        *,
        max_skew_ms: int = 60_000,
        last: int = 0,
        wall: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._max_skew_ms = max_skew_ms
        self._last = last
        self._wall = wall
        self._lock = threading.Lock()

    @property
    def last(self) -> int:
        return self._last

    def now(self) -> int:
        """A timestamp greater than every one issued or observed before."""
        with self._lock:
            wall = self._wall()
            if wall > physical_ms(self._last):
                self._last = pack(wall, 0)
            else:
                self._last = self._bump(self._last)
            return self._last

    def observe(self, remote: int) -> int:
        """Take a remote timestamp into account. One further ahead of the wall clock than
        `max_skew_ms` moves this clock only that far: a peer with a wrong clock cannot drag
        every later local timestamp into the future. Returns how far ahead beyond the limit
        the remote was, in ms (0 when within it)."""
        with self._lock:
            wall = self._wall()
            bound = pack(wall + self._max_skew_ms, 0)
            self._last = max(self._last, min(remote, bound))
            return max(0, physical_ms(remote) - (wall + self._max_skew_ms))

    def _bump(self, hlc: int) -> int:
        if logical(hlc) == LOGICAL_MASK:
            # 65536 events in one millisecond: borrow the next millisecond rather than wrap.
            return pack(physical_ms(hlc) + 1, 0)
        return hlc + 1
