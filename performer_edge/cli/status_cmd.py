"""`performer status`: what a data dir holds and whether a node is serving it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from performer_edge.cli.common import add_settings_flags, open_readonly, settings_from
from performer_edge.config import public_view
from performer_edge.core import hlc
from performer_edge.core.datadir import DataDir
from performer_edge.core.log import count_events, latest_hlc, version_vector


def register(commands: Any) -> None:
    parser = commands.add_parser("status", help="show a data dir's node, log and server state")
    add_settings_flags(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    data_dir = DataDir(settings.data)
    data_dir.require_initialized()
    info = data_dir.node_info()
    state: dict[str, Any] = {
        "node_id": info.get("node_id"),
        "data": str(settings.data),
        "serving_pid": data_dir.lock_holder(),
    }
    if data_dir.db_path.exists():
        conn = open_readonly(data_dir)
        try:
            vector = version_vector(conn)
            latest = latest_hlc(conn, dict(vector))
            state["events"] = count_events(conn)
            state["origins"] = {o.hex(): seq for o, seq in vector.items()}
            state["last_event_time"] = hlc.to_iso(latest) if latest else None
        finally:
            conn.close()
        state["db_bytes"] = sum(
            p.stat().st_size for p in data_dir.root.glob("performer.db*") if p.is_file()
        )
    else:
        state["events"] = 0
    state["settings"] = public_view(settings)
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    serving = state["serving_pid"]
    print(f"node id      {state['node_id']}")
    print(f"data         {state['data']}")
    print(f"serving      {'pid ' + str(serving) if serving else 'no'}")
    print(f"events       {state['events']}")
    for origin, seq in state.get("origins", {}).items():
        print(f"  origin {origin[:16]}  {seq} events")
    if state.get("last_event_time"):
        print(f"last event   {state['last_event_time']}")
    if "db_bytes" in state:
        print(f"database     {state['db_bytes']} bytes")
    return 0
