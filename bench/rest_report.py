"""bench/rest.py's report: ratios against the targets (HIT/MISS), tables, memory, durability."""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from auth_servers import Ours, PocketBase, filesystem_type
from common import ratio
from load import Result
from pyspy import print_profile
from rest_servers import OURS_BATCH, PB_BATCH, PocketBaseRest, RestPeer
from rich.console import Console
from rich.table import Table
from side_by_side import CLIENT_BOUND_SHARE, add_comparison, print_errors, rates_table

from performer_edge import __version__ as performer_version

GET = "get by id"
LIST = "list 50"
LIST_COUNT = "list 50 + exact count"
FLOOR = "health (HTTP floor)"
PB_CREATE = "create"
CREATE_TARGET = (64, 1.5)  # creates at c64: ours / PocketBase >= 1.5
READ_TARGET = 1.0  # every read cell: ours / PocketBase >= 1.0


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    warmups: list[Result] = field(default_factory=list)
    load_seconds: dict[str, float] = field(default_factory=dict)
    memory_after_load: dict[str, dict[str, int]] = field(default_factory=dict)
    memory_end: dict[str, dict[str, int]] = field(default_factory=dict)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0


def peer_op(op: str) -> str:
    """The PocketBase cell an op of ours is compared with (it has one create: the record)."""
    return PB_CREATE if op.startswith("create") else op


def target_of(op: str, level: int) -> float | None:
    if op.startswith("create"):
        return CREATE_TARGET[1] if level == CREATE_TARGET[0] else None
    return None if op == FLOOR else READ_TARGET


def build_report(
    args: argparse.Namespace,
    work: Path,
    ours: Ours,
    pb: PocketBase,
    peers: list[RestPeer],
    run: Run,
    load: tuple[float, float],
) -> dict[str, Any]:
    by_key = {(r.server, r.op, r.concurrency): r for r in run.results}
    ratios: dict[str, dict[str, Any]] = {}
    for r in run.results:
        if r.server != "ours":
            continue
        peer = by_key.get(("PocketBase", peer_op(r.op), r.concurrency))
        if peer is None:
            continue
        value = ratio(r.rate, peer.rate)
        target = target_of(r.op, r.concurrency)
        result = None if target is None else ("HIT" if value >= target else "MISS")
        ratios[f"{r.op} @ c{r.concurrency}"] = {"value": value, "target": target, "result": result}
    pb_peer = next(p for p in peers if isinstance(p, PocketBaseRest))
    return {
        "environment": {
            "python": platform.python_version(),
            "performer": performer_version,
            "pocketbase": pb.version,
            "pocketbase_binary": str(pb.binary),
            "cpus": os.cpu_count(),
            "load_1min_before": load[0],
            "load_1min_after": load[1],
            "dir": str(work),
            "filesystem": filesystem_type(work),
            "seconds_per_cell": args.seconds,
            "warmup_seconds": args.warmup,
            "rows": args.rows,
            "categories": args.categories,
            "max_requests": args.max_requests,
            "wall_seconds": run.wall_seconds,
            "ours_serve_args": ours.extra,
        },
        "durability": {
            "ours": {"synchronous": ours.synchronous, "journal_mode": "WAL"},
            "pocketbase": {
                "asked": pb_peer.synchronous,
                "read_back": pb_peer.pragmas,
                "how": "pb_hooks: PRAGMA synchronous = FULL on $app.nonconcurrentDB() after "
                "bootstrap (its only writer connection)"
                if pb_peer.synchronous == "FULL"
                else "as shipped: data.db opened with _pragma=synchronous(NORMAL)",
            },
        },
        "bulk_load": {
            name: {"seconds": seconds, "rows_per_second": ratio(args.rows, seconds)}
            for name, seconds in run.load_seconds.items()
        },
        "bulk_batch_rows": {"ours": OURS_BATCH, "PocketBase": PB_BATCH},
        "results": [asdict(r) for r in run.results],
        "warmups": [asdict(r) for r in run.warmups],
        "ratios": ratios,
        "memory_kib": {"after_load": run.memory_after_load, "end": run.memory_end},
        "profiles": run.profiles,
    }


