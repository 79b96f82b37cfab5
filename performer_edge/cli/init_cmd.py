"""`performer init`: create a data dir with the node key, the JWT key and the API keys."""

from __future__ import annotations

import argparse
from typing import Any

from performer_edge.cli.common import add_settings_flags, settings_from
from performer_edge.core.datadir import DataDir
from performer_edge.node import Node


def register(commands: Any) -> None:
    parser = commands.add_parser("init", help="create a data dir: node identity, keys, database")
    add_settings_flags(parser, ["data", "synchronous"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    was_there = DataDir(settings.data).is_initialized()
    node = Node.open(settings)
    try:
        verb = "already initialized" if was_there else "initialized"
        print(f"{settings.data}: {verb}")
        print(f"node id   {node.identity.node_id}")
        print(f"JWT kid   {node.tokens.kid}")
        print("API keys  performer keys --data " + str(settings.data))
    finally:
        node.close()
    return 0
