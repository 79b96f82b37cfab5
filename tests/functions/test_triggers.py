"""Triggered functions on a real node: an insert trigger survives kill -9 with every insert
handled once in effect; failing runs are retried with backoff, then visible as failed (API and
CLI) and can be retried; a cron trigger runs for the current minute once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningNode
from tests.functions.conftest import MIGRATIONS, deploy, deployed, service_headers
from tests.functions.guests import command_constant
from tests.functions.test_cli_examples import EXAMPLES, performer

pytestmark = pytest.mark.network

ORDER_LOG = (EXAMPLES / "order-log.wasm").read_bytes()
ORDERS = 1000
KILL_AFTER = 400


def wait_for(condition: Callable[[], Any], timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")


def rows(node: RunningNode, table: str, query: str = "select=*") -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{node.url}/rest/v1/{table}?{query}", headers=service_headers(node), timeout=30
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def trigger_runs(node: RunningNode, name: str, query: str = "") -> dict[str, Any]:
    answer = httpx.get(
        f"{node.url}/performer/v1/functions/{name}/runs?{query}",
        headers=service_headers(node),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def insert_orders(node: RunningNode, ids: list[int], acknowledged: set[int]) -> None:
    """Insert `ids` one per request from 4 threads until done or the node is gone."""
    lock = threading.Lock()
    queue = list(reversed(ids))

    def work() -> None:
        with httpx.Client(headers=service_headers(node), timeout=30) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    order_id = queue.pop()
                try:
                    answer = client.post(
                        f"{node.url}/rest/v1/orders", json={"id": order_id, "item": "tea"}
                    )
                except httpx.TransportError:
                    return  # the node was killed
                assert answer.status_code == 201, answer.text
                with lock:
                    acknowledged.add(order_id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)


def test_kill_9_mid_way_through_inserts_leaves_each_handled_once(
    serving: Callable[..., RunningNode], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    node = serving(data, "--migrations", str(MIGRATIONS))
    deployed(
        node,
        "order-log",
        ORDER_LOG,
        triggers=["event:row.insert:orders"],
        permissions=["db.write", "db.service_role"],
    )
    acknowledged: set[int] = set()
    inserting = threading.Thread(
        target=insert_orders, args=(node, list(range(1, ORDERS + 1)), acknowledged)
    )
    inserting.start()
    wait_for(lambda: len(acknowledged) >= KILL_AFTER, what="the first inserts")
    node.proc.kill()  # SIGKILL, mid-way through inserts and trigger runs
    node.proc.wait(30)
    inserting.join(60)
    assert KILL_AFTER <= len(acknowledged) < ORDERS

    node = serving(data, "--migrations", str(MIGRATIONS))
    present = {r["id"] for r in rows(node, "orders", "select=id")}
    assert acknowledged <= present  # every acknowledged insert survived
    missing = sorted(set(range(1, ORDERS + 1)) - present)
    insert_orders(node, missing, acknowledged)
    assert len(rows(node, "orders", "select=id")) == ORDERS

    def all_handled() -> bool:
        counts = trigger_runs(node, "order-log", "limit=1")["counts"]
        return counts["succeeded"] == ORDERS

    wait_for(all_handled, what="every insert's trigger run to succeed")
    logged = rows(node, "order_log")
    assert sorted(r["order_id"] for r in logged) == list(range(1, ORDERS + 1))
    assert len({r["key"] for r in logged}) == ORDERS
    counts = trigger_runs(node, "order-log", "limit=1")["counts"]
    assert counts == {"pending": 0, "succeeded": ORDERS, "failed": 0, "skipped": 0}


def append_app_event(node: RunningNode, kind: str) -> None:
    answer = httpx.post(
        f"{node.url}/performer/v1/events",
        json={"kind": kind, "scope": "tests", "payload": {"n": 1}},
        headers=service_headers(node),
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


def test_a_failing_run_is_retried_then_failed_and_can_be_retried(node: RunningNode) -> None:
    deployed(
        node,
        "always-fails",
        command_constant({"status": 500, "body": "out of stock"}),
        triggers=["event:app.stock_checked"],
        limits={"trigger_attempts": 3, "trigger_backoff_ms": 50},
    )
    append_app_event(node, "app.stock_checked")

    def failed() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = trigger_runs(node, "always-fails", "status=failed")["runs"]
        return found

    [run] = wait_for(failed, timeout=60, what="the run to fail")
    assert run["attempts"] == 3
    assert run["last_status"] == 500
    assert "out of stock" in run["last_error"]
    assert run["trigger"] == "event:app.stock_checked"
    origin, seq = run["idempotency_key"].split(":")
    assert len(origin) == 64
    assert int(seq) > 0

    shown = performer(node, "functions", "runs", "always-fails", "--status", "failed")
    assert shown.returncode == 0, shown.stderr
    assert '"out of stock' in shown.stdout or "out of stock" in shown.stdout
    again = performer(node, "functions", "retry", "always-fails", str(run["id"]))
    assert again.returncode == 0, again.stderr

    def failed_again() -> bool:
        [found] = trigger_runs(node, "always-fails")["runs"]
        return bool(found["status"] == "failed" and found["updated_at"] > run["updated_at"])

    wait_for(failed_again, timeout=60, what="the retried run to fail again")


def test_a_run_of_an_event_before_the_deploy_is_not_owed(node: RunningNode) -> None:
    append_app_event(node, "app.early")
    deployed(node, "late", command_constant({"status": 200}), triggers=["event:app.early"])
    append_app_event(node, "app.early")
    wait_for(lambda: trigger_runs(node, "late")["counts"]["succeeded"] == 1, what="one run")
    # The log is followed in order: once the second event's run exists, the first was passed.
    assert sum(trigger_runs(node, "late")["counts"].values()) == 1


def test_a_cron_trigger_runs_once_for_the_current_minute(node: RunningNode) -> None:
    deployed(node, "every-minute", command_constant({"status": 204}), triggers=["cron:* * * * *"])
    [run] = wait_for(lambda: trigger_runs(node, "every-minute", "status=succeeded")["runs"])
    assert run["idempotency_key"].startswith("cron:* * * * *@")
    assert run["scheduled_at"].endswith("Z")
    assert run["last_status"] == 204


def test_bad_triggers_are_refused_with_the_reason(node: RunningNode) -> None:
    answer = deploy(node, "bad", command_constant({}), triggers=["event:function.deployed"])
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_triggers"
    answer = deploy(node, "bad", command_constant({}), triggers=["cron:61 * * * *"])
    assert answer.status_code == 400
    assert "is not a minute" in answer.json()["message"]
    answer = httpx.get(
        f"{node.url}/performer/v1/functions/order-log/runs?status=done",
        headers=service_headers(node),
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_status"
