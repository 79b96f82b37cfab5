"""Hostile modules, one test each: every one gets its documented error (README, Functions:
failures) and the node keeps serving."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import RunningNode
from tests.functions.conftest import deploy, deployed, invoke, service_headers
from tests.functions.guests import (
    BAD_POINTER,
    DEEP_RECURSION,
    FOREIGN_IMPORT,
    GROW_PAST_CAP,
    HUGE_OUTPUT,
    INFINITE_LOOP,
    OPEN_FILE,
    RAW_ECHO,
    UNKNOWN_IMPORT,
    host_call,
)

pytestmark = pytest.mark.network


def still_serving(node: RunningNode) -> None:
    assert httpx.get(f"{node.url}/health", timeout=10).status_code == 200
    deployed(node, "canary", RAW_ECHO)
    assert invoke(node, "canary", content=b'"alive"').json()["body"] == '"alive"'


def assert_failed(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert "backtrace" not in answer.text


@pytest.mark.parametrize(
    ("name", "module", "limits", "status", "code"),
    [
        ("spin", INFINITE_LOOP, {"fuel": 5_000_000}, 546, "cpu_limit"),
        ("spin-long", INFINITE_LOOP, {"fuel": 10_000_000_000, "timeout_ms": 200}, 504, "timeout"),
        ("grow", GROW_PAST_CAP, {"memory_bytes": 1024 * 1024}, 546, "memory_limit"),
        ("recurse", DEEP_RECURSION, {}, 546, "stack_overflow"),
        ("flood", HUGE_OUTPUT, {"max_response_bytes": 256 * 1024}, 546, "output_too_large"),
        ("pointer", BAD_POINTER, {}, 500, "bad_pointer"),
    ],
    ids=[
        "infinite-loop",
        "loop-past-deadline",
        "memory-grow",
        "recursion",
        "huge-output",
        "bad-pointer",
    ],
)
def test_a_limit_hit_is_a_clean_error(
    node: RunningNode, name: str, module: bytes, limits: dict, status: int, code: str
) -> None:
    deployed(node, name, module, limits=limits)
    assert_failed(invoke(node, name), status, code)
    logs = httpx.get(
        f"{node.url}/performer/v1/functions/{name}/logs", headers=service_headers(node)
    ).json()["logs"]
    assert logs[-1]["reason"] == code
    still_serving(node)


def test_reading_a_file_finds_no_filesystem(node: RunningNode) -> None:
    deployed(node, "reader", OPEN_FILE)
    answer = invoke(node, "reader")
    assert answer.status_code == 403
    assert answer.text == "8"  # EBADF: there is no preopened directory to open anything in
    still_serving(node)


@pytest.mark.parametrize(
    ("module", "what"), [(UNKNOWN_IMPORT, "edge.spawn_shell"), (FOREIGN_IMPORT, "env.system")]
)
def test_importing_an_unknown_host_function_is_refused_at_deploy(
    node: RunningNode, module: bytes, what: str
) -> None:
    answer = deploy(node, "importer", module)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_module"
    assert what in answer.json()["message"]
    assert invoke(node, "importer").status_code == 404


def test_a_request_over_the_cap_is_413(node: RunningNode) -> None:
    deployed(node, "small", RAW_ECHO, limits={"max_request_bytes": 1024})
    assert_failed(invoke(node, "small", content=b"x" * 4096), 413, "request_too_large")


def test_a_host_call_without_its_permission_is_denied(node: RunningNode) -> None:
    deployed(node, "nosy", host_call("db.select", {"table": "notes"}))
    answer = invoke(node, "nosy")
    assert answer.status_code == 401  # the guest relays edge.call's -1 as 400 + 1
    assert answer.json()["error"]["code"] == "permission_denied"
    assert "db.read" in answer.json()["error"]["message"]


def test_four_threads_invoking_at_once_get_their_own_answers(node: RunningNode) -> None:
    deployed(node, "mt-echo", RAW_ECHO)
    deployed(node, "mt-spin", INFINITE_LOOP, limits={"fuel": 2_000_000})
    deployed(node, "mt-deny", host_call("events.append", {"kind": "app.x"}))

    def one(i: int) -> tuple[int, str]:
        kind = i % 3
        if kind == 0:
            answer = invoke(node, "mt-echo", content=f'"{i}"'.encode())
            assert answer.status_code == 200
            assert answer.json()["body"] == f'"{i}"'
        elif kind == 1:
            assert_failed(invoke(node, "mt-spin"), 546, "cpu_limit")
        else:
            answer = invoke(node, "mt-deny")
            assert answer.json()["error"]["code"] == "permission_denied"
        return i, "ok"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(60)))
    assert len(results) == 60
    still_serving(node)
