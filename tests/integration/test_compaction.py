"""Compaction and the snapshot path with real `performer` processes on 127.0.0.1.

A node's log is folded into a snapshot (`performer compact`) while it is stopped; a new member
that never ran the migrations then joins: it gets the snapshot (schema, rows, full-text index)
plus the events after it, serves the same rows, and its own writes flow back. `performer replay`
rebuilds both nodes from their base snapshots.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import performer_command
from tests.integration.test_sync import Rest
from tests.peers.peer_support import join, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.network]

MIGRATION = """
create table public.items (id text primary key, note text);
alter table public.items add column fts tsvector generated always as
  (to_tsvector('english', coalesce(note, ''))) stored;
create index items_fts on public.items using gin (fts);
"""


def performer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        performer_command(*args), check=False, capture_output=True, text=True, timeout=120
    )


async def test_a_new_member_catches_up_from_a_compacted_log(serving: Any, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "001_items.sql").write_text(MIGRATION)
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    join(a_dir)
    join(b_dir)
    flags = ("--no-discovery",)

    a = serving(a_dir, *flags, "--migrations", str(migrations))
    async with aiohttp.ClientSession() as http:
        items = Rest(http, a)
        for n in range(30):
            await items.insert(id=f"r{n:02}", note=f"owl number {n}")
        for n in range(0, 30, 3):
            await items.update(f"r{n:02}", note=f"heron number {n}")
        expected = await items.rows()
    assert a.stop() == 0

    compacted = performer("compact", "--data", str(a_dir))
    assert compacted.returncode == 0, compacted.stderr
    assert "base snapshot" in compacted.stdout
    status = performer("sync", "status", "--data", str(a_dir), "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["compacted"] == state["origins"] and state["base_snapshot"]["bytes"] > 0

    a = serving(a_dir, *flags)
    b = serving(b_dir, *flags, "--peer", a.url)  # no migrations: the schema comes with the state
    async with aiohttp.ClientSession() as http:
        on_a, on_b = Rest(http, a), Rest(http, b)
        await wait_for(lambda: _equal(on_b, expected), "b to hold a's rows", seconds=60)
        herons = await on_b.rows(fts="wfts(english).heron")
        assert herons is not None and len(herons) == 10, herons

        await on_b.insert(id="zz", note="written on b after the snapshot")
        await on_a.insert(id="za", note="written on a after the snapshot")
        await wait_for(lambda: _same(on_a, on_b, 32), "both ways after the snapshot", seconds=60)
    assert b.stop() == 0 and a.stop() == 0

    for data in (a_dir, b_dir):
        replayed = performer("replay", "--data", str(data))
        assert replayed.returncode == 0, replayed.stderr
        assert "base snapshot" in replayed.stdout
    b = serving(b_dir, *flags)
    async with aiohttp.ClientSession() as http:
        rows = await Rest(http, b).rows()
        assert rows is not None and len(rows) == 32
        assert rows[:30] == expected


async def _equal(items: Rest, expected: list[dict[str, Any]] | None) -> bool:
    return await items.rows() == expected


async def _same(a: Rest, b: Rest, count: int) -> bool:
    rows_a, rows_b = await a.rows(), await b.rows()
    return rows_a is not None and len(rows_a) == count and rows_a == rows_b
