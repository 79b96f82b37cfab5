"""Fixed-window rate limits per (group, key), node-local and in memory (never replicated).

A window is five minutes, as GoTrue's defaults are stated. Keys are IPs or lower-cased emails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from performer_edge.errors import RateLimited

WINDOW_S = 300.0
MAX_KEYS = 100_000


@dataclass
class RateLimiter:
    clock: Callable[[], float] = time.monotonic
    _windows: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)

    def hit(self, group: str, key: str, limit: int) -> None:
        """Count one request; raise RateLimited (429 over_request_rate_limit) past `limit`."""
        now = self.clock()
        started, count = self._windows.get((group, key), (now, 0))
        if now - started >= WINDOW_S:
            started, count = now, 0
        count += 1
        if len(self._windows) >= MAX_KEYS:
            self._forget_expired(now)
        self._windows[(group, key)] = (started, count)
        if count > limit:
            retry = int(WINDOW_S - (now - started)) + 1
            raise RateLimited(
                "Request rate limit reached",
                code="over_request_rate_limit",
                details={"retry_after": retry},
            )

    def _forget_expired(self, now: float) -> None:
        expired = [k for k, (start, _) in self._windows.items() if now - start >= WINDOW_S]
        for key in expired:
            del self._windows[key]
        if len(self._windows) >= MAX_KEYS:  # a flood of distinct keys: start over
            self._windows.clear()
