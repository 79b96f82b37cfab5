"""Rebuild every projection from the log, in one transaction, reporting progress.

Run on the writer connection with `Database.run_exclusive`; readers keep seeing the old state
until the rebuild commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import apsw

from performer_edge.core.log import count_events, iter_all
from performer_edge.core.projections import Projections

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayReport:
    events: int
    projections: tuple[str, ...]
    seconds: float


def replay(
    conn: apsw.Connection, projections: Projections, progress: Progress | None = None
) -> ReplayReport:
    started = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    try:
        total = count_events(conn)
        projections.reset(conn)
        done = 0
        for event in iter_all(conn, order="pos"):
            projections.apply(conn, event)
            done += 1
            if progress is not None and (done % 1000 == 0 or done == total):
                progress(done, total)
        if progress is not None and total == 0:
            progress(0, 0)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    names = tuple(p.name for p in projections)
    return ReplayReport(done, names, time.monotonic() - started)
