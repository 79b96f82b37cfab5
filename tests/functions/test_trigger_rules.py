"""Which node runs a trigger, on an opened node: an event's triggers run on its origin only;
cron runs on the node that made the version current, once per minute whatever the restarts;
auth events reach a function without secrets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import apsw
import orjson
import pytest
from nacl.signing import SigningKey

from performer_edge.config import Settings
from performer_edge.core.events import encode_payload, sign_event
from performer_edge.core.log import read_after
from performer_edge.functions import registry
from performer_edge.functions.deploy import parse_spec
from performer_edge.functions.triggers import event_view
from performer_edge.node import Node
from tests.functions.guests import command_constant

OK = command_constant({"status": 200})


@pytest.fixture
def opened(settings: Settings) -> Iterator[Node]:
    # tests/functions/conftest.py's `node` is a served node; this one is opened in-process.
    with contextlib.closing(Node.open(settings)) as node:
        yield node


async def deploy(node: Node, name: str, triggers: list[str]) -> None:
    spec = parse_spec({"name": name, "triggers": triggers}, OK)
    await node.functions.deploy(spec)


def owed_runs(conn: apsw.Connection) -> list[tuple[str, str]]:
    return conn.execute("SELECT function, key FROM function_trigger_runs ORDER BY id").fetchall()


async def test_an_event_owes_runs_only_on_its_origin_node(opened: Node) -> None:
    await deploy(opened, "on-ping", ["event:app.ping"])
    runner = opened.functions.triggers
    following = await runner.following()
    local = await opened.append("app.ping", "x", {})
    foreign = sign_event(SigningKey.generate(), 1, local.hlc + 1, "app.ping", "x", b"\xa0")
    assert [o.key for o in runner.owed_for(local, following)] == [
        f"{local.origin.hex()}:{local.seq}"
    ]
    assert runner.owed_for(foreign, following) == []
    other_kind = await opened.append("app.pong", "x", {})
    assert runner.owed_for(other_kind, following) == []


async def test_cron_runs_on_the_node_that_made_the_version_current(opened: Node) -> None:
    await deploy(opened, "mine", ["cron:*/5 * * * *"])
    # A deployment made by another node of the cluster, received through sync.
    other = SigningKey.generate()
    data = {
        "name": "theirs",
        "version": "1",
        "sha256": "ab" * 32,
        "abi": "command",
        "description": "",
        "triggers": ["cron:*/5 * * * *"],
        "permissions": [],
        "limits": {},
        "wasm": OK,
    }
    hlc = opened.log.clock.now() + 1
    received = sign_event(
        other, 1, hlc, registry.DEPLOYED, registry.scope_of("theirs"), encode_payload(data)
    )
    await opened.db.write(lambda tx: opened.log.ingest(tx, received))
    runner = opened.functions.triggers
    minute = datetime(2026, 6, 1, 10, 5, tzinfo=UTC)
    await runner.owe_cron(minute)
    await runner.owe_cron(minute)  # the same minute again: no second run
    await runner.owe_cron(minute + timedelta(minutes=1))  # 10:06 does not match */5
    owed = await opened.db.read(owed_runs)
    assert owed == [("mine", "cron:*/5 * * * *@2026-06-01T10:05Z")]


async def test_cron_minutes_missed_while_down_are_not_replayed(opened: Node) -> None:
    await deploy(opened, "each-minute", ["cron:* * * * *"])
    runner = opened.functions.triggers
    await runner.owe_cron(datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    runner._cron_checked = None  # as after a restart
    await runner.owe_cron(datetime(2026, 6, 1, 13, 0, tzinfo=UTC))  # three hours later
    keys = [key for _, key in await opened.db.read(owed_runs)]
    assert keys == ["cron:* * * * *@2026-06-01T10:00Z", "cron:* * * * *@2026-06-01T13:00Z"]


async def test_auth_events_reach_a_function_without_secrets(opened: Node) -> None:
    await opened.auth.admin.create_user({"email": "ada@example.com", "password": "pw-1234567"})
    [event] = await opened.db.read(lambda c: read_after(c, 0, 10, kinds=["auth.user_created"]))
    view = event_view(event)
    text = orjson.dumps(view).decode()
    [user] = view["data"]["users"]
    assert user["email"] == "ada@example.com"
    assert view["id"] == f"{event.origin.hex()}:{event.seq}"
    assert "password" not in text
    assert "token" not in text


async def test_an_event_json_cannot_carry_fails_its_run_with_the_reason(opened: Node) -> None:
    opened.bus.attach(asyncio.get_running_loop())
    runner = opened.functions.triggers
    await runner.start()
    try:
        await deploy(opened, "on-big", ["event:app.big"])
        await opened.append("app.big", "x", {"n": 2**70})  # CBOR holds it; JSON cannot

        def failed(conn: apsw.Connection) -> list[tuple[str, int, str]]:
            return conn.execute(
                "SELECT status, attempts, last_error FROM function_trigger_runs "
                "WHERE function = 'on-big' AND status = 'failed'"
            ).fetchall()

        deadline = asyncio.get_running_loop().time() + 30
        while not (found := await opened.db.read(failed)):
            assert asyncio.get_running_loop().time() < deadline, "the run never failed"
            await asyncio.sleep(0.02)
    finally:
        await runner.close()
    [(_, attempts, error)] = found
    assert attempts == 1  # not retried: it would fail the same way
    assert "cannot be given to the function as JSON" in error
