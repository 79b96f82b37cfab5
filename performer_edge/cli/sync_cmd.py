"""`performer sync status`: where this node stands — what its log holds, what waits or lost in
merges, and, when it is serving, its peers' lag; `--watch` follows a catch-up with a progress
bar until no peer holds events this node lacks.

The log facts come from the data dir (read-only, safe beside a running server); sessions live
in the serving process, so the peers come from its HTTP API (`performer peers` does the same).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import apsw
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from performer_edge.cli.common import add_settings_flags, open_readonly, settings_from
from performer_edge.cli.peers_cmd import fetch_peers
from performer_edge.core.compaction import base_snapshot
from performer_edge.core.datadir import DataDir
from performer_edge.core.log import read_horizon, version_vector
from performer_edge.errors import PerformerError
from performer_edge.peers import membership
from performer_edge.rest.schema import pending_migrations

WATCH_POLL_S = 0.5


def register(commands: Any) -> None:
    parser = commands.add_parser("sync", help="this node's sync state")
    sub = parser.add_subparsers(dest="sync_command", metavar="SUBCOMMAND")
    sub.required = True
    status = sub.add_parser("status", help="log, merges and peers' lag (--watch: catch-up)")
    add_settings_flags(status, ["data", "host", "port", "jwt_secret"])
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument(
        "--watch",
        action="store_true",
        help="follow the catch-up with a progress bar until no peer has events this node lacks",
    )
    status.set_defaults(run=run_status)


def run_status(args: argparse.Namespace) -> int:
    data_dir = DataDir(settings_from(args).data)
    report = local_state(data_dir)
    try:
        answer = fetch_peers(args)
    except PerformerError as error:
        if args.watch:
            raise PerformerError(
                f"--watch needs the node to be serving: {error.message}"
            ) from error
        report["serving"] = f"not reachable: {error.message}"
    else:
        report["serving"] = "yes"
        report["peers"] = answer["peers"] if answer["syncing"] else []
    if args.watch:
        watch(args)
        return 0
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_status(report)
    return 0


def local_state(data_dir: DataDir) -> dict[str, Any]:
    member = membership.load(data_dir)
    conn = open_readonly(data_dir)
    try:
        vector = version_vector(conn)
        horizon = read_horizon(conn)
        base = base_snapshot(conn)
        return {
            "cluster_id": member.cluster_id.hex() if member else None,
            "events": vector.total(),
            "origins": {origin.hex(): seq for origin, seq in sorted(vector.items())},
            "compacted": {origin.hex(): seq for origin, seq in sorted(horizon.items())},
            "base_snapshot": (
                {"id": base.id, "bytes": base.size, "events": base.vector.total()} if base else None
            ),
            "pending_migrations": [
                {"name": name, "reason": reason} for name, _, reason in pending_migrations(conn)
            ],
            "hidden_rows": _counts(conn, "row_hidden"),
            "conflicts": _counts(conn, "row_conflicts"),
        }
    finally:
        conn.close()


def _counts(conn: apsw.Connection, table: str) -> dict[str, int]:
    sql = f"SELECT tbl, count(*) FROM {table} GROUP BY tbl ORDER BY tbl"
    rows: list[tuple[Any, ...]] = conn.execute(sql).fetchall()
    return {str(name): int(count) for name, count in rows}


def print_status(report: dict[str, Any]) -> None:
    cluster = report["cluster_id"]
    print(f"cluster     {cluster or '(none: this node syncs with nobody)'}")
    print(f"events      {report['events']} from {len(report['origins'])} origin(s)")
    compacted = report.get("compacted", {})
    for origin, seq in report["origins"].items():
        folded = compacted.get(origin, 0)
        note = f" (1-{folded} in the snapshot)" if folded else ""
        print(f"  {origin[:16]}  up to {seq}{note}")
    base = report.get("base_snapshot")
    if base:
        size, held = base["bytes"], base["events"]
        print(f"snapshot    {base['id'][:16]}, {size} bytes, {held} events of state")
    pending = report["pending_migrations"]
    print(f"migrations  {len(pending)} waiting" if pending else "migrations  none waiting")
    for item in pending:
        print(f"  {item['name']}: {item['reason']}")
    for key, label in (("hidden_rows", "hidden rows"), ("conflicts", "lost values")):
        counts = report[key]
        listed = ", ".join(f"{table} {n}" for table, n in counts.items()) or "none"
        print(f"{label:<11} {listed}")
    print(f"serving     {report['serving']}")
    for peer in report.get("peers", []):
        lag, behind = peer["lag_events"], peer["behind_events"]
        print(
            f"  peer {(peer['node_id'] or '?')[:12]} {peer['state']} over {peer['transport']}: "
            f"it lacks {'-' if lag is None else lag}, we lack {'-' if behind is None else behind}"
        )


def watch(args: argparse.Namespace) -> None:
    """A progress bar of events received against events still missing, until none is."""
    start: int | None = None
    columns = (TextColumn("catching up"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("catch-up", total=None)
        while True:
            answer = fetch_peers(args)
            live = [p for p in answer["peers"] if p["state"] == "live"]
            missing = max((p["behind_events"] or 0 for p in live), default=0)
            received = sum(p["events_received"] for p in answer["peers"])
            start = received if start is None else start
            done = received - start
            progress.update(task, completed=done, total=done + missing)
            if live and missing == 0:
                return
            time.sleep(WATCH_POLL_S)
