"""`performer sync status`: the log, merges and peers of a node, stopped or serving; `--watch`
follows a catch-up until this node lacks nothing its peers hold."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_cli import performer

from tests.peers.peer_support import join


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_a_stopped_node_reports_its_log_and_merges(tmp_path: Path) -> None:
    data = tmp_path / "a"
    join(data)
    assert performer("migrate", "--data", str(data), str(_migration(tmp_path))).returncode == 0
    result = performer("sync", "status", "--data", str(data), "--port", free_port(), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["events"] >= 1 and len(report["origins"]) == 1
    assert report["pending_migrations"] == [] and report["hidden_rows"] == {}
    assert report["serving"].startswith("not reachable")
    text = performer("sync", "status", "--data", str(data), "--port", free_port())
    assert text.returncode == 0 and "cluster     " in text.stdout
    assert "migrations  none waiting" in text.stdout


def test_watch_follows_a_catch_up_to_the_end(tmp_path: Path, serving: Callable[..., Any]) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    join(a_dir)
    join(b_dir)
    a = serving(a_dir, "--no-discovery", "--migrations", str(_migration(tmp_path).parent))
    port = a.url.rsplit(":", 1)[1]
    b = serving(b_dir, "--no-discovery", "--peer", a.url)
    b_port = b.url.rsplit(":", 1)[1]
    watched = performer("sync", "status", "--data", str(b_dir), "--port", b_port, "--watch")
    assert watched.returncode == 0, watched.stderr
    after = performer("sync", "status", "--data", str(b_dir), "--port", b_port, "--json")
    report = json.loads(after.stdout)
    a_report = json.loads(
        performer("sync", "status", "--data", str(a_dir), "--port", port, "--json").stdout
    )
    for origin, seq in a_report["origins"].items():  # b holds everything a holds
        assert report["origins"].get(origin, 0) >= seq
    assert [p["behind_events"] for p in report["peers"]] == [0]


def _migration(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    path = folder / "001_items.sql"
    path.write_text(
        "create table items (id bigint primary key, label text);\n"
        "insert into items (id, label) values (1, 'one'), (2, 'two');\n"
    )
    return path
