"""Shared fixtures: a data dir in tmp_path, an opened node, a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from performer_edge.config import Settings
from performer_edge.http.app import make_app
from performer_edge.node import Node


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a writer or reader thread running (a node it forgot to close)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    leaked = [
        t.name
        for t in threading.enumerate()
        if t.ident not in before and t.name.startswith("performer-") and t.is_alive()
    ]
    assert not leaked, f"threads leaked by the test: {leaked}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data=tmp_path / "data", port=0)


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    opened = Node.open(settings)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
async def server(node: Node) -> AsyncIterator[TestServer]:
    node.bus.attach(asyncio.get_running_loop())
    test_server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class RunningNode:
    """A `performer serve` subprocess on 127.0.0.1 with a free port; stderr goes to `log_path`."""

    def __init__(self, proc: subprocess.Popen[str], url: str, banner: str, log_path: Path) -> None:
        self.proc = proc
        self.url = url
        self.banner = banner
        self.log_path = log_path

    def key(self, role: str) -> str:
        label = "service_role key" if role == "service_role" else "anon key"
        for line in self.banner.splitlines():
            if line.strip().startswith(label):
                return line.split()[-1]
        raise AssertionError(f"no {label} in banner:\n{self.banner}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def performer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "performer_edge", *args]


def start_serving(data: Path, *extra: str, timeout: float = 60) -> RunningNode:
    """Start a node and wait (on a condition, with a generous deadline) until it listens."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = performer_command("serve", "--data", str(data), "--port", "0", *extra)
    log_path = data.parent / f"{data.name}-serve-{time.monotonic_ns()}.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env
        )
    lines: list[str] = []
    ready = threading.Event()

    def read_banner() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.strip().startswith("JWT"):
                ready.set()
        ready.set()

    threading.Thread(target=read_banner, name="banner-reader", daemon=True).start()
    if ready.wait(timeout) and any(x.strip().startswith("JWT") for x in lines):
        url = next(x.split()[-1] for x in lines if x.strip().startswith("API URL"))
        return RunningNode(proc, url, "".join(lines), log_path)
    proc.kill()
    proc.wait(10)
    raise AssertionError(f"node did not start: {''.join(lines)}\n{log_path.read_text()}")


def serve_module(
    tmp_path_factory: pytest.TempPathFactory, name: str, *extra: str
) -> Iterator[RunningNode]:
    """A node shared by one test module: `yield from` it in a module-scoped fixture."""
    running = start_serving(tmp_path_factory.mktemp(name) / "data", *extra)
    yield running
    stop_serving(running)


def stop_serving(running: RunningNode) -> None:
    """Stop the node and close the pipe its banner came through."""
    running.stop()
    if running.proc.stdout is not None:
        running.proc.stdout.close()


def signed_up(node: RunningNode, password: str = "correct-horse-1") -> tuple[Any, str]:
    """A supabase-py client signed up as a new user (its requests carry the user's JWT), and
    the user's id."""
    from supabase import create_client

    client = create_client(node.url, node.key("anon"))
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    response = client.auth.sign_up({"email": email, "password": password})
    assert response.user is not None
    return client, response.user.id


@pytest.fixture(scope="module")
def service(node: RunningNode) -> Any:
    """supabase-py with the service_role key, for the module's `node` fixture."""
    from supabase import create_client

    return create_client(node.url, node.key("service_role"))


@pytest.fixture(scope="module")
def anon(node: RunningNode) -> Any:
    """supabase-py with the anon key, for the module's `node` fixture."""
    from supabase import create_client

    return create_client(node.url, node.key("anon"))


@pytest.fixture
def serving() -> Iterator[Callable[..., RunningNode]]:
    started: list[RunningNode] = []

    def start(data: Path, *extra: str) -> RunningNode:
        running = start_serving(data, *extra)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait(10)
        if running.proc.stdout is not None:
            running.proc.stdout.close()
