"""The sync benchmarks' shared parts: cluster membership on disk and `performer serve` nodes
whose heads are polled (bench/sync.py, bench/sync_snapshot.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
from auth_servers import Process, performer_serve
from nacl.signing import SigningKey

from performer_edge.core.datadir import DataDir
from performer_edge.peers import membership, trust

TRANSPORTS = {"websocket": "http://", "sse": "sse+http://"}
START_TIMEOUT_S = 60.0
FIRST_POLL_S = 0.01  # poll interval until B holds its first event


def join(data: Path, root: SigningKey) -> None:
    """Make `data` a member of `root`'s cluster (what `performer cluster join` leaves on disk)."""
    data_dir = DataDir(data)
    data_dir.initialize()
    node_id = data_dir.load_identity().public_key
    certificate = trust.issue(root, node_id, int(time.time() * 1000))
    membership.save(data_dir, membership.Membership(bytes(root.verify_key), certificate))


# -- the servers -----------------------------------------------------------------------------


class Serve(Process):
    """`performer serve` on 127.0.0.1 with a free port, stdout/stderr to files."""

    def __init__(self, name: str, data: Path, extra: list[str]) -> None:
        self.name = name
        self.data = data
        self.extra = extra
        self.key = ""
        self.spawned_at = 0.0
        self.ready_at = 0.0
        self.stdout_path = data.parent / f"{name}-{time.monotonic_ns()}.stdout"
        self.stderr_path = self.stdout_path.with_suffix(".stderr")

    def spawn(self) -> None:
        command = [*performer_serve(self.data), *self.extra]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.spawned_at = time.monotonic()
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=err, env=env, start_new_session=True
            )

    async def wait_ready(self) -> None:
        """Until the banner is printed (the socket listens, the dialer has started)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            lines = self.stdout_path.read_text(errors="replace").splitlines()
            if any(line.strip().startswith("JWT") for line in lines):
                self.ready_at = time.monotonic()
                for line in lines:
                    if line.strip().startswith("API URL"):
                        self.url = line.split()[-1]
                    elif line.strip().startswith("service_role key"):
                        self.key = line.split()[-1]
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited while starting:\n{self.tail()}")
            await asyncio.sleep(FIRST_POLL_S)
        raise RuntimeError(f"{self.name} did not start within {START_TIMEOUT_S:g} s")

    def tail(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-2000:]

    async def heads(self, http: aiohttp.ClientSession) -> dict[str, int]:
        headers = {"apikey": self.key, "Authorization": f"Bearer {self.key}"}
        async with http.get(f"{self.url}/performer/v1/events/heads", headers=headers) as r:
            r.raise_for_status()
            body = await r.json()
        return {origin: int(seq) for origin, seq in body["origins"].items()}

    async def health(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.get(f"{self.url}/health") as r:
            r.raise_for_status()
            body: dict[str, Any] = await r.json()
        return body


def held(target: dict[str, int], heads: dict[str, int]) -> int:
    return sum(min(seq, heads.get(origin, 0)) for origin, seq in target.items())
