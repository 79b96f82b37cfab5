"""bench/event_log.py's report: the table of rates, the ratios with PASS/MISS, the ceilings."""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apsw
import cbor2
from common import percentile, ratio
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from event_log import Measurements

# Five fields, 117 bytes of canonical CBOR: an order-sized application event.
PAYLOAD: dict[str, Any] = {
    "order_id": "ord_7f3a9c21",
    "customer": "cus_48b1e0d2a6",
    "amount_cents": 12950,
    "currency": "EUR",
    "note": "2x espresso, 1x croissant, table 4",
}
LEVELS = (1, 16, 64)
TARGET_C1 = 0.80  # ours@c1 / raw one-per-txn
TARGET_C64 = 0.50  # ours@c64 / raw batched-1000


def filesystem_of(path: Path) -> dict[str, str]:
    """Mount point, device and type of the filesystem holding `path` (from /proc/mounts)."""
    resolved = str(path.resolve())
    best = {"mount": "?", "device": "?", "type": "unknown"}
    best_len = -1
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) < 3:
                    continue
                device, mount, fstype = parts[0], parts[1].replace("\\040", " "), parts[2]
                inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) > best_len:
                    best, best_len = {"mount": mount, "device": device, "type": fstype}, len(mount)
    except OSError:
        pass
    return best


def build_report(args: argparse.Namespace, work: Path, m: Measurements) -> dict[str, Any]:
    assert m.raw_txn is not None
    assert m.raw_batch is not None
    assert m.ours_off is not None
    raw_txn, raw_batch = m.raw_txn, m.raw_batch
    by_c = {r.concurrency: r for r in m.ours}
    probe = sorted(m.commit_probe)
    fsync_s = percentile(probe, 0.5)
    row_s = raw_batch.extra["per_row_insert_us"] / 1e6
    hop_s = m.hop_us / 1e6
    cpu_s = m.event_cpu["total_us"] / 1e6
    disk_ceiling = {c: c / (fsync_s + c * row_s) for c in LEVELS}
    # What ours must pay on top: one thread hop per commit, sign + CBOR per event. At c1 the
    # commit is exactly raw one-per-txn's, so use its measured time there.
    ours_ceiling = {
        c: c / ((1 / raw_txn.rate if c == 1 else fsync_s + c * row_s) + hop_s + c * cpu_s)
        for c in LEVELS
    }

    def item(value: float, target: float | None) -> dict[str, Any]:
        result = None if target is None else ("PASS" if value >= target else "MISS")
        return {"value": value, "target": target, "result": result}

    ratios = {
        "ours@c1 / raw one-per-txn": item(ratio(by_c[1].rate, raw_txn.rate), TARGET_C1),
        "ours@c64 / raw batched-1000": item(ratio(by_c[64].rate, raw_batch.rate), TARGET_C64),
        "ours@c16 / raw one-per-txn": item(ratio(by_c[16].rate, raw_txn.rate), None),
        "ours@c64 / raw one-per-txn": item(ratio(by_c[64].rate, raw_txn.rate), None),
    }
    return {
        "environment": {
            "python": platform.python_version(),
            "sqlite": apsw.sqlite_lib_version(),
            "apsw": apsw.apswversion(),
            "cpus": os.cpu_count(),
            "load_1min_before": m.load_before,
            "load_1min_after": m.load_after,
            "dir": str(work),
            "filesystem": filesystem_of(work),
            "seconds_per_run": args.seconds,
            "payload_bytes": len(cbor2.dumps(PAYLOAD, canonical=True)),
        },
        "raw": {"one_per_txn": asdict(raw_txn), "batched_1000": asdict(raw_batch)},
        "ours": {str(r.concurrency): asdict(r) for r in m.ours},
        "ours_c64_sync_off": asdict(m.ours_off),
        "ratios": ratios,
        "costs": {
            "empty_commit_ms_p10": percentile(probe, 0.1) * 1000,
            "empty_commit_ms_p50": fsync_s * 1000,
            "empty_commit_ms_p90": percentile(probe, 0.9) * 1000,
            "raw_one_per_txn_ms": 1000 / raw_txn.rate,
            "row_insert_us": row_s * 1e6,
            "batch_1000_commit_ms": raw_batch.extra["batch_commit_ms"],
            "thread_hop_us": m.hop_us,
            "noop_write_us": m.noop_write_us,
            "event_cpu": m.event_cpu,
        },
        "ceilings": {
            "disk_only": {str(c): v for c, v in disk_ceiling.items()},
            "with_our_fixed_costs": {str(c): v for c, v in ours_ceiling.items()},
            "disk_only_c64_vs_raw_batched": ratio(disk_ceiling[64], raw_batch.rate),
            "ours_c64_vs_raw_batched": ratio(ours_ceiling[64], raw_batch.rate),
            "ours_c1_vs_raw_one_per_txn": ratio(ours_ceiling[1], raw_txn.rate),
            "ours_c64_share_of_disk_ceiling": ratio(by_c[64].rate, disk_ceiling[64]),
            "ours_c64_share_of_our_ceiling": ratio(by_c[64].rate, ours_ceiling[64]),
        },
        "profiles": [{k: v for k, v in p.items() if k != "_text"} for p in m.profiles],
    }


