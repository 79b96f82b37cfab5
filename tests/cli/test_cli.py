"""The `performer` command, run as a user runs it: subprocesses against real data dirs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apsw
import jwt
import pytest

from performer_edge import __version__

SUPABASE_DEMO_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


def performer(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "performer_edge", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("performer: error: "), result.stderr
    return lines[0]


def http_json(url: str, key: str | None = None, data: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, method="POST" if data is not None else "GET")
    if key:
        request.add_header("apikey", key)
    body = json.dumps(data).encode() if data is not None else None
    if body:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, body, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != "performer.lock"
    }


def test_version() -> None:
    result = performer("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"performer {__version__}"


def test_init_makes_private_keys_and_api_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = performer("init", "--data", str(data))
    assert first.returncode == 0, first.stderr
    assert "initialized" in first.stdout
    for name in ("node.ed25519", "jwt-es256.pem", "api-keys.json"):
        mode = stat.S_IMODE((data / "keys" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    second = performer("init", "--data", str(data))
    assert "already initialized" in second.stdout
    keys = json.loads(performer("keys", "--data", str(data), "--json").stdout)
    assert set(keys) == {"anon_key", "service_role_key"}
    assert jwt.decode(keys["anon_key"], options={"verify_signature": False})["role"] == "anon"
    service = jwt.decode(keys["service_role_key"], options={"verify_signature": False})
    assert service["role"] == "service_role"
    assert jwt.get_unverified_header(keys["anon_key"])["alg"] == "ES256"


def test_keys_with_a_jwt_secret_are_hs256(tmp_path: Path) -> None:
    data = tmp_path / "data"
    performer("init", "--data", str(data))
    result = performer("keys", "--data", str(data), "--json", "--jwt-secret", SUPABASE_DEMO_SECRET)
    keys = json.loads(result.stdout)
    claims = jwt.decode(keys["anon_key"], SUPABASE_DEMO_SECRET, algorithms=["HS256"])
    assert claims["role"] == "anon"


def test_keys_on_a_missing_data_dir_fails_cleanly(tmp_path: Path) -> None:
    result = performer("keys", "--data", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "does not exist" in one_line_error(result)


def test_serve_status_tail_and_a_second_server_refused(
    tmp_path: Path, serving: Callable[..., Any]
) -> None:
    data = tmp_path / "data"
    node = serving(data)
    status, health = http_json(f"{node.url}/health")
    assert status == 200 and health["status"] == "healthy"
    service = node.key("service_role")
    batch = [{"kind": "app.greeting", "scope": "s", "payload": {"hello": n}} for n in range(3)]
    assert http_json(f"{node.url}/performer/v1/events", service, batch)[0] == 201
    before = snapshot(data)

    second = performer("serve", "--data", str(data), "--port", "0")
    assert second.returncode == 1
    assert "in use by another performer process" in one_line_error(second)
    assert snapshot(data).keys() == before.keys()
    assert http_json(f"{node.url}/health")[0] == 200

    status_run = performer("status", "--data", str(data), "--json")
    assert status_run.returncode == 0, status_run.stderr
    state = json.loads(status_run.stdout)
    assert state["serving_pid"] == node.proc.pid
    assert state["events"] == 3
    assert state["node_id"] == health["node_id"]

    tail = performer("events", "tail", "--data", str(data), "--json")
    lines = [json.loads(x) for x in tail.stdout.splitlines()]
    assert [x["payload"] for x in lines] == [{"hello": 0}, {"hello": 1}, {"hello": 2}]
    plain = performer("events", "tail", "--data", str(data), "-n", "1")
    assert "app.greeting" in plain.stdout and '{"hello":2}' in plain.stdout

    assert node.stop() == 0
    verify = performer("events", "verify", "--data", str(data))
    assert verify.returncode == 0 and "3 events" in verify.stdout
    replay = performer("replay", "--data", str(data))
    assert replay.returncode == 0, replay.stderr
    assert "replayed 3 events" in replay.stdout


def test_follow_prints_new_events(tmp_path: Path, serving: Callable[..., Any]) -> None:
    data = tmp_path / "data"
    node = serving(data)
    follower = subprocess.Popen(
        [sys.executable, "-m", "performer_edge", "events", "tail", "--data", str(data), "-f"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        http_json(f"{node.url}/performer/v1/events", node.key("service_role"), {"kind": "app.ping"})
        assert follower.stdout is not None
        line = follower.stdout.readline()  # blocks until the event arrives; the timeout bounds it
        assert "app.ping" in line
    finally:
        follower.kill()
        follower.wait(10)
        if follower.stdout:
            follower.stdout.close()


def test_jwt_secret_mode_accepts_supabase_style_keys(
    tmp_path: Path, serving: Callable[..., Any]
) -> None:
    node = serving(tmp_path / "data", "--jwt-secret", SUPABASE_DEMO_SECRET)
    service = jwt.encode({"role": "service_role"}, SUPABASE_DEMO_SECRET, algorithm="HS256")
    assert http_json(f"{node.url}/performer/v1/events", service)[0] == 200
    assert node.key("service_role") != ""
    other = jwt.encode({"role": "service_role"}, "x" * 40, algorithm="HS256")
    status, body = http_json(f"{node.url}/performer/v1/events", other)
    assert status == 401 and body["code"] == "token_invalid"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("port = 12\nhost = [", "not valid TOML"),
        ("prot = 1\n", "unknown setting 'prot'"),
        ('port = "many"\n', "invalid value 'many' for port"),
        ('synchronous = "sometimes"\n', "synchronous must be one of"),
        ("port = 70000\n", "port must be at most 65535"),
    ],
)
def test_bad_config_file_fails_with_one_line_and_exit_2(
    tmp_path: Path, content: str, expected: str
) -> None:
    config = tmp_path / "performer.toml"
    config.write_text(content)
    data = tmp_path / "data"
    result = performer("serve", "--data", str(data), "--config", str(config))
    assert result.returncode == 2
    assert expected in one_line_error(result)
    assert not data.exists()


def test_config_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    (tmp_path / "performer.toml").write_text('data = "from-file"\nlog_level = "DEBUG"\n')
    result = performer(
        "status",
        "--json",
        "--data",
        str(tmp_path / "from-flag"),
        cwd=tmp_path,
        env={"PERFORMER_LOG_LEVEL": "warning", "PERFORMER_DATA": "from-env"},
    )
    assert "from-flag" in one_line_error(result)  # not initialized: the flag's dir was used
    performer("init", "--data", str(tmp_path / "from-env"))
    state = json.loads(
        performer("status", "--json", cwd=tmp_path, env={"PERFORMER_DATA": "from-env"}).stdout
    )
    assert state["settings"]["data"] == "from-env"
    assert state["settings"]["log_level"] == "DEBUG"
    env_level = performer(
        "status",
        "--json",
        cwd=tmp_path,
        env={"PERFORMER_DATA": "from-env", "PERFORMER_LOG_LEVEL": "error"},
    )
    assert json.loads(env_level.stdout)["settings"]["log_level"] == "ERROR"
    bad_env = performer("status", cwd=tmp_path, env={"PERFORMER_PORT": "http"})
    assert bad_env.returncode == 2 and "$PERFORMER_PORT" in one_line_error(bad_env)


def test_unusable_data_dir_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = performer("serve", "--data", str(blocker / "data"), "--port", "0")
    assert result.returncode == 1
    assert "not writable" in one_line_error(result)
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize("kind", ["foreign", "garbage"])
def test_foreign_or_corrupt_database_is_refused_and_untouched(tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    assert performer("init", "--data", str(data)).returncode == 0
    db = data / "performer.db"
    for leftover in data.glob("performer.db*"):
        leftover.unlink()
    if kind == "foreign":
        conn = apsw.Connection(str(db))
        conn.execute(
            "CREATE TABLE invoices(id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES(7)"
        )
        conn.close()
    else:
        db.write_bytes(os.urandom(8192))
    before = snapshot(data)
    result = performer("serve", "--data", str(data), "--port", "0")
    assert result.returncode == 1
    message = one_line_error(result)
    assert "did not create" in message if kind == "foreign" else "not a SQLite database" in message
    assert snapshot(data) == before


def test_tampered_log_fails_verify(tmp_path: Path, serving: Callable[..., Any]) -> None:
    data = tmp_path / "data"
    node = serving(data)
    http_json(f"{node.url}/performer/v1/events", node.key("service_role"), {"kind": "app.a"})
    node.stop()
    conn = apsw.Connection(str(data / "performer.db"))
    conn.execute("UPDATE events SET scope = 'forged' WHERE seq = 1")
    conn.close()
    result = performer("events", "verify", "--data", str(data))
    assert result.returncode == 1
    assert "bad signature" in result.stdout
