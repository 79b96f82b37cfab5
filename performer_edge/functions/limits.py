"""Per-function sandbox limits: safe defaults, ceilings, and parsing from a deploy request.

Imports nothing from the rest of the node but `errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from performer_edge.errors import InvalidInput

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Limits:
    """What one invocation may use, and how a triggered one is retried. Fuel is a wasm
    instruction budget, not time."""

    fuel: int = 200_000_000
    timeout_ms: int = 2_000
    memory_bytes: int = 64 * MIB
    max_request_bytes: int = 1 * MIB
    max_response_bytes: int = 4 * MIB
    max_log_bytes: int = 64 * KIB
    max_host_calls: int = 100
    max_host_result_bytes: int = 1 * MIB
    # Triggered runs (README, Functions: triggers): attempts before a run is `failed`, and the
    # first retry's delay, doubled at each later one (capped at MAX_BACKOFF_MS).
    trigger_attempts: int = 8
    trigger_backoff_ms: int = 1_000

    @classmethod
    def parse(cls, given: Any) -> Limits:
        """Defaults overridden by a deploy request's `limits` object (InvalidInput when a key
        is unknown or a value is out of its range)."""
        if given is None:
            return cls()
        if not isinstance(given, Mapping):
            raise InvalidInput("limits must be an object", code="invalid_limits")
        changes: dict[str, int] = {}
        for key, value in given.items():
            bounds = RANGES.get(key)
            if bounds is None:
                known = ", ".join(RANGES)
                raise InvalidInput(f"unknown limit {key!r} (known: {known})", code="invalid_limits")
            low, high = bounds
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidInput(
                    f"limit {key} must be an integer from {low} to {high}", code="invalid_limits"
                )
            changes[key] = value
        return replace(cls(), **changes)

    def retry_delay_s(self, attempts: int) -> float:
        """How long a triggered run waits after its `attempts`-th failed attempt."""
        delay_ms: int = self.trigger_backoff_ms << min(max(attempts - 1, 0), 30)
        return min(delay_ms, max(MAX_BACKOFF_MS, self.trigger_backoff_ms)) / 1000

    def to_json(self) -> dict[str, int]:
        return asdict(self)


# The ceilings a deploy may raise a limit to: a function never gets more than these.
RANGES: dict[str, tuple[int, int]] = {
    "fuel": (1_000, 10_000_000_000),
    "timeout_ms": (10, 60_000),
    "memory_bytes": (64 * KIB, 1024 * MIB),
    "max_request_bytes": (1 * KIB, 32 * MIB),
    "max_response_bytes": (1 * KIB, 32 * MIB),
    "max_log_bytes": (1 * KIB, 4 * MIB),
    "max_host_calls": (0, 10_000),
    "max_host_result_bytes": (1 * KIB, 32 * MIB),
    "trigger_attempts": (1, 100),
    "trigger_backoff_ms": (10, 3_600_000),
}
MAX_BACKOFF_MS = 600_000
assert set(RANGES) == {f.name for f in fields(Limits)}
