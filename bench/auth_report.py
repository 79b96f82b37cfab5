"""bench/auth.py's report: ratios, PASS/MISS and tables from one run's measurements."""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from auth_servers import (
    FLOOR,
    OPS,
    PASSWORD,
    REFRESH_TARGET,
    Ours,
    PocketBase,
    filesystem_type,
)
from common import ratio
from load import Result
from pyspy import print_profile
from rich.console import Console
from rich.table import Table
from side_by_side import CLIENT_BOUND_SHARE, add_comparison, print_errors, rates_table

from performer_edge import __version__ as performer_version
from performer_edge.auth import passwords
from performer_edge.core.tokens import TokenKeys, generate_es256_key


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    warmups: list[Result] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)


def token_costs_us(seconds: float = 0.6) -> dict[str, float]:
    """µs per call, in this process, of the token work our server does on every refresh: verify
    the anon apikey (ES256), sign the new access token (ES256), derive the key's `kid`."""
    keys = TokenKeys(generate_es256_key())
    anon = keys.sign({"iss": "performer", "role": "anon", "iat": 0, "exp": 2**31 - 1})
    claims = {
        "iss": "http://127.0.0.1/auth/v1",
        "sub": "8d4f3c2a-5b6e-4f70-9a81-2b3c4d5e6f70",
        "aud": "authenticated",
        "exp": 2**31 - 1,
        "iat": 0,
        "email": "bench-0@example.com",
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": 0}],
        "session_id": "0f1e2d3c-4b5a-4968-8776-655443322110",
        "is_anonymous": False,
    }
    parts: dict[str, Callable[[], object]] = {
        "apikey_verify_es256_us": lambda: keys.verify(anon),
        "access_token_sign_es256_us": lambda: keys.sign(claims),
        "kid_us": lambda: keys.kid,
    }
    out: dict[str, float] = {}
    for name, fn in parts.items():
        n = 0
        started = time.perf_counter()
        deadline = started + seconds / len(parts)
        while n < 20 or time.perf_counter() < deadline:
            fn()
            n += 1
        out[name] = (time.perf_counter() - started) / n * 1e6
    return out


def argon2_verify_ms() -> float:
    """ms per argon2id verify with our parameters, in this process (one thread)."""
    hashed = passwords.hash_password(PASSWORD)
    started = time.perf_counter()
    n = 5
    for _ in range(n):
        passwords.verify_password(hashed, PASSWORD)
    return (time.perf_counter() - started) / n * 1000


def build_report(
    args: argparse.Namespace,
    work: Path,
    ours: Ours,
    pb: PocketBase,
    run: Run,
    memory: dict[str, dict[str, int]],
    load: tuple[float, float],
) -> dict[str, Any]:
    by_key = {(r.server, r.op, r.concurrency): r for r in run.results}
    ratios: dict[str, dict[str, Any]] = {}
    for op in OPS:
        for level in args.concurrency:
            mine, peer = by_key[(ours.name, op, level)], by_key[(pb.name, op, level)]
            value = ratio(mine.rate, peer.rate)
            target = REFRESH_TARGET if op == "refresh" else None
            result = None if target is None else ("PASS" if value >= target else "MISS")
            ratios[f"{op} @ c{level}"] = {"value": value, "target": target, "result": result}
    cost_setting = pb.password_cost_setting
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
            "seconds_per_run": args.seconds,
            "warmup_seconds": args.warmup,
            "users": args.users,
            "concurrency": args.concurrency,
            "max_requests": args.max_requests,
            "sqlite_synchronous": {"ours": ours.synchronous, "pocketbase": "NORMAL"},
            "ours_serve_args": ours.extra,
            "ours_jwt": ours.jwt_algorithm,
        },
        "hashing": {
            "ours": {
                "algorithm": "argon2id (libsodium)",
                "opslimit": passwords.OPSLIMIT,
                "memlimit_bytes": passwords.MEMLIMIT,
                "lanes": 1,
                "verify_ms_here": argon2_verify_ms(),
            },
            "pocketbase": {
                "algorithm": "bcrypt",
                "cost_from_stored_hash": pb.stored_bcrypt_cost(),
                "cost_setting": cost_setting,
                "note": "PasswordField.Cost 0 falls back to Go's bcrypt.DefaultCost (10)",
            },
            "pocketbase_rate_limits_were_enabled": pb.rate_limits_were_enabled,
        },
        "results": [asdict(r) for r in run.results],
        "warmups": [asdict(r) for r in run.warmups],
        "ratios": ratios,
        "refresh_target_met": all(
            item["result"] == "PASS" for item in ratios.values() if item["target"] is not None
        ),
        "memory_after_run_kib": memory,
        "ours_token_costs_us_here": token_costs_us(),
        "profile": run.profile,
    }


