"""`broadcast.stream` on realtime channels: a channel member follows a stream, from a version or
from its newest snapshot, over the Phoenix WebSocket (or realtime's SSE) like any broadcast.

Each event arrives as a broadcast with event `stream` and the event as payload (`version`,
`kind`, `time`, `origin`, `seq`, `data`); a follow from no version starts with a broadcast
`stream_snapshot` (`{"version", "state", "head"}`). So the official clients need nothing new:
`channel.on('broadcast', {event: 'stream'}, ...)`. A follower that falls behind, or whose
history was compacted away, gets a `system` message (extension `stream`, status `error`) and
its follow ends; it joins again from the last version it got.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from performer_edge.core.bus import EventBus, Subscription, SubscriptionDropped
from performer_edge.errors import Forbidden, PerformerError
from performer_edge.realtime.access import Caller
from performer_edge.realtime.channels import RESUME_AGAIN, Member
from performer_edge.realtime.join import StreamJoin
from performer_edge.realtime.phoenix import UserBroadcast
from performer_edge.rest.catalog import PolicyCommand
from performer_edge.streams.follow import follow, subscribe
from performer_edge.streams.policies import StreamPolicies
from performer_edge.streams.service import Stream, Streams, check_version

log = logging.getLogger("performer.streams")

EVENT = "stream"
SNAPSHOT = "stream_snapshot"


@dataclass(frozen=True)
class Admitted:
    stream: Stream
    after: int | None


class StreamFollowers:
    """The streams side of `Hub.streams`: one task per following member."""

    def __init__(self, streams: Streams, policies: StreamPolicies, bus: EventBus) -> None:
        self.streams = streams
        self.policies = policies
        self.bus = bus
        self.tasks: dict[Member, asyncio.Task[None]] = {}

    async def admit(self, caller: Caller, spec: StreamJoin) -> object:
        stream = self.streams.resolve(spec.scope)
        if not await self.policies.allows(caller.context, stream, PolicyCommand.SELECT):
            raise Forbidden(
                f"no policy lets this caller read stream {stream.scope!r}", code="stream_forbidden"
            )
        if spec.after is not None:
            check_version("from", spec.after, await self.streams.head(stream))
        return Admitted(stream, spec.after)

    def follow(self, member: Member, admitted: object) -> None:
        assert isinstance(admitted, Admitted)
        self.unfollow(member)
        # Subscribed now, before the join's reply is read: nothing committed from here is missed.
        subscription = subscribe(self.bus, self.streams, admitted.stream)
        task = asyncio.create_task(self._run(member, admitted, subscription))
        self.tasks[member] = task
        task.add_done_callback(lambda done: self._ended(member, done))

    def unfollow(self, member: Member) -> None:
        task = self.tasks.pop(member, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        for member in list(self.tasks):
            self.unfollow(member)

    async def _run(self, member: Member, admitted: Admitted, subscription: Subscription) -> None:
        items = follow(self.streams, admitted.stream, subscription, admitted.after)
        try:
            async for item in items:
                if item is None:
                    continue
                event = SNAPSHOT if item.kind == "snapshot" else EVENT
                meta = {"id": str(item.version)}
                member.push("broadcast", UserBroadcast(member.topic, event, item.data, None, meta))
        except SubscriptionDropped:
            member.system(EVENT, RESUME_AGAIN, status="error")
        except PerformerError as error:
            member.system(EVENT, error.message, status="error")
        finally:
            await items.aclose()
            subscription.close()

    def _ended(self, member: Member, task: asyncio.Task[None]) -> None:
        if self.tasks.get(member) is task:
            del self.tasks[member]
        if not task.cancelled() and task.exception() is not None:
            log.error("stream follow failed", exc_info=task.exception())