def print_report(report: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    console = Console(width=max(110, Console().width))
    env = report["environment"]
    fs = env["filesystem"]
    console.print(
        f"[bold]Event log: durable appends/s[/] — Python {env['python']}, SQLite {env['sqlite']}, "
        f"{env['cpus']} CPUs, {env['seconds_per_run']:g} s per run, payload "
        f"{env['payload_bytes']} B CBOR"
    )
    console.print(f"dir {env['dir']} on {fs['device']} ({fs['type']}, mounted at {fs['mount']})")
    load = env["load_1min_before"]  # "after" includes this benchmark's own threads
    console.print(
        f"load average (1 min) {env['load_1min_before']:.2f} before, "
        f"{env['load_1min_after']:.2f} after"
        + (
            " [bold yellow]— other work shares these CPUs; expect noise[/]"
            if load > 0.75 * (env["cpus"] or 1)
            else ""
        )
    )
    if fs["type"] in ("tmpfs", "ramfs"):
        console.print("[bold red]warning:[/] a RAM filesystem: fsync is free, the numbers mislead")

    table = Table(title="Appends per second (WAL; synchronous=FULL unless marked)")
    for col in ("run", "appends/s", "commits", "avg group", "max group", "p50 ms", "p99 ms"):
        table.add_column(col, justify="left" if col == "run" else "right")
    raw = report["raw"]
    one, batch = raw["one_per_txn"], raw["batched_1000"]
    table.add_row(one["name"], f"{one['rate']:,.0f}", f"{one['commits']:,}", "1", "1", "", "")
    table.add_row(
        batch["name"], f"{batch['rate']:,.0f}", f"{batch['commits']:,}", "1000", "1000", "", ""
    )
    rows = [*report["ours"].values(), report["ours_c64_sync_off"]]
    for r in rows:
        name = r["name"] + (" (not durable)" if r["synchronous"] == "OFF" else "")
        table.add_row(
            name,
            f"{r['rate']:,.0f}",
            f"{r['commits']:,}",
            f"{r['avg_group']:.1f}",
            f"{r['max_group']}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
        )
    console.print(table)

    ratios = Table(title="Ratios")
    for col in ("ratio", "value", "target", "result"):
        ratios.add_column(col, justify="left" if col == "ratio" else "right")
    for name, item in report["ratios"].items():
        result = item["result"] or ""
        style = {"PASS": "green", "MISS": "red"}.get(result)
        ratios.add_row(
            name,
            f"{item['value']:.2f}",
            "" if item["target"] is None else f">= {item['target']:.2f}",
            f"[{style}]{result}[/]" if style else "",
        )
    console.print(ratios)

    costs, ceil = report["costs"], report["ceilings"]
    cpu = costs["event_cpu"]
    disk = ceil["disk_only"]
    ours = ceil["with_our_fixed_costs"]

    def reach(value: float, target: float) -> str:
        return "[green]reachable[/]" if value >= target else "[red]NOT reachable[/]"

    console.print(
        f"[bold]Costs:[/] almost empty durable commit {costs['empty_commit_ms_p50']:.3f} ms "
        f"(p10 {costs['empty_commit_ms_p10']:.3f}, p90 {costs['empty_commit_ms_p90']:.3f}); "
        f"raw one-row txn {costs['raw_one_per_txn_ms']:.3f} ms; row insert in a txn "
        f"{costs['row_insert_us']:.1f} µs; 1000-row commit {costs['batch_1000_commit_ms']:.2f} ms. "
        f"Ours also pays: asyncio<->thread hop {costs['thread_hop_us']:.0f} µs per commit "
        f"(no-op db.write {costs['noop_write_us']:.0f} µs), and per event Ed25519 sign "
        f"{cpu['sign_event_us']:.1f} µs + CBOR {cpu['cbor_payload_us']:.1f} µs + kind check "
        f"{cpu['kind_check_us']:.1f} µs."
    )
    console.print(
        "[bold]Ceiling (disk only):[/] a commit at concurrency c holds at most c events, so "
        "ours@c <= c / (fsync + c x row): "
        + ", ".join(f"c{c} {v:,.0f}/s" for c, v in disk.items())
        + f". Best possible ours@c64 = {disk['64']:,.0f}/s = "
        f"{ceil['disk_only_c64_vs_raw_batched']:.2f} x raw batched-1000: the "
        f"{TARGET_C64:.0%} target is {reach(ceil['disk_only_c64_vs_raw_batched'], TARGET_C64)} "
        f"for a writer with no per-event cost; ours@c64 is at "
        f"{ceil['ours_c64_share_of_disk_ceiling']:.0%} of it."
    )
    console.print(
        "[bold]Ceiling (with our fixed costs):[/] c / (commit + hop + c x (row + sign + CBOR)): "
        + ", ".join(f"c{c} {v:,.0f}/s" for c, v in ours.items())
        + f". ours@c1 <= {ceil['ours_c1_vs_raw_one_per_txn']:.2f} x raw one-per-txn "
        f"({TARGET_C1:.0%} target {reach(ceil['ours_c1_vs_raw_one_per_txn'], TARGET_C1)}); "
        f"ours@c64 <= {ceil['ours_c64_vs_raw_batched']:.2f} x raw batched-1000 "
        f"({TARGET_C64:.0%} target {reach(ceil['ours_c64_vs_raw_batched'], TARGET_C64)}); "
        f"ours@c64 is at {ceil['ours_c64_share_of_our_ceiling']:.0%} of it. The sync=OFF row "
        "is our path's CPU limit."
    )

    for p in profiles:
        c = p["concurrency"]
        r = p["result"]
        console.rule(
            f"profile: ours @ c{c}, {r['rate']:,.0f} appends/s under cProfile, "
            f"avg group {r['avg_group']:.1f}"
        )
        sql = Table(
            title=f"SQLite time per statement on the writer connection (c{c}); SQLite's "
            "timer ticks in ms, so per-call values are averages of coarse samples"
        )
        for col in ("statement", "count", "total ms", "µs/call", "share"):
            sql.add_column(col, justify="left" if col == "statement" else "right")
        for key, s in p["sql"].items():
            sql.add_row(
                key,
                f"{s['count']:,}",
                f"{s['total_ms']:,.1f}",
                f"{s['per_call_us']:,.1f}",
                f"{s['share']:.0%}",
            )
        console.print(sql)
        text = p["_text"]
        for title, key in (
            ("writer thread, top cumulative", "writer_cumulative"),
            ("writer thread, top self time", "writer_self"),
            ("event-loop thread, top cumulative", "loop_cumulative"),
            ("event-loop thread, top self time", "loop_self"),
        ):
            console.print(f"[bold]{title} (c{c})[/]")
            print(_trim_pstats(text[key]))


def _trim_pstats(text: str) -> str:
    """pstats output without its preamble: the header line and the rows."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("ncalls"):
            return "\n".join(lines[i:]).rstrip()
    return text.rstrip()
