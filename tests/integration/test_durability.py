"""Durability: kill -9 a node mid-load; after restart every acknowledged event is there.

Two ways in: the HTTP API (a real server process) and the writer itself (a child process that
appends from many threads and prints each acknowledgement as it gets it).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

CLIENTS = 16
KILL_AFTER_ACKS = 300
LOAD_DEADLINE_S = 60


async def load_until_killed(node: Any) -> dict[tuple[int, int], int]:
    """Append from CLIENTS tasks; SIGKILL the server once enough acks arrived. Acked -> seq."""
    acked: dict[tuple[int, int], int] = {}
    headers = {"apikey": node.key("service_role")}
    enough = asyncio.Event()

    async def client(session: aiohttp.ClientSession, number: int) -> None:
        n = 0
        while True:
            body = {"kind": "app.ack", "scope": f"c{number}", "payload": {"c": number, "n": n}}
            try:
                async with session.post(
                    f"{node.url}/performer/v1/events", json=body, headers=headers
                ) as response:
                    if response.status != 201:
                        return
                    created = (await response.json())["events"][0]
            except (aiohttp.ClientError, TimeoutError):
                return  # the server is gone: this request was never acknowledged
            acked[(number, n)] = created["seq"]
            n += 1
            if len(acked) >= KILL_AFTER_ACKS:
                enough.set()

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = [asyncio.create_task(client(session, i)) for i in range(CLIENTS)]
        await asyncio.wait_for(enough.wait(), LOAD_DEADLINE_S)
        node.proc.send_signal(signal.SIGKILL)  # requests are in flight right now
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    node.proc.wait(30)
    return acked


async def all_events(node: Any) -> list[dict[str, Any]]:
    headers = {"apikey": node.key("service_role")}
    events: list[dict[str, Any]] = []
    after = 0
    async with aiohttp.ClientSession() as session:
        while True:
            url = f"{node.url}/performer/v1/events?after={after}&limit=1000"
            async with session.get(url, headers=headers) as response:
                page = await response.json()
            if not page["events"]:
                return events
            events.extend(page["events"])
            after = page["next_after"]


def verify(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "performer_edge", "events", "verify", "--data", str(data)],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


def test_http_acknowledged_events_survive_sigkill(
    tmp_path: Path, serving: Callable[..., Any]
) -> None:
    data = tmp_path / "data"
    earlier: dict[int, Any] = {}
    for _ in range(2):  # two crash-restart cycles
        node = serving(data)
        acked = asyncio.run(load_until_killed(node))
        assert len(acked) >= KILL_AFTER_ACKS
        node = serving(data)
        stored = asyncio.run(all_events(node))
        by_seq = {e["seq"]: e for e in stored}
        assert len(by_seq) == len(stored), "duplicate sequence numbers"
        for (client, n), seq in acked.items():
            event = by_seq.get(seq)
            assert event is not None, f"acknowledged seq {seq} lost"
            assert event["payload"] == {"c": client, "n": n}
        assert sorted(by_seq) == list(range(1, len(stored) + 1)), "sequence is not dense"
        for seq, payload in earlier.items():  # the previous cycle's events are still there
            assert by_seq[seq]["payload"] == payload
        earlier = {seq: event["payload"] for seq, event in by_seq.items()}
        assert node.stop() == 0
        result = verify(data)
        assert result.returncode == 0, result.stdout + result.stderr


WRITER_CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from performer_edge.config import Settings
    from performer_edge.node import Node

    node = Node.open(Settings(data=Path(sys.argv[1])))
    lock = threading.Lock()

    def worker(number):
        n = 0
        while True:
            event = node.db.submit(
                lambda tx, n=n: node.log.append(tx, "app.ack", "w", {"c": number, "n": n})
            ).result()
            with lock:
                sys.stdout.write(f"{event.seq} {number} {n}\\n")
                sys.stdout.flush()
            n += 1

    for number in range(16):
        threading.Thread(target=worker, args=(number,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_writer_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_CHILD, str(data)], stdout=subprocess.PIPE, text=True
    )
    acked: dict[int, tuple[int, int]] = {}
    deadline = time.monotonic() + LOAD_DEADLINE_S
    assert proc.stdout is not None
    for line in proc.stdout:
        seq, client, n = map(int, line.split())
        acked[seq] = (client, n)
        if len(acked) >= 2000 or time.monotonic() > deadline:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    proc.stdout.close()
    assert len(acked) >= 500
    from performer_edge.config import Settings
    from performer_edge.core.log import iter_all
    from performer_edge.node import Node

    node = Node.open(Settings(data=data))
    try:
        stored = {e.seq: e.data for e in node.db.read_sync(lambda c: list(iter_all(c)))}
    finally:
        node.close()
    for seq, (client, n) in acked.items():
        assert stored.get(seq) == {"c": client, "n": n}, f"acknowledged seq {seq} lost"
    assert sorted(stored) == list(range(1, len(stored) + 1))
    result = verify(data)
    assert result.returncode == 0, result.stdout
