"""Database.read: reader threads fed by a queue answer the loop; errors, cancellation, close."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import apsw
import pytest

from performer_edge.core.db import Database
from performer_edge.errors import Unavailable


def thread_name(conn: apsw.Connection) -> str:
    return threading.current_thread().name


async def test_reads_run_on_reader_threads_in_parallel(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db", readers=3)
    all_in = threading.Barrier(3, timeout=10)

    def meet(conn: apsw.Connection) -> int:
        all_in.wait()  # only returns when three reads run at once
        return int(conn.execute("SELECT 41 + 1").fetchone()[0])

    try:
        assert await asyncio.gather(*(db.read(meet) for _ in range(3))) == [42, 42, 42]
        names = await asyncio.gather(*(db.read(thread_name) for _ in range(20)))
        assert all(name.startswith("performer-reader") for name in names)
    finally:
        db.close()


async def test_an_error_reaches_the_reader_and_the_thread_lives_on(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db", readers=1)
    try:
        with pytest.raises(apsw.SQLError):
            await db.read(lambda conn: conn.execute("SELECT * FROM missing").fetchall())
        with pytest.raises(ZeroDivisionError):
            await db.read(lambda conn: 1 // 0)
        assert await db.read(lambda conn: conn.execute("SELECT 7").fetchone()[0]) == 7
    finally:
        db.close()


async def test_a_cancelled_read_does_not_disturb_the_next(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db", readers=1)
    started, release = threading.Event(), threading.Event()

    def slow(conn: apsw.Connection) -> str:
        started.set()
        release.wait(10)
        return "late"

    try:
        task = asyncio.create_task(db.read(slow))
        assert await asyncio.to_thread(started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()  # the result arrives for a cancelled future and is dropped
        assert await db.read(lambda conn: "next") == "next"
    finally:
        db.close()


async def test_close_answers_queued_reads_and_refuses_new_ones(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    db = Database(tmp_path / "a.db", readers=1)
    release = threading.Event()
    first = asyncio.create_task(db.read(lambda conn: release.wait(10)))
    queued = asyncio.create_task(db.read(lambda conn: "queued"))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(asyncio.to_thread(db.close))
    await asyncio.sleep(0.05)
    release.set()
    await closing
    assert await first is True
    assert await queued == "queued"
    with pytest.raises(Unavailable):
        await db.read(lambda conn: 1)
    mine = set(threading.enumerate()) - before
    assert not any(t.name.startswith("performer-reader") for t in mine)
