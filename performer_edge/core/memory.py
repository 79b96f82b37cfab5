"""Handing freed memory back to the OS after a burst, e.g. when 1,000 realtime clients left.

`release_freed_memory` collects cycles (closed transports and their protocols are cycles) and
calls glibc's `malloc_trim`, which returns free pages from anywhere in the heap, not just its
top. It helps on the C allocator (`performer serve` runs on it, see `launch`): pymalloc keeps
its arenas regardless. `TrimAfterDrop` decides when: once open connections fall to half their
peak, a moment after the last close. Imports nothing from the node.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable

log = logging.getLogger("performer.memory")

MIN_PEAK = 64  # fewer connections than this are not worth a full collection
DELAY_S = 1.0  # after the last close, so one burst of disconnects costs one trim


def _load_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim with
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def release_freed_memory() -> None:
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class TrimAfterDrop:
    """Call `opened()`/`closed()` as connections come and go; `count` says how many are open."""

    def __init__(
        self, count: Callable[[], int], *, min_peak: int = MIN_PEAK, delay_s: float = DELAY_S
    ) -> None:
        self.count = count
        self.min_peak = min_peak
        self.delay_s = delay_s
        self.peak = 0
        self.trims = 0
        self._pending: asyncio.TimerHandle | None = None

    def opened(self) -> None:
        self.peak = max(self.peak, self.count())

    def closed(self) -> None:
        if self.peak < self.min_peak or self.count() > self.peak // 2:
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = asyncio.get_running_loop().call_later(self.delay_s, self._trim)

    def _trim(self) -> None:
        self._pending = None
        was = self.peak
        release_freed_memory()
        self.trims += 1
        self.peak = self.count()
        log.debug("freed memory returned after connections fell from %d to %d", was, self.peak)
