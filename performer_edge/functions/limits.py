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
    """What one invocation may use. Fuel is a wasm instruction budget, not time."""

    fuel: int = 200_000_000
    timeout_ms: int = 2_000
    memory_bytes: int = 64 * MIB
    max_request_bytes: int = 1 * MIB
    max_response_bytes: int = 4 * MIB
    max_log_bytes: int = 64 * KIB
    max_host_calls: int = 100
    max_host_result_bytes: int = 1 * MIB

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
}
assert set(RANGES) == {f.name for f in fields(Limits)}
