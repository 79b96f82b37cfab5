"""Runs triggered functions: follows the log for event triggers, ticks cron triggers each
minute, and works through the owed runs with retries and backoff.

Theory of operation. Which node runs what (README, Functions: triggers): an event trigger runs
on the node where the event originated (`event.origin`), so a cluster runs it once; a cron
trigger runs on the node whose deploy or rollback made the version current. Three tasks:

- the follower reads the log after its saved position (`core.log.read_after`); the bus only
  wakes it, so a dropped subscription or a restart loses nothing. For each local event that a
  current function's trigger matches, it inserts a run (`trigger_runs`) in the same transaction
  that saves the position past it.
- the cron ticker, at each minute (and when deployments change), owes a run for every cron
  trigger of this node whose schedule matches the current minute. A minute runs if the node is
  up at some time during it; minutes that passed while it was down are skipped, not replayed.
- the worker runs due runs, at most CONCURRENCY at once, through the same path as an HTTP
  invocation, and records the outcome: succeeded (status below 400), pending again after
  `limits.retry_delay_s`, or failed once `trigger_attempts` are spent. A run interrupted by a
  crash is still pending, so it runs again after restart: at least once, with the run's
  idempotency key (the event's `origin:seq`) for the function to make a repeat a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import apsw

from performer_edge.core.bus import EventBus, SubscriptionDropped
from performer_edge.core.db import WriteTx
from performer_edge.core.events import Event
from performer_edge.core.log import last_position, read_after, read_origin
from performer_edge.errors import NotFound, PerformerError
from performer_edge.functions import registry
from performer_edge.functions import trigger_runs as runs
from performer_edge.functions.envelope import encode_request
from performer_edge.functions.limits import Limits
from performer_edge.functions.triggers import (
    CRON,
    CronTrigger,
    EventTrigger,
    Trigger,
    event_view,
    parse_trigger,
)

if TYPE_CHECKING:
    from performer_edge.functions.component import FunctionsComponent

log = logging.getLogger("performer.functions.triggers")

FOLLOWER = "functions-triggers"
FUNCTION_KINDS = "function."
BATCH = 500
CONCURRENCY = 4
SAVE_POSITION_S = 5.0  # without runs to record, the position is saved at most this often
IDLE_S = 30.0
PRUNE_EVERY_S = 3600.0
MAX_CRON_CATCH_UP = 10  # minutes, should the loop ever be that late
RETRY_AFTER_FAULT_S = 1.0
# A triggered run has no caller: it runs as anon (db.service_role lifts the policies).
TRIGGER_CLAIMS = {"role": "anon"}
RETRY = "retry"


@dataclass(frozen=True)
class Outcome:
    status: str  # a trigger_runs status, or RETRY
    version: str | None
    http_status: int | None
    error: str | None
    limits: Limits | None = None  # the version's, for RETRY


@dataclass(frozen=True)
class Following:
    """A current version's parsed triggers."""

    entry: registry.Triggered
    events: tuple[EventTrigger, ...]
    crons: tuple[CronTrigger, ...]


