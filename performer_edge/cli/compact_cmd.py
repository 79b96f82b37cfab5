"""`performer compact`: fold the event log into a snapshot (the node must be stopped).

The node's state becomes its new base snapshot; the events it covers leave the log, except the
newest `--keep-events` of each origin, so a peer only a little behind still gets plain events.
A peer further behind gets the snapshot plus the events after it. Replay keeps working: it
starts from the base snapshot.
"""

from __future__ import annotations

import argparse
from typing import Any

from performer_edge.cli.common import add_settings_flags, fail, settings_from
from performer_edge.node import Node
from sync.version_vector import VersionVector


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "compact", help="fold the event log into a snapshot (the node must be stopped)"
    )
    add_settings_flags(parser, ["data", "synchronous"])
    parser.add_argument(
        "--keep-events",
        type=int,
        default=0,
        metavar="N",
        help="keep the newest N events of each origin in the log (default: 0)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.keep_events < 0:
        return fail("--keep-events must be 0 or more", 2)
    node = Node.open(settings_from(args))
    try:
        vector = node.log.vector()
        upto = VersionVector({o: max(0, seq - args.keep_events) for o, seq in vector.items()})
        report = node.snapshots.compact(upto)
    finally:
        node.close()
    snapshot = report.snapshot
    print(
        f"compacted {report.dropped} events in {report.seconds:.2f} s; "
        f"base snapshot {snapshot.id[:16]} ({snapshot.size} bytes, {snapshot.vector.total()} "
        f"events of state); the log keeps the events above {report.horizon.total()} of them"
    )
    return 0
