"""`performer replay`: rebuild every projection from the event log, with a progress bar."""

from __future__ import annotations

import argparse
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from performer_edge.cli.common import add_settings_flags, settings_from
from performer_edge.core.replay import replay
from performer_edge.node import Node


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "replay", help="rebuild projections from the log (the node must be stopped)"
    )
    add_settings_flags(parser, ["data", "synchronous"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    node = Node.open(settings_from(args))
    try:
        columns = (
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns) as progress:
            task = progress.add_task("replaying", total=None)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            result = node.db.run_exclusive(
                lambda conn: replay(
                    conn,
                    node.projections,
                    report,
                    migrations=node.db.migrations,
                    prepare=node.db.prepare,
                    local_tables=node.snapshots.local_tables,
                )
            )
            node.db.run_exclusive(node.log.reload)
    finally:
        node.close()
    names = ", ".join(result.projections) or "none registered"
    start = "the base snapshot and " if result.from_snapshot else ""
    print(
        f"replayed {start}{result.events} events in {result.seconds:.2f} s (projections: {names})"
    )
    return 0
