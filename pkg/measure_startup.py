"""Measure the built `performer` binary: time from exec to the first 200 on /health, and idle RSS.

    .venv/bin/python pkg/measure_startup.py                 # dist/performer, 5 runs
    .venv/bin/python pkg/measure_startup.py -n 9 --binary /path/to/performer

Every run starts `performer serve` on a fresh data dir (so the first-start work, creating the
identity, keys and database, is included; `--reuse-data` measures restarts instead) and a free
loopback port, polls /health until it answers 200, waits `--idle` seconds, then reads VmRSS of the
onefile bootloader (the process we started) and of its descendants (the Python child) from
/proc/<pid>/status, and stops the node with SIGTERM. It also times `performer --version`, which is
the same extraction and import work without opening a node. Prints medians; Linux only.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = ROOT / "dist" / "performer"


@dataclass
class Run:
    startup_s: float
    parent_rss_kb: int
    child_rss_kb: int
    exit_code: int | None

    @property
    def total_rss_kb(self) -> int:
        return self.parent_rss_kb + self.child_rss_kb


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int:
    """VmRSS of one process in kB (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, found by scanning the parent pid of each /proc entry."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the ppid; the command name (field 2) is in parentheses and may hold spaces.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def wait_healthy(url: str, proc: subprocess.Popen[bytes], deadline_s: float) -> float:
    """Poll `url` until it answers 200; return the seconds that took. Raises on timeout or exit."""
    start = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"performer exited with {proc.returncode} before /health answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.perf_counter() - start > deadline_s:
            raise TimeoutError(f"{url} did not answer 200 within {deadline_s} s")
        time.sleep(0.005)


def measure_once(binary: Path, data_dir: Path, idle_s: float, deadline_s: float) -> Run:
    port = free_port()
    command = [str(binary), "serve", "--data", str(data_dir), "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, deadline_s)
        startup = time.perf_counter() - start
        time.sleep(idle_s)
        parent = rss_kb(proc.pid)
        child = sum(rss_kb(pid) for pid in descendants(proc.pid))
        proc.send_signal(signal.SIGTERM)
        code: int | None = proc.wait(timeout=15)
    except BaseException:
        proc.kill()
        proc.wait()
        sys.stderr.write(proc.stderr.read().decode(errors="replace") if proc.stderr else "")
        raise
    finally:
        if proc.stderr:
            proc.stderr.close()
    return Run(startup, parent, child, code)


def time_version(binary: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(binary), "--version"], check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--binary", type=Path, default=DEFAULT_BINARY)
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=1.0, help="seconds idle before reading RSS")
    parser.add_argument("--deadline", type=float, default=30.0, help="give up on /health after")
    parser.add_argument("--reuse-data", action="store_true", help="one data dir for every run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    binary: Path = args.binary.resolve()
    if not binary.is_file():
        parser.error(f"{binary} does not exist (run `make binary`)")

    versions = [time_version(binary) for _ in range(args.runs)]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="performer-measure-") as tmp:
        for i in range(args.runs):
            data_dir = Path(tmp) / ("data" if args.reuse_data else f"data{i}")
            run = measure_once(binary, data_dir, args.idle, args.deadline)
            runs.append(run)
            if not args.json:
                print(
                    f"run {i + 1}: startup {run.startup_s * 1000:7.1f} ms  "
                    f"rss parent {run.parent_rss_kb / 1024:5.1f} MiB  "
                    f"child {run.child_rss_kb / 1024:5.1f} MiB  "
                    f"total {run.total_rss_kb / 1024:5.1f} MiB  exit {run.exit_code}"
                )

    summary = {
        "binary": str(binary),
        "size_bytes": binary.stat().st_size,
        "runs": args.runs,
        "version_median_s": statistics.median(versions),
        "startup_median_s": statistics.median(r.startup_s for r in runs),
        "startup_max_s": max(r.startup_s for r in runs),
        "parent_rss_median_kb": statistics.median(r.parent_rss_kb for r in runs),
        "child_rss_median_kb": statistics.median(r.child_rss_kb for r in runs),
        "total_rss_median_kb": statistics.median(r.total_rss_kb for r in runs),
        "exit_codes": [r.exit_code for r in runs],
        "detail": [asdict(r) for r in runs],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{binary} ({summary['size_bytes'] / 1e6:.1f} MB)\n"
            f"  --version         median {summary['version_median_s'] * 1000:7.1f} ms\n"
            f"  serve to /health  median {summary['startup_median_s'] * 1000:7.1f} ms"
            f"  (max {summary['startup_max_s'] * 1000:.1f} ms)\n"
            f"  idle RSS          median parent {summary['parent_rss_median_kb'] / 1024:.1f} MiB"
            f" + child {summary['child_rss_median_kb'] / 1024:.1f} MiB"
            f" = {summary['total_rss_median_kb'] / 1024:.1f} MiB"
        )
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
