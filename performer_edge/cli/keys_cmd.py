"""`performer keys`: print the node's anon and service_role API keys."""

from __future__ import annotations

import argparse
import json
from typing import Any

from performer_edge.cli.common import add_settings_flags, settings_from
from performer_edge.core.datadir import DataDir


def register(commands: Any) -> None:
    parser = commands.add_parser("keys", help="print the anon and service_role API keys")
    add_settings_flags(parser, ["data", "jwt_secret"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    data_dir = DataDir(settings.data)
    data_dir.require_initialized()
    keys = data_dir.api_keys(data_dir.load_token_keys(settings.jwt_secret))
    if args.json:
        print(json.dumps(keys.as_dict()))
    else:
        print(f"anon key          {keys.anon_key}")
        print(f"service_role key  {keys.service_role_key}")
    return 0
