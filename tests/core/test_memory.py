"""Freed memory goes back to the OS once connections fall to half their peak, once per burst."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import apsw

from performer_edge.core.db import Database
from performer_edge.core.memory import TrimAfterDrop
from performer_edge.launch import needs_c_allocator


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_one_trim_after_a_burst_of_closes() -> None:
    open_now = [0]
    trimmer = TrimAfterDrop(lambda: open_now[0], min_peak=4, delay_s=0.05)
    for _ in range(10):
        open_now[0] += 1
        trimmer.opened()
    for _ in range(4):  # 10 -> 6: above half the peak, nothing to return yet
        open_now[0] -= 1
        trimmer.closed()
    await asyncio.sleep(0.2)
    assert trimmer.trims == 0
    for _ in range(6):  # down to 0: several closes, one trim
        open_now[0] -= 1
        trimmer.closed()
    await wait_for(lambda: trimmer.trims == 1)
    await asyncio.sleep(0.2)
    assert trimmer.trims == 1
    assert trimmer.peak == 0


async def test_a_small_peak_is_not_worth_a_collection() -> None:
    open_now = [3]
    trimmer = TrimAfterDrop(lambda: open_now[0], min_peak=4, delay_s=0.01)
    trimmer.opened()
    open_now[0] = 0
    trimmer.closed()
    await asyncio.sleep(0.1)
    assert trimmer.trims == 0


def test_only_serve_switches_allocator_and_the_user_choice_wins() -> None:
    assert needs_c_allocator(["serve", "--data", "x"], {})
    assert not needs_c_allocator(["serve"], {"PYTHONMALLOC": "pymalloc"})
    assert not needs_c_allocator(["keys"], {})
    assert not needs_c_allocator([], {})


class Held:
    """Something a read's closure and result refer to (weakly referenceable)."""


async def requests_of_a_finished_burst(db: Database) -> list[weakref.ref[Held]]:
    """A read and a write whose closures and results are garbage once they are answered."""
    captured, returned, written = Held(), Held(), Held()

    def read(conn: apsw.Connection) -> Held:
        assert captured is not None
        return returned

    assert await db.read(read) is returned
    assert await db.write(lambda tx: written) is written
    return [weakref.ref(captured), weakref.ref(returned), weakref.ref(written)]


async def test_an_idle_reader_or_writer_keeps_nothing_of_its_last_request(tmp_path: Path) -> None:
    """The dispatcher's last policy read once kept every listener of its batch alive (1,000
    closed realtime sessions' state) until some other read came along."""
    db = Database(tmp_path / "a.db", readers=1)
    try:
        refs = await requests_of_a_finished_burst(db)

        def all_gone() -> bool:  # the threads may still be finishing after they answered
            gc.collect()
            return all(ref() is None for ref in refs)

        await wait_for(all_gone)
    finally:
        db.close()
