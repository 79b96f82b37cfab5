"""SQLite access: one writer thread that group-commits, and a pool of reader connections.

Theory of operation: write requests are functions queued to the writer thread. The writer takes
every request waiting, opens one transaction, runs each request inside its own savepoint (a
failing request rolls back alone), commits once, then settles every waiter and hands what the
requests published (committed events) to `on_commit`, in commit order. With
`synchronous=FULL` a settled write has been fsynced: it survives power loss.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import apsw

from performer_edge.core import dbfile
from performer_edge.core.schema import APPLICATION_ID, CORE_MIGRATIONS, LOG_HORIZON_SCHEMA
from performer_edge.errors import DataDirError, Unavailable

T = TypeVar("T")
log = logging.getLogger("performer.db")

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
BUSY_TIMEOUT_MS = 5000


class WriteTx:
    """What a write request gets: the writer connection, inside the group's transaction.

    A request function may run more than once: when another request of its group fails, the
    group is rolled back and run again with a savepoint per request. So a function must change
    nothing outside the database except through `on_rollback`-protected state.
    """

    __slots__ = ("_undo", "conn", "published")

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn
        self.published: list[Any] = []
        self._undo: list[Callable[[], None]] = []

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Register a function that restores in-memory state if this request is rolled back."""
        self._undo.append(undo)

    def publish(self, item: Any) -> None:
        """Hand `item` to the database's `on_commit` once (and only if) the group commits."""
        self.published.append(item)

    def rolled_back(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        self.published.clear()


@dataclass
class _Request:
    fn: Callable[[WriteTx], Any]
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[Any] | concurrent.futures.Future[Any]
    exclusive: bool = False
    tx: WriteTx | None = field(default=None, repr=False)


@dataclass
class _Read:
    fn: Callable[[apsw.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


_STOP = object()


class Database:
    """One SQLite file: a group-committing writer thread and reader connections."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        readers: int = 4,
        max_group: int = 1024,
        migrations: Sequence[str] = (*CORE_MIGRATIONS, LOG_HORIZON_SCHEMA),
        on_commit: Callable[[list[Any]], None] | None = None,
        on_connect: Callable[[apsw.Connection], None] | None = None,
    ) -> None:
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.max_group = max_group
        self.on_commit = on_commit
        # Run on every connection as it opens: capabilities register SQL functions here.
        self._on_connect = on_connect
        self._migrations = tuple(migrations)
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._closed = False
        self._readers: queue.SimpleQueue[apsw.Connection] = queue.SimpleQueue()
        self._reader_count = readers
        self._all_readers: list[apsw.Connection] = []
        # Reads from the loop: (fn, loop, future) for the reader threads, one per connection.
        self._reads: queue.SimpleQueue[_Read | object] = queue.SimpleQueue()
        self._reader_threads = [
            threading.Thread(target=self._serve_reads, name=f"performer-reader_{i}", daemon=True)
            for i in range(readers)
        ]
        dbfile.check_existing(self.path, APPLICATION_ID, len(self._migrations))
        self._writer = self._open_writer()
        for _ in range(readers):
            reader = self._connect(read_only=True)
            self._all_readers.append(reader)
            self._readers.put(reader)
        self._thread = threading.Thread(target=self._run, name="performer-writer", daemon=True)
        self._thread.start()
        for thread in self._reader_threads:
            thread.start()

    # -- writing -------------------------------------------------------------------------------

    async def write(self, fn: Callable[[WriteTx], T]) -> T:
        """Run `fn` in the next group commit; return its result once the commit is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(_Request(fn, loop, future))
        return await future

    def submit(self, fn: Callable[[WriteTx], T]) -> concurrent.futures.Future[T]:
        """Thread-safe, loop-free variant of `write`, for the CLI, tools and benchmarks."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._submit(_Request(fn, None, future))
        return future

    def write_sync(self, fn: Callable[[WriteTx], T]) -> T:
        return self.submit(fn).result()

    def run_exclusive(self, fn: Callable[[apsw.Connection], T]) -> T:
        """Run `fn` alone on the writer connection; it manages its own transactions (replay)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._submit(_Request(lambda tx: fn(tx.conn), None, future, exclusive=True))
        return future.result()

    def _submit(self, request: _Request) -> None:
        if self._closed:
            raise Unavailable("the database is closed")
        self._queue.put(request)

    # -- reading -------------------------------------------------------------------------------

    def read_sync(self, fn: Callable[[apsw.Connection], T]) -> T:
        conn = self._readers.get()
        try:
            return fn(conn)
        finally:
            self._readers.put(conn)

    async def read(self, fn: Callable[[apsw.Connection], T]) -> T:
        """Run `fn` on a pooled reader connection; WAL readers never block the writer.

        A reader thread takes the request from a queue and hands the result back with one
        `call_soon_threadsafe`: about a third of run_in_executor's cost per read (no
        concurrent.futures.Future and its condition variable, no future chaining). Like
        run_in_executor, `fn` does not see the caller's context variables.
        """
        if self._closed:
            raise Unavailable("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._reads.put(_Read(fn, loop, future))
        return await future

    def _serve_reads(self) -> None:
        while True:
            item = self._reads.get()
            if item is _STOP:
                return
            assert isinstance(item, _Read)
            self._serve_read(item)
            # Drop the request before waiting for the next: an idle reader would otherwise keep
            # its last closure and result (say, every realtime listener of a batch) alive.
            del item

    def _serve_read(self, item: _Read) -> None:
        try:
            outcome: tuple[bool, Any] = (True, self.read_sync(item.fn))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiter, who re-raises it
            outcome = (False, exc)
        try:
            item.loop.call_soon_threadsafe(_settle_read, item.future, *outcome)
        except RuntimeError:
            log.warning("event loop closed before a read result could be delivered")

    @property
    def migrations(self) -> tuple[str, ...]:
        """The schema steps, in order: the file's `user_version` counts those applied."""
        return self._migrations

    def prepare(self, conn: apsw.Connection) -> apsw.Connection:
        """Give a connection of the caller's (to this file or a copy) the node's SQL functions,
        which generated columns, defaults and views may call."""
        if self._on_connect is not None:
            self._on_connect(conn)
        return conn

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Finish every queued write, then close all connections."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        for _ in self._reader_threads:
            self._reads.put(_STOP)  # after every queued read
        for thread in self._reader_threads:
            thread.join()
        for reader in self._all_readers:
            reader.close()
        self._writer.close()

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            stop_after = self._write_batch(first)  # type: ignore[arg-type]
            del first  # as in _serve_reads: keep nothing of a finished commit while idle
            if stop_after:
                return

    def _write_batch(self, first: _Request) -> bool:
        """Commit `first` and what queued behind it; True when a stop request came in."""
        batch: list[_Request] = [first]
        stop_after = False
        while len(batch) < self.max_group:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop_after = True
                break
            batch.append(item)  # type: ignore[arg-type]
        for group in _split_exclusive(batch):
            if group[0].exclusive:
                self._run_exclusive(group[0])
            else:
                self._run_group(group)
        return stop_after

    def _run_exclusive(self, request: _Request) -> None:
        tx = WriteTx(self._writer)
        try:
            outcome: tuple[bool, Any] = (True, request.fn(tx))
        except Exception as exc:  # noqa: BLE001 - handed to the waiter, who re-raises it
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")
            outcome = (False, exc)
        _settle([(request, *outcome)])

    def _run_group(self, batch: list[_Request]) -> None:
        conn = self._writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            outcomes = self._run_optimistic(batch)
            if outcomes is None:
                # A request failed, so the group was rolled back: run it again, this time with a
                # savepoint around each request so the failure stays with its own waiter.
                conn.execute("BEGIN IMMEDIATE")
                outcomes = self._run_savepointed(batch)
            elif not outcomes:
                return  # a lone request failed; its waiter has been told
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - the whole group failed; every waiter is told
            self._abort_group(batch, exc)
            return
        published: list[Any] = []
        for request, ok, _ in outcomes:
            if ok and request.tx is not None:
                published.extend(request.tx.published)
        after = None
        if published and self.on_commit is not None:
            on_commit = self.on_commit
            after = lambda: on_commit(published)  # noqa: E731
        _settle(outcomes, after)

    def _run_optimistic(self, batch: list[_Request]) -> list[tuple[_Request, bool, Any]] | None:
        """Run the group without savepoints (the common case: nothing fails).

        On a failure, roll everything back and return None (or settle a lone request and return
        an empty list). Savepoints cost two statements per request; skipping them is most of the
        gain of group commit at high concurrency.
        """
        conn = self._writer
        outcomes: list[tuple[_Request, bool, Any]] = []
        for index, request in enumerate(batch):
            request.tx = WriteTx(conn)
            try:
                value = request.fn(request.tx)
            except Exception as exc:  # noqa: BLE001 - handed to the waiter, or retried
                conn.execute("ROLLBACK")
                for earlier in reversed(batch[: index + 1]):
                    if earlier.tx is not None:
                        earlier.tx.rolled_back()
                if len(batch) == 1:
                    _settle([(request, False, exc)])
                    return []
                return None
            outcomes.append((request, True, value))
        return outcomes

    def _run_savepointed(self, batch: list[_Request]) -> list[tuple[_Request, bool, Any]]:
        conn = self._writer
        outcomes: list[tuple[_Request, bool, Any]] = []
        for request in batch:
            request.tx = WriteTx(conn)
            conn.execute("SAVEPOINT request")
            try:
                value = request.fn(request.tx)
            except Exception as exc:  # noqa: BLE001 - handed to the waiter, who re-raises it
                conn.execute("ROLLBACK TO request")
                conn.execute("RELEASE request")
                request.tx.rolled_back()
                outcomes.append((request, False, exc))
                continue
            conn.execute("RELEASE request")
            outcomes.append((request, True, value))
        return outcomes

    def _abort_group(self, batch: list[_Request], exc: Exception) -> None:
        if self._writer.in_transaction:
            try:
                self._writer.execute("ROLLBACK")
            except apsw.Error:
                log.exception("rollback after a failed group failed too")
        for request in reversed(batch):
            if request.tx is not None:
                request.tx.rolled_back()
        log.error("a group of %d writes failed to commit: %s", len(batch), exc)
        error = Unavailable(f"write failed: {dbfile.describe(exc)}")
        _settle([(request, False, error) for request in batch])

    # -- connections ---------------------------------------------------------------------------

    def _connect(self, *, read_only: bool = False) -> apsw.Connection:
        flags = apsw.SQLITE_OPEN_READONLY if read_only else apsw.SQLITE_OPEN_READWRITE
        if not read_only:
            flags |= apsw.SQLITE_OPEN_CREATE
        try:
            conn = apsw.Connection(str(self.path), flags=flags)
            conn.set_busy_timeout(BUSY_TIMEOUT_MS)
        except apsw.Error as exc:
            raise DataDirError(f"cannot open {self.path}: {exc}") from exc
        if self._on_connect is not None:
            self._on_connect(conn)
        return conn

    def _open_writer(self) -> apsw.Connection:
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            dbfile.migrate(conn, APPLICATION_ID, self._migrations)
        except apsw.Error as exc:
            conn.close()
            raise DataDirError(f"{self.path} cannot be used: {dbfile.describe(exc)}") from exc
        return conn


def _split_exclusive(batch: list[_Request]) -> list[list[_Request]]:
    """Cut a batch so each exclusive request runs on its own, in queue order."""
    groups: list[list[_Request]] = []
    for request in batch:
        if request.exclusive or not groups or groups[-1][0].exclusive:
            groups.append([request])
        else:
            groups[-1].append(request)
    return groups


def _settle(
    outcomes: list[tuple[_Request, bool, Any]], after: Callable[[], None] | None = None
) -> None:
    """Resolve waiters, then run `after` (publishing the group's events).

    Thread futures are resolved directly. Asyncio futures are resolved with one wake-up per
    loop, and `after` rides along in the first loop's callback: one wake-up per commit, and
    subscribers see a group's events in commit order, after its writers have their answers.
    """
    per_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for request, ok, value in outcomes:
        if request.loop is None:
            future = request.future
            assert isinstance(future, concurrent.futures.Future)
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        else:
            assert isinstance(request.future, asyncio.Future)
            per_loop.setdefault(request.loop, []).append((request.future, ok, value))
    for loop, items in per_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_in_loop, items, after)
            after = None
        except RuntimeError:
            log.warning("event loop closed before %d write results could be delivered", len(items))
    if after is not None:
        after()


def _settle_in_loop(
    items: list[tuple[asyncio.Future[Any], bool, Any]], after: Callable[[], None] | None
) -> None:
    for future, ok, value in items:
        if future.done():
            continue  # the waiter was cancelled; the write itself has committed
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
    if after is not None:
        after()


def _settle_read(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return  # the reader was cancelled
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
