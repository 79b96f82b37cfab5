"""Sampling our server with `py-spy record --gil` while a load runs, and summarising the samples:
our server is one Python process, so GIL-held time is the serial resource every request wants."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from load import Result
from rich.console import Console
from rich.table import Table

PROFILE_TOP = 18
PROFILE_RATE = 200

# (bucket label, a substring of a frame): a sample goes to the first rule found in its stack.
Buckets = tuple[tuple[str, str], ...]


def summarize_pyspy(raw: str, ticks: float, buckets: Buckets) -> dict[str, Any]:
    """Aggregate py-spy's raw stacks recorded with `--gil` (only the thread holding the GIL is
    sampled): the share of wall time each thread, bucket and leaf frame held the GIL. A bucket is
    a heuristic over function names: "other" is what no rule claims, so a rename shows up there
    rather than being misfiled."""
    per_thread: Counter[str] = Counter()
    by_bucket: Counter[str] = Counter()
    self_time: Counter[tuple[str, str]] = Counter()
    inclusive: Counter[tuple[str, str]] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = re.sub(r"_\d+$", "", re.sub(r"^thread \(\d+\): ", "", frames[0]))
        frames = frames[1:]
        total += count
        per_thread[thread] += count
        joined = ";".join(frames)
        label = next((name for name, pattern in buckets if pattern in joined), "other")
        by_bucket[f"{label} [{thread}]" if label == "other" else label] += count
        if frames:
            self_time[(thread, frames[-1])] += count
        for frame in set(frames):
            if "performer_edge/" in frame and "performer_edge/cli/" not in frame:
                inclusive[(thread, frame)] += count

    def share(n: int) -> float:
        return n / ticks if ticks else 0.0

    def top(counter: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
        return [
            {"thread": t, "frame": f, "samples": n, "share_of_wall": share(n)}
            for (t, f), n in counter.most_common(PROFILE_TOP)
        ]

    return {
        "samples": total,
        "ticks": ticks,
        "gil_held_share": share(total),
        "threads": {t: share(n) for t, n in per_thread.most_common()},
        "buckets": {b: share(n) for b, n in by_bucket.most_common()},
        "self": top(self_time),
        "inclusive_performer_frames": top(inclusive),
    }


async def profile_during(
    pyspy: Path,
    pid: int,
    seconds: float,
    out: Path,
    load: Callable[[float], Awaitable[Result]],
    buckets: Buckets,
) -> dict[str, Any]:
    """Run `load(duration)` while py-spy samples the thread of `pid` holding the GIL."""
    duration = max(1, round(seconds))
    command = [
        str(pyspy),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(duration),
        "--rate",
        str(PROFILE_RATE),
        "--format",
        "raw",
        "--threads",
        "--gil",
        "--output",
        str(out),
    ]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    await asyncio.sleep(0.3)  # py-spy attaches
    result = await load(duration + 0.5)
    output, _ = await proc.communicate()
    if proc.returncode != 0 or not await asyncio.to_thread(out.exists):
        return {"error": output.decode(errors="replace").strip()[-500:]}
    summary = summarize_pyspy(
        await asyncio.to_thread(out.read_text), duration * PROFILE_RATE, buckets
    )
    summary["result"] = asdict(result)
    return summary


def print_profile(
    console: Console, profile: dict[str, Any], what: str, *, inclusive: bool = False
) -> None:
    """`what` names the profiled load ("ours refresh"); `inclusive` adds our frames' totals."""
    if "error" in profile:
        console.print(f"[red]py-spy failed:[/] {profile['error']}")
        return
    r = profile["result"]
    console.rule(
        f"py-spy --gil: {what} @ c{r['concurrency']}, {r['rate']:,.0f}/s while sampled "
        f"({PROFILE_RATE} Hz, blocking: slower than unprofiled), server "
        f"{r['server_cpu_cores']:.2f} cores"
    )
    print_profile_tables(console, profile, inclusive=inclusive)


def print_profile_tables(
    console: Console, profile: dict[str, Any], *, inclusive: bool = False
) -> None:
    """The GIL share per thread, the buckets and the top frames of one `summarize_pyspy`."""
    console.print(
        f"GIL held ≈{profile['gil_held_share']:.0%} of wall time: "
        + ", ".join(f"{name} {value:.0%}" for name, value in profile["threads"].items())
        + ". Shares below are of wall time (≈ samples / (seconds x rate))."
    )
    table = Table(title="GIL-held time by what the code was doing (heuristic buckets)")
    table.add_column("bucket")
    table.add_column("share of wall", justify="right")
    for name, value in profile["buckets"].items():
        table.add_row(name, f"{value:.1%}")
    console.print(table)
    sections = [("self", "Top leaf frames holding the GIL")]
    if inclusive:
        sections.append(("inclusive_performer_frames", "Our frames, inclusive of callees"))
    for key, title in sections:
        table = Table(title=title)
        for col in ("thread", "frame", "share of wall"):
            table.add_column(col, justify="right" if col == "share of wall" else "left")
        for row in profile[key]:
            table.add_row(row["thread"], row["frame"], f"{row['share_of_wall']:.1%}")
        console.print(table)