# -- output ------------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    console = Console(width=max(190, Console().width))
    env, durability = report["environment"], report["durability"]
    console.print(
        f"[bold]/rest/v1 vs PocketBase records API[/] — Performer {env['performer']} (Python "
        f"{env['python']}) vs PocketBase {env['pocketbase']}, {env['cpus']} CPUs shared by both "
        f"servers and the client, {env['seconds_per_cell']:g} s per cell, loopback, "
        f"{env['rows']:,} rows in {env['categories']} categories; whole run "
        f"{env['wall_seconds']:.0f} s"
        + (
            f"; performer serve {' '.join(env['ours_serve_args'])}"
            if env["ours_serve_args"]
            else ""
        )
    )
    pb = durability["pocketbase"]
    read_back = "; ".join(
        f"{when}: synchronous={found['synchronous']}, journal_mode={found['journal_mode']}"
        for when, found in pb["read_back"].items()
    )
    console.print(
        f"[bold]Durability[/]: ours synchronous={durability['ours']['synchronous']} (WAL, fsync "
        f"per group commit); PocketBase asked {pb['asked']} — {pb['how']}; read back from its "
        f"writer connection at {read_back}"
    )
    load = env["load_1min_before"]
    console.print(
        f"dir {env['dir']} ({env['filesystem']}); load average (1 min) {load:.2f} before, "
        f"{env['load_1min_after']:.2f} after"
        + (
            " [bold yellow]— other work shares these CPUs; expect noise[/]"
            if load > 0.5 * (env["cpus"] or 1)
            else ""
        )
    )
    batches = report["bulk_batch_rows"]
    console.print(
        "[bold]Bulk load[/] (not a measured cell): "
        + "; ".join(
            f"{name} {item['seconds']:.1f} s = {item['rows_per_second']:,.0f} rows/s "
            f"({batches[name]} rows per request)"
            for name, item in report["bulk_load"].items()
        )
        + " — ours: POST /rest/v1/items with a JSON array (one durable write, one signed event "
        "per row); PocketBase: POST /api/batch (one transaction per batch)"
    )
    print_rates(console, report)
    print_ratios(console, report)
    memory = report["memory_kib"]
    console.print(
        "[bold]Server RSS[/]: "
        + "; ".join(
            f"{name} {after['rss_kib'] / 1024:.1f} MiB after the bulk load, "
            f"{memory['end'][name]['rss_kib'] / 1024:.1f} MiB after all cells, peak "
            f"{memory['end'][name]['peak_rss_kib'] / 1024:.1f} MiB"
            for name, after in memory["after_load"].items()
        )
    )
    console.print(
        "[bold]Reading it:[/] 'server CPU µs/op' is the server's user+system CPU per successful "
        "request (all threads); 'client CPU' is this process's share of one core, at >= "
        f"{CLIENT_BOUND_SHARE:.0%} the load generator is the limit. PocketBase's create answers "
        "with the record, so both of our create modes are compared with that one cell. The "
        "health rows (GET /health vs GET /api/health, no database) are each server's HTTP "
        "floor: a read's ratio cannot exceed much the floor's."
    )
    for profile in report["profiles"]:
        print_profile(console, profile, f"ours {profile['op']}", inclusive=True)


def print_rates(console: Console, report: dict[str, Any]) -> None:
    results = report["results"]
    by_key = {(r["server"], r["op"], r["concurrency"]): r for r in results}
    table = rates_table("operation (ours)")
    for mine in (r for r in results if r["server"] == "ours"):
        peer = by_key.get(("PocketBase", peer_op(mine["op"]), mine["concurrency"]))
        if peer is not None:
            add_comparison(table, mine["op"], mine, peer)
    console.print(table)
    print_errors(console, results)


def print_ratios(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="Ratios (ours / PocketBase) and targets")
    for col in ("cell", "value", "target", "result"):
        table.add_column(col, justify="left" if col == "cell" else "right")
    for name, item in report["ratios"].items():
        result = item["result"] or ""
        style = {"HIT": "green", "MISS": "red"}.get(result)
        table.add_row(
            name,
            f"{item['value']:.2f}x",
            "" if item["target"] is None else f">= {item['target']:.2f}x",
            f"[{style}]{result}[/]" if style else "",
        )
    console.print(table)
