"""The single-file `performer` executable: build it with pkg/performer.spec, then run it as a user.

Builds once per module into a temp dist/work path (the developer's dist/ is left alone) with the
same PyInstaller command as `make binary`. Slow (a build is ~30 s), so it only runs with `-m pkg`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from performer_edge import __version__

pytestmark = [pytest.mark.pkg, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "pkg" / "performer.spec"
PYINSTALLER = Path(sys.executable).parent / "pyinstaller"

HEALTH_DEADLINE_S = 30.0
STARTUP_BOUND_S = 10.0  # generous: the target is 1.5 s, but CI machines are noisy
STOP_DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not PYINSTALLER.exists():
        pytest.skip(f"{PYINSTALLER} missing: install the dev extras (pip install -e '.[dev]')")
    work = tmp_path_factory.mktemp("pyinstaller")
    dist = work / "dist"
    command = [str(PYINSTALLER), "--noconfirm", "--clean"]
    command += ["--distpath", str(dist), "--workpath", str(work / "build"), str(SPEC)]
    # A private PyInstaller cache: `--clean` then cannot wipe the cache of a concurrent
    # `make binary`, nor the other way round.
    env = {**os.environ, "PYINSTALLER_CONFIG_DIR": str(work / "config")}
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=800, check=False
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"pyinstaller failed:\n{result.stderr[-8000:]}"
    executable = dist / "performer"
    print(f"\n[pkg] build {elapsed:.1f} s, {executable.stat().st_size / 1e6:.1f} MB")
    return executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=120, check=False
    )


def wait_for_health(url: str, proc: subprocess.Popen[bytes], deadline_s: float) -> dict[str, Any]:
    """Poll until /health answers 200 (or the process dies, or the deadline passes)."""
    deadline = time.monotonic() + deadline_s
    while True:
        assert proc.poll() is None, f"performer exited with {proc.returncode} before /health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    body: dict[str, Any] = json.loads(response.read())
                    return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        assert time.monotonic() < deadline, f"{url} not 200 within {deadline_s} s"
        time.sleep(0.02)


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (the onefile bootloader's Python child)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def test_builds_one_executable_file(binary: Path) -> None:
    assert [p.name for p in binary.parent.iterdir()] == ["performer"]
    assert binary.is_file()
    assert os.access(binary, os.X_OK)


def test_version(binary: Path) -> None:
    result = run(binary, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"performer {__version__}"


def test_serve_health_sigterm_then_keys(binary: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime_tmp = tmp_path / "runtime-tmp"  # where the onefile bootloader unpacks itself
    runtime_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(runtime_tmp)}
    port = free_port()
    command = [str(binary), "serve", "--data", str(data), "--port", str(port)]
    command += ["--host", "127.0.0.1"]
    out_path, err_path = tmp_path / "serve.out", tmp_path / "serve.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/health", proc, HEALTH_DEADLINE_S)
        startup = time.monotonic() - started
        print(f"\n[pkg] serve to first /health 200: {startup * 1000:.0f} ms")
        assert health["status"] == "healthy"
        assert health["version"] == __version__
        assert isinstance(health["node_id"], str)
        assert health["node_id"]
        assert startup < STARTUP_BOUND_S

        python_children = children_of(proc.pid) if Path("/proc").is_dir() else []
        proc.send_signal(signal.SIGTERM)  # to the bootloader, which forwards it to Python
        code = proc.wait(STOP_DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = err_path.read_text(errors="replace")
    assert code == 0, stderr
    for pid in python_children:
        assert not Path(f"/proc/{pid}").exists(), "the Python child outlived the bootloader"
    assert list(runtime_tmp.iterdir()) == [], "the unpacked bundle was not cleaned up"

    banner = out_path.read_text()
    keys = run(binary, "keys", "--data", str(data), "--json")
    assert keys.returncode == 0, keys.stderr
    printed = json.loads(keys.stdout)
    assert set(printed) >= {"anon_key", "service_role_key"}
    for role in ("anon_key", "service_role_key"):
        assert isinstance(printed[role], str)
        assert printed[role].count(".") == 2  # a JWT
        assert printed[role] in banner  # the same keys the server printed: the same data dir


def test_demo_chat_serves_its_pages_and_supabase_js(binary: Path, tmp_path: Path) -> None:
    """The executable carries the chat demo: its pages, its migration and supabase-js's bundle."""
    page_port, api_port = free_port(), free_port()
    command = [str(binary), "demo", "chat", "--data", str(tmp_path / "data")]
    command += ["--port", str(page_port), "--api-port", str(api_port)]
    err_path = tmp_path / "demo.err"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for_health(f"http://127.0.0.1:{api_port}/health", proc, HEALTH_DEADLINE_S)
        for path, fragment in (("/ws.html", b"vendor/supabase.js"), ("/vendor/supabase.js", b"")):
            url = f"http://127.0.0.1:{page_port}{path}"
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read()
            assert response.status == 200 and fragment in body, path
        assert b"createClient" in body
        rows = f"http://127.0.0.1:{api_port}/rest/v1/chat_messages"
        request = urllib.request.Request(rows, headers={"apikey": _anon_key(binary, tmp_path)})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read()) == []  # the demo's migration was applied
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(STOP_DEADLINE_S) == 0, err_path.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _anon_key(binary: Path, tmp_path: Path) -> str:
    keys = run(binary, "keys", "--data", str(tmp_path / "data"), "--json")
    assert keys.returncode == 0, keys.stderr
    key: str = json.loads(keys.stdout)["anon_key"]
    return key