# -- output ------------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    console = Console(width=max(160, Console().width))
    env, hashing = report["environment"], report["hashing"]
    console.print(
        f"[bold]Auth: password sign-ins/s and token refreshes/s[/] — Performer "
        f"{env['performer']} (Python {env['python']}) vs PocketBase {env['pocketbase']}, "
        f"{env['cpus']} CPUs shared by both servers and the client, {env['seconds_per_run']:g} s "
        f"per run, {env['users']} users, loopback; our JWTs {env['ours_jwt']} (PocketBase's "
        "HS256)"
        + (
            f"; performer serve {' '.join(env['ours_serve_args'])}"
            if env["ours_serve_args"]
            else ""
        )
    )
    load = env["load_1min_before"]
    console.print(
        f"dir {env['dir']} ({env['filesystem']}); SQLite synchronous: ours "
        f"{env['sqlite_synchronous']['ours']}, PocketBase NORMAL (its default: WAL, no fsync per "
        f"commit); load average (1 min) {load:.2f} before, {env['load_1min_after']:.2f} after"
        + (
            " [bold yellow]— other work shares these CPUs; expect noise[/]"
            if load > 0.5 * (env["cpus"] or 1)
            else ""
        )
    )
    ours_hash, pb_hash = hashing["ours"], hashing["pocketbase"]
    cost = pb_hash["cost_from_stored_hash"]
    console.print(
        f"[bold]Password hashing[/] (sign-in cost is dominated by it): ours argon2id "
        f"opslimit={ours_hash['opslimit']} (passes), memlimit={ours_hash['memlimit_bytes']:,} B "
        f"({ours_hash['memlimit_bytes'] / 2**20:g} MiB), 1 lane, {ours_hash['verify_ms_here']:.1f} "
        f"ms per verify here; PocketBase bcrypt cost "
        f"{cost if cost is not None else 'not determined'} (read from a stored hash; the users "
        f"collection's password field sets cost={pb_hash['cost_setting']}, and 0 means Go's "
        f"bcrypt.DefaultCost = 10)"
    )

    results = report["results"]
    by_key = {(r["server"], r["op"], r["concurrency"]): r for r in results}
    table = rates_table("operation")
    levels = sorted({r["concurrency"] for r in results})
    for op in (*OPS, FLOOR):
        for level in levels:
            mine, peer = by_key.get(("ours", op, level)), by_key.get(("PocketBase", op, level))
            if mine is not None and peer is not None:
                add_comparison(table, op, mine, peer)
    console.print(table)
    print_errors(console, results)

    ratios = Table(title="Ratios (ours / PocketBase)")
    for col in ("ratio", "value", "target", "result"):
        ratios.add_column(col, justify="left" if col == "ratio" else "right")
    for name, item in report["ratios"].items():
        result = item["result"] or ""
        style = {"PASS": "green", "MISS": "red"}.get(result)
        ratios.add_row(
            name,
            f"{item['value']:.2f}x",
            "" if item["target"] is None else f">= {item['target']:.2f}x",
            f"[{style}]{result}[/]" if style else "",
        )
    console.print(ratios)

    memory = report["memory_after_run_kib"]
    console.print(
        "[bold]Server memory after the run[/]: "
        + "; ".join(
            f"{name} RSS {m['rss_kib'] / 1024:.1f} MiB (peak {m['peak_rss_kib'] / 1024:.1f} MiB)"
            for name, m in memory.items()
        )
    )
    console.print(
        "[bold]Reading it:[/] 'server CPU µs/op' is the server process's user+system CPU per "
        "successful request (all threads); for sign-in it is mostly the password hash, so "
        f"{env['cpus']} CPUs / that cost bounds sign-ins/s. 'client CPU' is this process's share "
        f"of one core; at >= {CLIENT_BOUND_SHARE:.0%} the load generator, not the server, is the "
        "limit. PocketBase's refresh only verifies and re-signs an HS256 JWT after one indexed "
        "read (no write); ours rotates the refresh token (a durable write) and signs an ES256 JWT."
    )
    costs = report["ours_token_costs_us_here"]
    refresh_cpu = [
        r["server_cpu_us_per_op"] for r in results if r["server"] == "ours" and r["op"] == "refresh"
    ]
    console.print(
        f"[bold]Our token work per refresh[/] (default ES256 keys), timed in this process: verify "
        f"the anon apikey "
        f"(ES256) {costs['apikey_verify_es256_us']:.0f} µs, sign the access token (ES256) "
        f"{costs['access_token_sign_es256_us']:.0f} µs, derive `kid` (done per sign and per "
        f"verify) {costs['kid_us']:.0f} µs; our server spent "
        + " / ".join(f"{v:,.0f}" for v in refresh_cpu)
        + " µs of CPU per refresh in the runs above."
    )
    profile = report["profile"]
    if profile:
        print_profile(console, profile, "ours refresh")


# -- main ----------------------------------------------------------------------------------------
