"""Verify the log: every signature, dense per-origin sequences, well-formed fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import apsw

from performer_edge.core.events import check_shape
from performer_edge.core.log import count_events, iter_all
from performer_edge.errors import IntegrityError

MAX_PROBLEMS = 100


@dataclass
class VerifyReport:
    events: int = 0
    origins: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log(
    conn: apsw.Connection, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    report = VerifyReport()
    total = count_events(conn)
    expected: dict[bytes, int] = {}
    for event in iter_all(conn, order="origin"):
        report.events += 1
        want = expected.get(event.origin, 0) + 1
        if want == 1:
            report.origins += 1
        if event.seq != want:
            _note(report, f"origin {event.origin.hex()[:16]}: seq {event.seq} where {want} was due")
        expected[event.origin] = event.seq
        try:
            check_shape(event)
            event.verify_signature()
        except IntegrityError as exc:
            _note(report, f"pos {event.pos}: {exc.message}")
        if progress is not None and (report.events % 1000 == 0 or report.events == total):
            progress(report.events, total)
    return report


def _note(report: VerifyReport, problem: str) -> None:
    if len(report.problems) < MAX_PROBLEMS:
        report.problems.append(problem)
