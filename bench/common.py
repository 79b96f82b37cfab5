"""Helpers the benchmarks share: progress on stderr, percentiles, ratios."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the results (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0
