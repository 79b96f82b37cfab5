"""`performer peers`: the running node's sync peers, asked over its HTTP API.

Sessions live in the serving process, so this asks it (`GET /performer/v1/peers`) at
http://HOST:PORT with the service_role key from the data dir.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from typing import Any

from performer_edge.cli.common import add_settings_flags, settings_from
from performer_edge.core.datadir import DataDir
from performer_edge.errors import PerformerError
from performer_edge.peers.routes import PEERS_PATH

COLUMNS = ("node", "state", "transport", "direction", "address", "seen", "lag", "behind", "faults")


def register(commands: Any) -> None:
    parser = commands.add_parser("peers", help="list the running node's sync peers")
    add_settings_flags(parser, ["data", "host", "port", "jwt_secret"])
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    answer = fetch_peers(args)
    if args.json:
        print(json.dumps(answer, indent=2))
    elif not answer["syncing"]:
        print("this node belongs to no cluster: it syncs with nobody")
    else:
        print_table(answer)
    return 0


def fetch_peers(args: argparse.Namespace) -> dict[str, Any]:
    """The running node's answer to `GET /performer/v1/peers` (PerformerError when no node
    answers at the configured host and port)."""
    settings = settings_from(args)
    data_dir = DataDir(settings.data)
    data_dir.require_initialized()
    key = data_dir.api_keys(data_dir.load_token_keys(settings.jwt_secret)).service_role_key
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{host}:{settings.port}{PEERS_PATH}"
    request = urllib.request.Request(url, headers={"apikey": key, "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise PerformerError(f"{url} answered {exc.code}: {exc.read()[:300]!r}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise PerformerError(
            f"no node answers at {url} ({exc}); is `performer serve` running there? "
            "(give --host and --port)"
        ) from exc
    return answer


def print_table(answer: dict[str, Any]) -> None:
    now = time.time()
    rows = [
        (
            (p["node_id"] or "?")[:12],
            p["state"],
            p["transport"],
            p["direction"],
            p["address"],
            f"{now - p['last_seen']:.0f}s ago",
            _count(p["lag_events"]),
            _count(p["behind_events"]),
            str(p["faults"]),
        )
        for p in answer["peers"]
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(COLUMNS, *rows, strict=False)]
    for row in (COLUMNS, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(no peers connected)")
    for peer, count in sorted(answer["faults"].items()):
        print(f"faults from {peer[:16]}: {count}")


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)
