"""`performer cluster`, run as an operator runs it: subprocesses against real data dirs, joining
through a running `performer serve`."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_cli import one_line_error, performer


def status(data: Path) -> dict[str, Any]:
    result = performer("cluster", "status", "--data", str(data), "--json")
    assert result.returncode == 0, result.stderr
    state: dict[str, Any] = json.loads(result.stdout)
    return state


def invite(data: Path, *args: str) -> str:
    result = performer("cluster", "invite", "--data", str(data), *args)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("pe1.")
    return line


def refused(result: Any, fragment: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert fragment in one_line_error(result), result.stderr


def test_init_invite_join_revoke_and_status(tmp_path: Path, serving: Callable[..., Any]) -> None:
    root, member = tmp_path / "root", tmp_path / "member"
    made = performer("cluster", "init", "--data", str(root))
    assert made.returncode == 0, made.stderr
    cluster_id = made.stdout.split()[2]
    assert len(bytes.fromhex(cluster_id)) == 32
    refused(
        performer("cluster", "init", "--data", str(root)),
        f"already belongs to cluster {cluster_id}",
    )
    state = status(root)
    assert state["cluster_id"] == cluster_id and state["roles"] == ["node", "root"]
    assert state["root_key"] is True and state["revoked"] == []
    assert [m["node_id"] for m in state["members"]] == [state["node_id"]]

    running = serving(root)
    refused(performer("cluster", "init", "--data", str(root)), "is being served")
    hub_invite = invite(root, "--url", running.url, "--roles", "hub", "--expires", "10m")
    assert status(root)["pending_invites"] == 1

    joined = performer("cluster", "join", hub_invite, "--data", str(member))
    assert joined.returncode == 0, joined.stderr
    assert joined.stdout.startswith(f"joined cluster {cluster_id}")
    mode = stat.S_IMODE((member / "keys" / "cluster.json").stat().st_mode)
    assert mode == 0o600
    state = status(member)
    assert state["cluster_id"] == cluster_id and state["roles"] == ["node", "hub"]
    assert state["root_key"] is False and state["certificate"]["expires_at"] == "never"
    assert [m["node_id"] for m in state["members"]] == [state["node_id"]]  # its own key event
    member_id = state["node_id"]
    assert status(root)["pending_invites"] == 0

    refused(performer("cluster", "join", hub_invite, "--data", str(tmp_path / "c")), "invite_used")
    second = invite(root, "--url", running.url)
    refused(performer("cluster", "join", second, "--data", str(member)), "already belongs")
    refused(performer("cluster", "invite", "--data", str(member)), "root key")

    wrong_url = ("--url", "http://127.0.0.1:9")
    refused(performer("cluster", "revoke", member_id, "--data", str(root), *wrong_url), "--url")
    revoked = performer("cluster", "revoke", member_id, "--data", str(root), "--url", running.url)
    assert revoked.returncode == 0, revoked.stderr
    assert f"revoked {member_id}" in revoked.stdout
    assert [r["node_id"] for r in status(root)["revoked"]] == [member_id]  # beside the server
    refused(
        performer("cluster", "revoke", member_id, "--data", str(root), "--url", running.url),
        "already_revoked",
    )
    assert running.stop() == 0

    other = "ab" * 32
    offline = performer("cluster", "revoke", other, "--data", str(root))  # node stopped
    assert offline.returncode == 0, offline.stderr
    assert {r["node_id"] for r in status(root)["revoked"]} == {member_id, other}
    text = performer("cluster", "status", "--data", str(root))
    assert text.returncode == 0 and f"cluster id   {cluster_id}" in text.stdout
    assert "revoked      2" in text.stdout


def test_join_refusals_before_and_without_a_server(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert performer("cluster", "init", "--data", str(root)).returncode == 0
    refused(performer("cluster", "join", "pe1.garbage", "--data", str(tmp_path / "a")), "damaged")
    refused(performer("cluster", "join", "hello", "--data", str(tmp_path / "a")), "not a Performer")
    nowhere = invite(root, "--url", "http://127.0.0.1:9")
    refused(performer("cluster", "join", nowhere, "--data", str(tmp_path / "b")), "cannot reach")
    soon = invite(root, "--url", "http://127.0.0.1:9", "--expires", "1s")
    deadline = time.time() + 10
    while time.time() < deadline:  # wait on the clock for the invite's expiry, bounded
        result = performer("cluster", "join", soon, "--data", str(tmp_path / "c"))
        if "expired" in result.stderr:
            break
        time.sleep(0.2)
    refused(result, "the invite expired")


def test_usage_errors_and_nodes_outside_a_cluster(tmp_path: Path) -> None:
    loner = tmp_path / "loner"
    assert performer("init", "--data", str(loner)).returncode == 0
    refused(performer("cluster", "invite", "--data", str(loner)), "in no cluster")
    assert status(loner)["cluster_id"] is None
    text = performer("cluster", "status", "--data", str(loner))
    assert "not in a cluster" in text.stdout
    refused(performer("cluster", "revoke", "nothex", "--data", str(loner)), "64 hex digits")
    refused(performer("cluster", "revoke", "ab" * 32, "--data", str(loner)), "not in a cluster")
    root = tmp_path / "root"
    assert performer("cluster", "init", "--data", str(root)).returncode == 0
    for flags in (["--expires", "0s"], ["--roles", "root"], ["--url", "x"]):
        result = performer("cluster", "invite", "--data", str(root), *flags)
        assert result.returncode == 2, (flags, result.stderr)
        one_line_error(result)
