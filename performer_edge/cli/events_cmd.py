"""`performer events tail|verify`: read the log directly, beside a running node or without one."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.progress import Progress

from performer_edge.cli.common import add_settings_flags, open_readonly, settings_from
from performer_edge.core.datadir import DataDir
from performer_edge.core.events import Event
from performer_edge.core.log import last_position, read_after
from performer_edge.core.verify import verify_log

POLL_SECONDS = 0.25
PAYLOAD_PREVIEW = 120


def register(commands: Any) -> None:
    parser = commands.add_parser("events", help="read and check the event log")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    tail = actions.add_parser("tail", help="print the newest events; --follow keeps printing")
    add_settings_flags(tail, ["data"])
    tail.add_argument("-n", "--lines", type=int, default=20, help="how many recent events")
    tail.add_argument("-f", "--follow", action="store_true", help="wait for new events")
    tail.add_argument("--kind", action="append", default=[], help="only this kind (repeatable)")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.set_defaults(run=run_tail)

    verify = actions.add_parser("verify", help="check every signature and sequence")
    add_settings_flags(verify, ["data"])
    verify.set_defaults(run=run_verify)


def run_tail(args: argparse.Namespace) -> int:
    conn = open_readonly(DataDir(settings_from(args).data))
    try:
        start = max(0, last_position(conn) - max(args.lines, 0))
        position = _print_after(conn, start, args)
        while args.follow:
            time.sleep(POLL_SECONDS)
            position = _print_after(conn, position, args)
    finally:
        conn.close()
    return 0


def run_verify(args: argparse.Namespace) -> int:
    conn = open_readonly(DataDir(settings_from(args).data))
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("verifying", total=None)
            report = verify_log(
                conn, lambda done, total: progress.update(task, completed=done, total=total)
            )
    finally:
        conn.close()
    print(f"{report.events} events from {report.origins} origins checked")
    for problem in report.problems:
        print(f"  problem: {problem}")
    if report.ok:
        print("ok: every signature verifies and every origin's sequence is dense")
        return 0
    return 1


def _print_after(conn: Any, position: int, args: argparse.Namespace) -> int:
    while True:
        events = read_after(conn, position, 1000, kinds=args.kind)
        if not events:
            return position
        for event in events:
            print(_format(event, as_json=args.json), flush=True)
        position = events[-1].pos


def _format(event: Event, *, as_json: bool) -> str:
    view = event.to_json()
    if as_json:
        return json.dumps(view, ensure_ascii=False)
    payload = json.dumps(view["payload"], ensure_ascii=False, separators=(",", ":"))
    if len(payload) > PAYLOAD_PREVIEW:
        payload = payload[: PAYLOAD_PREVIEW - 1] + "…"
    origin = f"{event.origin.hex()[:12]}:{event.seq}"
    return f"{event.pos:>8}  {view['time']}  {origin}  {event.kind}  {event.scope}  {payload}"
