"""The `performer` command: one module per command group, assembled here.

Exit status: 0 success, 1 the operation failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from performer_edge import __version__
from performer_edge.cli import (
    auth_cmd,
    cluster_cmd,
    compact_cmd,
    demo_cmd,
    events_cmd,
    functions_cmd,
    generate_cmd,
    init_cmd,
    keys_cmd,
    migrate_cmd,
    peers_cmd,
    replay_cmd,
    serve_cmd,
    status_cmd,
    storage_cmd,
    sync_cmd,
)
from performer_edge.cli.common import fail
from performer_edge.errors import ConfigError, PerformerError

COMMANDS = (
    init_cmd,
    serve_cmd,
    keys_cmd,
    migrate_cmd,
    events_cmd,
    replay_cmd,
    compact_cmd,
    status_cmd,
    auth_cmd,
    cluster_cmd,
    peers_cmd,
    sync_cmd,
    storage_cmd,
    functions_cmd,
    generate_cmd,
    demo_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="performer",
        description="Performer Edge: a backend-as-a-service in one executable.",
    )
    parser.add_argument("--version", action="version", version=f"performer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        return fail(exc.message, 2)
    except PerformerError as exc:
        return fail(exc.message, 1)
    except KeyboardInterrupt:
        return 130
    sys.stdout.flush()
    return code
