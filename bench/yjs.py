"""Yjs convergence: our `/realtime/v1/yjs` against `@y/websocket-server` in the same run.

    .venv/bin/python bench/yjs.py [--clients 50] [--inserts 2000] [--repeats 3] [--json]

`--clients` stock y-websocket providers (one Node process, `bench/js/yjs_clients.mjs`) open one
fresh document; the first types `--inserts` characters, one Yjs update each, as fast as its
provider takes them; the time counts from the first insert until every other provider holds
all of them. The peers alternate who goes first, `--repeats` times; each one's best counts.

Durability differs and is printed: every update we relay is first an event committed with
`synchronous=FULL`; `@y/websocket-server` 0.1.1 keeps documents in memory only. Target: at
most 1.0x its time. `make bench-yjs` installs the Node side (`npm ci` in bench/js).

A benchmark, not a test: it always exits 0 (the target prints HIT/MISS) and stops both servers
and removes its temporary directory on any exit.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from auth_servers import Process, ensure_alive, free_port, performer_serve, stop_all, wait_for
from common import emit, log, ratio, run_script

JS = Path(__file__).resolve().parent / "js"
CLIENTS = JS / "yjs_clients.mjs"
PEER_SERVER = JS / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"
TARGET = 1.0


class OurNode(Process):
    name = "ours"

    def __init__(self, work: Path) -> None:
        self.data = work / "performer-data"
        self.stdout_path = work / "performer.stdout"
        self.service_key = ""

    def start(self) -> None:
        with open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                performer_serve(self.data), stdout=out, stderr=subprocess.DEVNULL
            )
        wait_for(self.proc, lambda: "JWT" in self.stdout_path.read_text(), "performer serve")
        for line in self.stdout_path.read_text().splitlines():
            if line.strip().startswith("API URL"):
                self.url = line.split()[-1]
            elif line.strip().startswith("service_role key"):
                self.service_key = line.split()[-1]

    def base(self) -> str:
        return self.url.replace("http://", "ws://") + "/realtime/v1/yjs"

    def params(self) -> list[str]:
        return [f"apikey={self.service_key}"]  # service_role: no document policy to write


class PeerServer(Process):
    name = "y-websocket-server"

    def start(self) -> None:
        self.port = free_port()
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.proc = subprocess.Popen(["node", str(PEER_SERVER)], env=env, stdout=subprocess.DEVNULL)
        wait_for(self.proc, lambda: _listening(self.port), "y-websocket-server")
        self.url = f"http://127.0.0.1:{self.port}"

    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def params(self) -> list[str]:
        return []


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def converge(server: OurNode | PeerServer, clients: int, inserts: int) -> dict[str, Any]:
    room = f"bench-{uuid.uuid4().hex[:8]}"
    command = ["node", str(CLIENTS), server.base(), room, str(clients), str(inserts)]
    done = subprocess.run(
        [*command, *server.params()], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"clients against {server.name} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    ours, peer = OurNode(work), PeerServer()
    servers = [ours, peer]
    try:
        for server in servers:
            server.start()
        best: dict[str, float] = {}
        for repeat in range(args.repeats):
            order = servers if repeat % 2 == 0 else servers[::-1]
            for server in order:
                log(f"repeat {repeat + 1}: {server.name}")
                result = converge(server, args.clients, args.inserts)
                best[server.name] = min(best.get(server.name, float("inf")), result["converge_ms"])
            ensure_alive(servers)
        share = ratio(best["ours"], best["y-websocket-server"])
        return {
            "clients": args.clients,
            "inserts": args.inserts,
            "ours_ms": round(best["ours"], 1),
            "peer_ms": round(best["y-websocket-server"], 1),
            "ratio": round(share, 2),
            "target": TARGET,
            "hit": share <= TARGET,
        }
    finally:
        stop_all(servers, work)


def print_report(report: dict[str, Any]) -> None:
    print(
        f"{report['clients']} clients, {report['inserts']} inserts: ours {report['ours_ms']} ms "
        "(every update committed, synchronous=FULL), @y/websocket-server "
        f"{report['peer_ms']} ms (memory only)"
    )
    verdict = "HIT" if report["hit"] else "MISS"
    print(f"ratio {report['ratio']}x (target <= {report['target']}x): {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--inserts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not PEER_SERVER.is_file():
        log("bench/js/node_modules is missing: run `make bench-yjs` (npm ci in bench/js)")
        return 1
    work = Path(tempfile.mkdtemp(prefix=".tmp-yjs-", dir=Path(__file__).parent))
    emit(measure(args, work), args.json, print_report)
    return 0


if __name__ == "__main__":
    run_script(main)
