"""bench/sync.py's printed report: the catch-up table, the target, the per-event costs of the
receive path and the py-spy profiles (bench/sync.py measures; this prints)."""

from __future__ import annotations

from typing import Any

from common import ratio
from pyspy import PROFILE_RATE, print_profile_tables
from rich.console import Console
from rich.table import Table


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


def print_report(report: dict[str, Any]) -> None:
    console = Console(width=150)
    console.rule(f"Catch-up of {report['events']:,} events: a fresh node B syncs A's log")
    console.print(
        f"prefill of A (no server, synchronous=OFF, Node API): {report['prefill_seconds']:.1f} s "
        f"({report['prefill_rate']:,}/s); {report['cpus']} CPUs, load average "
        f"{report['load_average']['before']:.2f} before, {report['load_average']['after']:.2f} "
        f"after; {report['filesystem']}; both nodes synchronous=FULL; session batches of "
        f"{report['session_config']['batch_events']} events, window "
        f"{report['session_config']['window']}"
    )
    table = Table(title="Catch-up (times from B's spawn; A served from its prefilled data dir)")
    for col in (
        "transport",
        "events",
        "B up s",
        "1st event s",
        "all held s",
        "events/s",
        "streaming/s",
        "A CPU s",
        "B CPU s (startup)",
        "B CPU µs/event",
        "A RSS MiB (peak)",
        "B RSS MiB (peak)",
    ):
        table.add_column(col, justify="left" if col == "transport" else "right")
    for r in report["runs"]:
        if not r["completed"]:
            table.add_row(r["transport"], f"{r['events']:,}", "", "", r["error"], *[""] * 7)
            continue
        table.add_row(
            r["transport"],
            f"{r['events']:,}",
            f"{r['b_start_s']:.2f}",
            f"{r['first_event_s']:.2f}",
            f"{r['total_s']:.2f}",
            f"{r['rate']:,.0f}",
            f"{r['streaming_rate']:,.0f}",
            f"{r['a_cpu_s']:.2f}",
            f"{r['b_cpu_s']:.2f} ({r['b_cpu_startup_s']:.2f})",
            f"{(r['b_cpu_s'] - r['b_cpu_startup_s']) / r['events'] * 1e6:.0f}",
            f"{mib(r['a_rss_kib'])} ({mib(r['a_peak_rss_kib'])})",
            f"{mib(r['b_rss_kib'])} ({mib(r['b_peak_rss_kib'])})",
        )
    console.print(table)
    console.print(
        "events/s = A's whole log at B's start / (spawn → all held); streaming/s = the same "
        "events / (first event → all held). CPU: user + system of every thread over the catch-up "
        "(B's includes its startup, in brackets; B CPU µs/event leaves the startup out). RSS at "
        "completion, and the highest seen while polling (every poll); VmHWM: "
        + ", ".join(
            f"{r['transport']} A {mib(r['a_hwm_kib'])} / B {mib(r['b_hwm_kib'])} MiB"
            for r in report["runs"]
        )
    )
    for r in report["runs"]:
        s = r["b_sync"]
        console.print(
            f"B's /health sync after {r['transport']}: sessions opened {s.get('sessions_opened')},"
            f" closed {s.get('sessions_closed')}, peer faults {s.get('peer_faults')}, events "
            f"received {s.get('events_received')}"
        )
    t = report["target"]
    verdict = "HIT" if t["hit"] else "MISS"
    measured = f"{t['measured']:,}/s" if t["measured"] is not None else "not run"
    console.print(
        f"[bold]Target[/]: {t['what']} ≥ {t['minimum']:,}/s: measured {measured} → "
        f"[bold]{verdict}[/]"
    )
    console.print(f"Peer comparison: {report['peer']}.")
    console.print(f"Snapshot path: {report['snapshot_path']}.")
    c = report["per_event_costs_us"]
    table = Table(title="Per-event CPU of the receive path, in-process (µs per event)")
    table.add_column("step")
    table.add_column("µs/event", justify="right")
    table.add_column("ceiling alone (events/s, one core)", justify="right")
    for name, label in (
        ("decode_frame_us", f"CBOR decode of a {c['batch_events']:.0f}-event EVENTS frame"),
        ("from_wire_us", "WireEvent -> Event"),
        ("check_shape_us", "check_shape"),
        ("verify_signature_us", "Ed25519 verify, new VerifyKey per event (as bridge.py)"),
        ("verify_key_reused_us", "Ed25519 verify, one VerifyKey per origin (proposal)"),
        ("receive_total_us", "receive total before SQLite (rows 1-4)"),
        ("sender_encode_frame_us", "sender: to_wire + CBOR encode of a frame"),
    ):
        table.add_row(label, f"{c[name]:.2f}", f"{ratio(1e6, c[name]):,.0f}")
    console.print(table)
    budget = 1e6 / report["target"]["minimum"]
    cores = report["cpus"] or 1
    console.print(
        f"At the target a receiver has {budget:.0f} µs of one core per event "
        f"({budget * cores:.0f} µs if every one of the {cores} CPUs worked on it, the sender and "
        f"the bench included); Ed25519 verification alone takes {c['verify_signature_us']:.0f} µs "
        f"here, so per-event verification caps catch-up at "
        f"≈{ratio(1e6, c['verify_signature_us']):,.0f}/s on one core and "
        f"≈{ratio(1e6 * cores, c['verify_signature_us']):,.0f}/s on all {cores} (PyNaCl's cffi "
        "calls release the GIL: bridge.py spreads a batch's checks over up to 4 threads, which "
        "the SQLite writer then competes with)."
    )
    for profile in report["profiles"]:
        print_profiles(console, profile)


def print_profiles(console: Console, profile: dict[str, Any]) -> None:
    for who in ("receiver B", "sender A"):
        p = profile.get(who)
        if p is None:
            continue
        flag = "--idle (every thread, wall clock)" if "wall" in p else "--gil"
        console.rule(
            f"py-spy {flag}: {who} during a {profile['transport']} catch-up "
            f"({profile['rate']:,.0f} events/s while sampled, {PROFILE_RATE} Hz, "
            f"{p.get('seconds', 0):.1f} s sampled)"
        )
        if "error" in p:
            console.print(f"[red]py-spy failed:[/] {p['error']}")
            continue
        if "wall" in p:
            print_wall(console, p["wall"])
            continue
        print_profile_tables(console, p, inclusive=True)


def print_wall(console: Console, wall: dict[str, Any]) -> None:
    table = Table(title="Where each thread's wall time goes (share of wall, summed over threads)")
    for col in ("thread (count)", "bucket", "share of wall"):
        table.add_column(col, justify="right" if col == "share of wall" else "left")
    for name, entry in wall.items():
        for i, (bucket, share) in enumerate(entry["buckets"].items()):
            label = f"{name} ({entry['threads']})" if i == 0 else ""
            table.add_row(label, bucket, f"{share:.1%}")
    console.print(table)
