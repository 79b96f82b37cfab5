"""Per-function metrics and recent logs: node-local, never replicated, lost at restart.

Counts invocations and errors (by reason), keeps the last durations for p50/p99, sums fuel,
and keeps the last invocations' logs in a ring.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

DURATIONS_KEPT = 1024
LOGS_KEPT = 200


@dataclass
class FunctionMetrics:
    invocations: int = 0
    errors: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    fuel_total: int = 0
    durations_ms: deque[float] = field(default_factory=lambda: deque(maxlen=DURATIONS_KEPT))
    logs: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOGS_KEPT))

    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.durations_ms)
        return {
            "invocations": self.invocations,
            "errors": self.errors,
            "error_reasons": dict(self.reasons),
            "fuel_used_total": self.fuel_total,
            "fuel_used_mean": self.fuel_total // self.invocations if self.invocations else 0,
            "p50_ms": _percentile(ordered, 0.50),
            "p99_ms": _percentile(ordered, 0.99),
        }


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


class Metrics:
    def __init__(self) -> None:
        self._by_name: dict[str, FunctionMetrics] = {}
        self._lock = threading.Lock()

    def record(
        self,
        name: str,
        *,
        version: str,
        status: int,
        wall_ms: float,
        fuel: int,
        reason: str | None,
        logs: bytes,
    ) -> None:
        with self._lock:
            found = self._by_name.setdefault(name, FunctionMetrics())
            found.invocations += 1
            found.fuel_total += fuel
            found.durations_ms.append(wall_ms)
            if reason is not None:
                found.errors += 1
                found.reasons[reason] += 1
            if logs or reason is not None:
                found.logs.append(
                    {
                        "at": time.time(),
                        "version": version,
                        "status": status,
                        "reason": reason,
                        "log": logs.decode("utf-8", "replace"),
                    }
                )

    def of(self, name: str) -> dict[str, Any]:
        with self._lock:
            return (self._by_name.get(name) or FunctionMetrics()).to_json()

    def logs(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            found = self._by_name.get(name)
            return list(found.logs) if found is not None else []

    def forget(self, name: str) -> None:
        with self._lock:
            self._by_name.pop(name, None)
