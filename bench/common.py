"""Helpers the benchmarks share: progress on stderr, percentiles, ratios."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the results (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def scratch_dir(parent: Path, name: str) -> Iterator[Path]:
    """A new directory `.tmp-NAME-*` under `parent` (git ignores `bench/.tmp-*/`), removed on
    every exit."""
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def emit(report: dict[str, Any], as_json: bool, printer: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        print(json.dumps(report))
    else:
        printer(report)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # run the script's cleanup (its `finally`) on SIGTERM too


def run_script(main: Callable[[], int]) -> None:
    """Exit with `main()`'s status; Ctrl-C and SIGTERM exit 130 after main's cleanup ran."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted: servers stopped, temporary directory removed")
        sys.exit(130)
