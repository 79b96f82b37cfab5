"""Assembles streams (the service and its snapshot policy) and adds `/performer/v1/streams`.

The policy runs on a bus subscription that takes only the events of a stream: after each
batch it snapshots the scopes whose head passed a multiple of `stream_snapshot_every`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from performer_edge.core.bus import EventBus, SubscriptionDropped
from performer_edge.core.db import Database
from performer_edge.core.log import LogWriter
from performer_edge.core.tokens import TokenKeys
from performer_edge.realtime.access import CatalogSource
from performer_edge.realtime.component import REALTIME
from performer_edge.streams.channel import StreamFollowers
from performer_edge.streams.policies import StreamPolicies
from performer_edge.streams.reducers import StreamFamilies
from performer_edge.streams.service import Streams
from performer_edge.streams.snapshot_policy import SnapshotPolicy

SHUTTING_DOWN = "the node is shutting down"  # the reason EventBus.close gives


class StreamsComponent:
    def __init__(
        self,
        db: Database,
        log_writer: LogWriter,
        families: StreamFamilies,
        tokens: TokenKeys,
        catalog: CatalogSource,
        bus: EventBus,
        *,
        snapshot_every: int,
        snapshot_keep: int,
    ) -> None:
        self.streams = Streams(
            db,
            log_writer,
            families,
            snapshot_every=snapshot_every,
            snapshot_keep=snapshot_keep,
        )
        self.tokens = tokens
        self.policies = StreamPolicies(db, catalog)
        self.bus = bus
        self.followers = StreamFollowers(self.streams, self.policies, bus)
        self.subscribers: set[asyncio.Task[object]] = set()  # open SSE streams, ended at shutdown

    def install(self, app: web.Application) -> None:
        from performer_edge.streams import api

        app[STREAMS] = self
        api.register(app)
        app[REALTIME].hub.streams = self.followers  # broadcast.stream in channel joins
        app.cleanup_ctx.append(self._snapshotting)
        app.on_shutdown.append(self._end_subscribers)

    async def _end_subscribers(self, app: web.Application) -> None:
        for task in list(self.subscribers):
            task.cancel()
        self.followers.close()

    async def _snapshotting(self, app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self._policy(), name="streams-snapshot-policy")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _policy(self) -> None:
        families = self.streams.families
        if self.streams.snapshot_every <= 0:
            return
        policy = SnapshotPolicy(self.streams)
        while True:
            subscription = self.bus.subscribe(
                "streams-snapshots", accept=lambda e: families.indexed(e) is not None
            )
            try:
                while True:
                    batch = [await subscription.get()]
                    while subscription.pending():
                        batch.append(await subscription.get())
                    await policy.on_committed(batch)
            except SubscriptionDropped as dropped:
                if dropped.reason == SHUTTING_DOWN:
                    return
                policy.forget()  # it missed events: count afresh from the store
            finally:
                subscription.close()


STREAMS = web.AppKey("streams", StreamsComponent)