class TriggerRunner:
    def __init__(
        self,
        functions: FunctionsComponent,
        bus: EventBus,
        origin: bytes,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.functions = functions
        self.db = functions.db
        self.bus = bus
        self.origin = origin
        self.now = now
        self.position = 0
        self._saved = (0, 0.0)  # position, when
        self._following: list[Following] | None = None  # None: reload before use
        self._cron_checked: datetime | None = None
        self._wake = asyncio.Event()
        self._cron_wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.position = await self.db.write(lambda tx: _initial_position(tx.conn))
        self._saved = (self.position, self.now())
        self._tasks = [
            asyncio.create_task(self._guarded(self._follow_log), name="functions-follow-log"),
            asyncio.create_task(self._guarded(self._work), name="functions-trigger-runs"),
            asyncio.create_task(self._guarded(self._tick_cron), name="functions-cron"),
        ]

    async def close(self) -> None:
        tasks = [*self._tasks, *self._busy.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._saved[0] != self.position:
            position = self.position
            await self.db.write(lambda tx: runs.save_position(tx.conn, position))

    def wake(self) -> None:
        self._wake.set()

    async def _guarded(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Keep a loop alive through database faults (a full disk, a locked file): log, wait,
        start it again. Each loop resumes from durable state."""
        while True:
            try:
                await body()
            except (PerformerError, apsw.Error) as exc:
                log.error("trigger loop %s failed, restarting: %s", body.__name__, exc)
                self._following = None
                await asyncio.sleep(RETRY_AFTER_FAULT_S)

    # -- what is followed ----------------------------------------------------------------------

    async def following(self) -> list[Following]:
        if self._following is None:
            entries = await self.db.read(registry.all_triggered)
            self._following = [_parsed(entry) for entry in entries]
        return self._following

    # -- the follower --------------------------------------------------------------------------

    def _wanted(self, event: Event) -> bool:
        return event.origin == self.origin or event.kind.startswith(FUNCTION_KINDS)

    async def _follow_log(self) -> None:
        while True:
            subscription = self.bus.subscribe(FOLLOWER, accept=self._wanted)
            self._changed()  # events were missed (start, or a drop): reload what is followed
            try:
                await self._catch_up(self.bus.last_pos)
                while True:
                    event = await subscription.get()
                    if event.kind.startswith(FUNCTION_KINDS):
                        self._changed()
                    if event.pos > self.position:
                        await self._catch_up(event.pos)
            except SubscriptionDropped:
                pass
            finally:
                subscription.close()

    def _changed(self) -> None:
        self._following = None
        self._cron_wake.set()
        self.functions.forget_current()  # a deployment may have come from a peer

    async def _catch_up(self, upto: int) -> None:
        """Read the log after the position; `upto` is committed and no deployment change
        after the position is unseen, so with nothing following events the log need not be
        read up to there."""
        while True:
            following = [f for f in await self.following() if f.events]
            if not following:
                self.position = max(self.position, upto)
                await self._save_position_lazily()
                return
            batch = await self.db.read(partial(read_after, pos=self.position, limit=BATCH))
            if not batch:
                return
            cut = next(
                (i + 1 for i, e in enumerate(batch) if e.kind.startswith(FUNCTION_KINDS)),
                len(batch),
            )
            events = batch[:cut]  # a deployment change ends the batch: reload, then go on
            owed = [o for event in events for o in self.owed_for(event, following)]
            last = events[-1].pos
            if owed:
                now = self.now()
                await self.db.write(partial(_record, owed=owed, position=last, now=now))
                self._saved = (last, now)
                self._wake.set()
            self.position = last
            if cut < len(batch):
                self._following = None
            await self._save_position_lazily()

    def owed_for(self, event: Event, following: list[Following]) -> list[runs.Owed]:
        """The runs `event` owes: none unless this node is its origin."""
        if event.origin != self.origin:
            return []  # runs on its origin node
        owed = []
        for entry in following:
            if event.hlc <= entry.entry.since_hlc:
                continue  # before the function was deployed
            matched = next((t for t in entry.events if t.matches(event)), None)
            if matched is not None:
                key = f"{event.origin.hex()}:{event.seq}"
                name = entry.entry.version.name
                owed.append(runs.Owed(name, matched.text, key, event.origin, event.seq))
        return owed

    async def _save_position_lazily(self) -> None:
        position, at = self._saved
        now = self.now()
        if position != self.position and now - at >= SAVE_POSITION_S:
            saving = self.position
            await self.db.write(lambda tx: runs.save_position(tx.conn, saving))
            self._saved = (saving, now)

    # -- cron ------------------------------------------------------------------------------------

    async def _tick_cron(self) -> None:
        pruned = 0.0
        while True:
            self._cron_wake.clear()
            current = datetime.fromtimestamp(self.now(), UTC).replace(second=0, microsecond=0)
            await self.owe_cron(current)
            if self.now() - pruned >= PRUNE_EVERY_S:
                pruned = self.now()
                removed = await self.db.write(partial(_prune, now=pruned))
                if removed:
                    log.info("pruned %d finished trigger runs", removed)
            next_minute = (current + timedelta(minutes=1)).timestamp()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cron_wake.wait(), max(next_minute - self.now(), 0))

    async def owe_cron(self, current: datetime) -> None:
        """Owe the runs of this node's cron triggers for the minutes since the last check, up
        to `current` (the minute now running)."""
        checked = self._cron_checked
        first = current if checked is None else max(checked, current - timedelta(minutes=10))
        minutes: list[datetime] = []
        while first <= current and len(minutes) < MAX_CRON_CATCH_UP:
            minutes.append(first)
            first += timedelta(minutes=1)
        owed = [
            runs.Owed(
                entry.entry.version.name,
                cron.text,
                f"{cron.text}@{_minute_iso(minute)}",
                scheduled_at=_minute_iso(minute),
            )
            for entry in await self.following()
            if entry.entry.owner == self.origin
            for cron in entry.crons
            for minute in minutes
            if cron.schedule.matches(minute)
        ]
        if owed:
            now = self.now()
            added = await self.db.write(lambda tx: runs.insert_owed(tx.conn, owed, now))
            if added:
                self._wake.set()
        self._cron_checked = current

    # -- the worker ------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            self._wake.clear()
            now = self.now()
            free = CONCURRENCY - len(self._busy)
            busy = list(self._busy)
            if free > 0:
                found = await self.db.read(partial(runs.due, now=now, limit=free, busy=busy))
                for run in found:
                    self._busy[run.id] = asyncio.create_task(self._attempt(run))
            later = await self.db.read(partial(runs.next_due, busy=list(self._busy)))
            wait = IDLE_S if later is None else min(max(later - self.now(), 0.0), IDLE_S)
            if len(self._busy) >= CONCURRENCY:
                wait = IDLE_S  # a finishing run wakes the worker
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _attempt(self, run: runs.Run) -> None:
        try:
            outcome = await self._invoke(run)
            attempts, next_at, status = run.attempts + 1, self.now(), outcome.status
            limits = outcome.limits
            if status == RETRY and limits is not None:
                status = runs.FAILED if attempts >= limits.trigger_attempts else runs.PENDING
                next_at += limits.retry_delay_s(attempts)
            await self.db.write(
                lambda tx: runs.finish(
                    tx.conn,
                    run.id,
                    status=status,
                    attempts=attempts,
                    next_at=next_at,
                    version=outcome.version,
                    last_status=outcome.http_status,
                    last_error=outcome.error,
                )
            )
            if status == runs.FAILED:
                log.warning("trigger run %s of %s failed: %s", run.key, run.function, outcome.error)
        except (PerformerError, apsw.Error) as exc:
            # Not the function's fault (the node is closing, the disk is full): the run stays
            # pending as it was and is tried again.
            log.warning("trigger run %s of %s not recorded: %s", run.key, run.function, exc)
            await asyncio.sleep(RETRY_AFTER_FAULT_S)
        finally:
            self._busy.pop(run.id, None)
            self._wake.set()

    async def _invoke(self, run: runs.Run) -> Outcome:
        try:
            version, loaded = await self.functions.resolve(run.function, None)
        except NotFound:
            return Outcome(runs.SKIPPED, None, None, "the function was deleted")
        if run.trigger not in version.triggers:
            why = f"version {version.version} has no trigger {run.trigger}"
            return Outcome(runs.SKIPPED, version.version, None, why)
        given: dict[str, Any] = {"idempotency_key": run.key, "attempt": run.attempts + 1}
        if run.origin is not None and run.seq is not None:
            origin, seq = run.origin, run.seq
            found = await self.db.read(lambda conn: read_origin(conn, origin, seq, seq, 1))
            if not found:
                why = "its event is no longer in the log (compacted)"
                return Outcome(runs.FAILED, version.version, None, why)
            extra = {"event": event_view(found[0])}
        else:
            schedule = run.trigger.removeprefix(CRON)
            extra = {"cron": {"schedule": schedule, "scheduled_at": run.scheduled_at}}
        try:
            request = encode_request(
                method="POST",
                path="/",
                query=(),
                headers=(("content-type", "application/json"),),
                body=b"",
                principal={"role": "anon", "sub": None, "claims": TRIGGER_CLAIMS},
                trigger={"trigger": {"spec": run.trigger, **given}, **extra},
            )
        except (TypeError, ValueError) as exc:  # orjson: an integer past 64 bits, say
            why = f"the event cannot be given to the function as JSON: {exc}"
            return Outcome(runs.FAILED, version.version, None, why)
        ran = await self.functions.run(version, loaded, request, dict(TRIGGER_CLAIMS))
        if ran.failure is not None:
            error = f"{ran.failure.reason}: {ran.failure.message}"
            return Outcome(RETRY, version.version, ran.failure.status, error, loaded.limits)
        assert ran.response is not None
        status = ran.response.status
        if status < 400:
            return Outcome(runs.SUCCEEDED, version.version, status, None)
        body = ran.response.body[:500].decode("utf-8", "replace")
        error = f"the function answered {status}: {body}"
        return Outcome(RETRY, version.version, status, error, loaded.limits)


def _initial_position(conn: apsw.Connection) -> int:
    """The saved position; on first start, the log's end (history is not replayed)."""
    position = runs.read_position(conn)
    if position is None:
        position = last_position(conn)
        runs.save_position(conn, position)
    return position


def _record(tx: WriteTx, *, owed: list[runs.Owed], position: int, now: float) -> None:
    runs.insert_owed(tx.conn, owed, now)
    runs.save_position(tx.conn, position)


def _prune(tx: WriteTx, *, now: float) -> int:
    return runs.prune(tx.conn, now)


def _parsed(entry: registry.Triggered) -> Following:
    parsed: list[Trigger] = []
    for text in entry.version.triggers:
        try:
            parsed.append(parse_trigger(text))
        except PerformerError as exc:  # deployed by a node that knows a syntax this one lacks
            log.warning("function %s: trigger %r ignored: %s", entry.version.name, text, exc)
    events = tuple(t for t in parsed if isinstance(t, EventTrigger))
    crons = tuple(t for t in parsed if isinstance(t, CronTrigger))
    return Following(entry, events, crons)


def _minute_iso(minute: datetime) -> str:
    return minute.strftime("%Y-%m-%dT%H:%MZ")
