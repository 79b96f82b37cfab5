"""The side-by-side rate table the peer benchmarks print: one row per (op, level), ours | peer."""

from __future__ import annotations

from typing import Any

from common import ratio
from rich.console import Console
from rich.table import Table

CLIENT_BOUND_SHARE = 0.85  # the client's share of one core beyond which the client is the limit


def rates_table(first_column: str) -> Table:
    table = Table(title="Requests per second (successful responses), side by side")
    table.add_column(first_column, no_wrap=True)
    for col in (
        "c",
        "ours /s",
        "PocketBase /s",
        "ours/peer",
        "ours p50/p99 ms",
        "peer p50/p99 ms",
        "server CPU µs/op ours | peer",
        "server cores ours | peer",
        "client CPU",
        "errors ours | peer",
    ):
        table.add_column(col, justify="right")
    return table


def add_comparison(table: Table, op: str, mine: dict[str, Any], peer: dict[str, Any]) -> None:
    """One row from two `load.Result`s as dicts (the same level)."""
    client = max(mine["client_cpu_share"], peer["client_cpu_share"])
    client_text = f"{client:.0%}"
    if client >= CLIENT_BOUND_SHARE:
        client_text = f"[yellow]{client_text}[/]"
    table.add_row(
        op,
        str(mine["concurrency"]),
        f"{mine['rate']:,.0f}",
        f"{peer['rate']:,.0f}",
        f"{ratio(mine['rate'], peer['rate']):.2f}",
        f"{mine['p50_ms']:.2f} / {mine['p99_ms']:.2f}",
        f"{peer['p50_ms']:.2f} / {peer['p99_ms']:.2f}",
        f"{mine['server_cpu_us_per_op']:,.0f} | {peer['server_cpu_us_per_op']:,.0f}",
        f"{mine['server_cpu_cores']:.2f} | {peer['server_cpu_cores']:.2f}",
        client_text,
        f"{mine['errors']} | {peer['errors']}",
    )


def print_errors(console: Console, results: list[dict[str, Any]]) -> None:
    for r in results:
        if r["errors"]:
            console.print(
                f"[red]{r['server']} {r['op']} @ c{r['concurrency']}: {r['errors']} errors[/], "
                f"most common: {r['first_error']}"
            )
