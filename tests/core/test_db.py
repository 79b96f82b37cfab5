"""The writer thread: group commit, savepoint isolation, durability, lifecycle, file checks."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import apsw
import pytest

from performer_edge.core.db import Database, WriteTx
from performer_edge.core.schema import APPLICATION_ID
from performer_edge.core.schema import CORE_MIGRATIONS as MIGRATIONS
from performer_edge.errors import DataDirError, Unavailable

EXTRA = "CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT NOT NULL);"


def open_db(path: Path, **kwargs: object) -> Database:
    return Database(path, migrations=(*MIGRATIONS, EXTRA), **kwargs)  # type: ignore[arg-type]


def put(key: str, value: str | None):  # type: ignore[no-untyped-def]
    def fn(tx: WriteTx) -> str:
        tx.conn.execute("INSERT INTO kv VALUES (?, ?)", (key, value))
        tx.publish(key)
        return key

    return fn


def keys(db: Database) -> list[str]:
    return db.read_sync(lambda c: [r[0] for r in c.execute("SELECT k FROM kv ORDER BY k")])


def test_write_is_visible_to_readers_and_survives_reopen(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")
    assert db.write_sync(put("a", "1")) == "a"
    assert keys(db) == ["a"]
    db.close()
    again = open_db(tmp_path / "a.db")
    assert keys(again) == ["a"]
    again.close()


def test_a_failing_request_does_not_take_its_group_down(tmp_path: Path) -> None:
    published: list[object] = []
    db = open_db(tmp_path / "a.db", on_commit=published.extend)
    gate = threading.Event()
    # Block the writer so the next requests queue up and commit as one group.
    blocker = db.submit(lambda tx: gate.wait(5))
    futures = [db.submit(put(f"k{i}", None if i == 2 else "v")) for i in range(5)]
    gate.set()
    blocker.result()
    results = []
    for future in futures:
        try:
            results.append(future.result())
        except apsw.ConstraintError:
            results.append("failed")
    assert results == ["k0", "k1", "failed", "k3", "k4"]
    assert keys(db) == ["k0", "k1", "k3", "k4"]
    assert published == ["k0", "k1", "k3", "k4"]
    db.close()


def test_requests_waiting_together_commit_together(tmp_path: Path) -> None:
    commits: list[list[object]] = []
    db = open_db(tmp_path / "a.db", on_commit=commits.append)
    gate, running = threading.Event(), threading.Event()

    def block(tx: WriteTx) -> bool:
        running.set()
        return gate.wait(5)

    blocker = db.submit(block)
    assert running.wait(10)  # the writer holds the blocker alone: the rest queue behind it
    futures = [db.submit(put(f"k{i}", "v")) for i in range(50)]
    gate.set()
    blocker.result()
    for future in futures:
        future.result()
    assert len(commits) == 1
    assert len(commits[0]) == 50
    db.close()


def test_rollback_hooks_restore_state_of_a_failed_request(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")
    state = {"n": 0}

    def bump_then_fail(tx: WriteTx) -> None:
        state["n"] += 1
        tx.on_rollback(lambda: state.__setitem__("n", state["n"] - 1))
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        db.write_sync(bump_then_fail)
    assert state["n"] == 0
    db.close()


async def test_async_writes_from_many_tasks(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")
    results = await asyncio.gather(*(db.write(put(f"k{i:03}", "v")) for i in range(200)))
    assert sorted(results) == [f"k{i:03}" for i in range(200)]
    assert len(await db.read(lambda c: c.execute("SELECT * FROM kv").fetchall())) == 200
    db.close()


def test_close_finishes_queued_writes_and_refuses_new_ones(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")
    futures = [db.submit(put(f"k{i}", "v")) for i in range(20)]
    db.close()
    assert all(f.result() for f in futures)
    with pytest.raises(Unavailable):
        db.submit(put("late", "v"))
    again = open_db(tmp_path / "a.db")
    assert len(keys(again)) == 20
    again.close()


def test_run_exclusive_manages_its_own_transaction(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")

    def bulk(conn: apsw.Connection) -> int:
        with conn:
            conn.executemany("INSERT INTO kv VALUES (?, 'v')", [(str(i),) for i in range(10)])
        return 10

    assert db.run_exclusive(bulk) == 10
    assert len(keys(db)) == 10
    db.close()


def test_schema_is_versioned_and_marked(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db")
    db.close()
    conn = apsw.Connection(str(tmp_path / "a.db"))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_synchronous_setting_is_applied(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.db", synchronous="normal")
    level = db.run_exclusive(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
    assert level == 1  # NORMAL
    db.close()
    with pytest.raises(ValueError, match="synchronous"):
        open_db(tmp_path / "b.db", synchronous="sometimes")


def test_garbage_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    garbage = b"this is not a database at all\n" * 10
    path.write_bytes(garbage)
    with pytest.raises(DataDirError, match="not a SQLite database"):
        open_db(path)
    assert path.read_bytes() == garbage
    assert not (tmp_path / "a.db-wal").exists()


def test_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE customers(id INTEGER PRIMARY KEY); INSERT INTO customers VALUES (1)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(DataDirError, match="did not create"):
        open_db(path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    open_db(path).close()
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA user_version=999")
    conn.close()
    with pytest.raises(DataDirError, match="newer"):
        open_db(path)


def test_corrupt_schema_page_is_reported_clearly(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = open_db(path)
    db.write_sync(put("a", "1"))
    db.close()
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # keep the file header, smash the schema page
    path.write_bytes(bytes(raw))
    with pytest.raises(DataDirError, match="corrupt"):
        open_db(path)


def test_another_process_can_identify_the_file_before_a_checkpoint(tmp_path: Path) -> None:
    """Regression: the header bytes lag behind the WAL; the check must ask SQLite."""
    from performer_edge.core import dbfile

    db = open_db(tmp_path / "a.db")
    db.write_sync(put("a", "1"))
    dbfile.check_existing(tmp_path / "a.db", APPLICATION_ID, len(MIGRATIONS) + 1)
    db.close()
