"""Assembles Realtime (the hub, Yjs documents, the bus dispatcher, open sessions) and adds
`/realtime/v1`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from performer_edge.core.bus import EventBus
from performer_edge.core.db import Database
from performer_edge.core.memory import TrimAfterDrop
from performer_edge.core.tokens import TokenKeys
from performer_edge.realtime.access import CatalogSource
from performer_edge.realtime.catch_up import Append, AppendMany, HubDeps
from performer_edge.realtime.channels import Session
from performer_edge.realtime.dispatch import Dispatcher
from performer_edge.realtime.hub import Hub
from performer_edge.realtime.ydocs import DocRooms

SHUTDOWN = "the node is shutting down"


class RealtimeComponent:
    def __init__(
        self,
        db: Database,
        append: Append,
        append_many: AppendMany,
        tokens: TokenKeys,
        catalog: CatalogSource,
        bus: EventBus,
        *,
        outbox_size: int,
        retention_s: int,
    ) -> None:
        self.outbox_size = outbox_size
        self.retention_s = retention_s
        self.hub = Hub(
            HubDeps(db, append, append_many, tokens, catalog, bus, outbox_size, retention_s)
        )
        # The dispatcher may lag more than a session: it batches, and catches up from the log.
        self.dispatcher = Dispatcher(self.hub, queue_size=max(bus.queue_size, 1024) * 8)
        self.ydocs = DocRooms(db, append)
        self.dispatcher.ydocs = self.ydocs
        self.sessions: set[Session] = set()  # WebSocket sessions
        self.sse_sessions: dict[str, Session] = {}  # SSE sessions by the key their POSTs name
        # 1,000 clients gone must not leave their memory with the process (issue 7's load test).
        self.memory = TrimAfterDrop(lambda: len(self.sessions))

    def health(self) -> dict[str, int]:
        """Realtime figures for `/health`: open connections per transport, channels joined."""
        sessions = [*self.sessions, *self.sse_sessions.values()]
        return {
            "websocket_connections": len(self.sessions),
            "sse_connections": len(self.sse_sessions),
            "channels_joined": sum(len(s.members) for s in sessions),
            "memory_trims": self.memory.trims,  # times freed memory went back to the OS
        }

    def install(self, app: web.Application) -> None:
        from performer_edge.realtime import api

        app[REALTIME] = self
        api.register(app)
        app.cleanup_ctx.append(self._dispatching)
        app.on_shutdown.append(self._close_sessions)

    async def _close_sessions(self, app: web.Application) -> None:
        """Before the server waits for open requests: end every stream and socket."""
        for session in [*self.sessions, *self.sse_sessions.values()]:
            session.close(SHUTDOWN)

    async def _dispatching(self, app: web.Application) -> AsyncIterator[None]:
        subscription = self.dispatcher.subscribe()
        task = asyncio.create_task(self.dispatcher.run(subscription), name="realtime-dispatch")
        yield
        subscription.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


REALTIME = web.AppKey("realtime", RealtimeComponent)
