"""`performer migrate`: apply migration files to a data dir (the node must be stopped)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from performer_edge.cli.common import add_settings_flags, settings_from
from performer_edge.node import Node
from performer_edge.rest.migrations import apply_migrations, read_migration_files


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "migrate",
        help="apply .sql migrations (files, or directories of them in name order), each once",
    )
    add_settings_flags(parser, ["data", "synchronous"])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    files = read_migration_files(args.paths)
    node = Node.open(settings_from(args))
    try:
        results = apply_migrations(
            node.db, node.log, files, lambda name, status: print(f"{status:>9}  {name}")
        )
    finally:
        node.close()
    applied = sum(1 for _, status in results if status == "applied")
    print(f"{applied} applied, {len(results) - applied} already applied")
    return 0
