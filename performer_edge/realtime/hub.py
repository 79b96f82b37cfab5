"""The channels of this node: who joined which topic, and what each client message does.

Transports (`ws`, `sse`, the HTTP broadcast route) hand decoded Phoenix messages to
`Hub.receive`; the hub answers through each session's outbox. Broadcasts are logged as
`realtime.broadcast` events (scope = the topic) and reach members from the bus, like row
changes (`dispatch`), so a broadcast is delivered once it is durable, in log order, to local
and (through sync) remote members alike, and can be replayed (`catch_up`). Presence is
node-local state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from performer_edge.core.events import Event
from performer_edge.errors import InvalidInput, PerformerError, Unauthorized
from performer_edge.realtime import catch_up
from performer_edge.realtime.access import (
    Caller,
    channel_allowed,
    join_error_reason,
    verify_caller,
)
from performer_edge.realtime.bindings import ColumnTypes
from performer_edge.realtime.catch_up import BROADCAST_KIND, HubDeps, PlanRows
from performer_edge.realtime.changes import column_types
from performer_edge.realtime.channels import Delivery, Member, Session, channel_name, full_topic
from performer_edge.realtime.join import JoinConfig, StreamJoin, parse_join
from performer_edge.realtime.phoenix import Message, reply
from performer_edge.realtime.presence import Diff, TopicPresence
from performer_edge.realtime.recent import RecentChanges
from performer_edge.rest.catalog import Catalog, PolicyCommand

log = logging.getLogger("performer.realtime")


class StreamFollowers(Protocol):
    """`broadcast.stream`'s other half, set by the streams capability (`hub.streams`): realtime
    imports nothing from it. `admit` refuses with a PerformerError (the join's error reply)."""

    async def admit(self, caller: Caller, spec: StreamJoin) -> object: ...

    def follow(self, member: Member, admitted: object) -> None: ...

    def unfollow(self, member: Member) -> None: ...


class Hub:
    def __init__(self, deps: HubDeps) -> None:
        self.deps = deps
        self.topics: dict[str, set[Member]] = {}
        self.presence: dict[str, TopicPresence] = {}
        self.listeners: set[Member] = set()  # members with postgres_changes bindings
        # Who receives which row change, policies applied: set by the dispatcher, which owns
        # the table index (runs on a reader connection).
        self.plan_rows: PlanRows | None = None
        self.streams: StreamFollowers | None = None
        self.recent = RecentChanges()  # whole records for a catch-up's newest row changes

    # -- client messages ---------------------------------------------------------------------

    async def receive(self, session: Session, message: Message) -> None:
        """Act on one client message; protocol mistakes get an error reply, never a crash."""
        try:
            await self._route(session, message)
        except PerformerError as error:
            session.send(reply(message, "error", {"reason": error.message}))

    async def _route(self, session: Session, message: Message) -> None:
        if message.topic == "phoenix":
            if message.event != "heartbeat":
                raise InvalidInput(f"unknown event {message.event!r} on topic phoenix")
            session.send(reply(message, "ok", {}))
            return
        if message.event == "phx_join":
            await self.join(session, message)
            return
        member = session.members.get(message.topic)
        if member is None or (message.join_ref and message.join_ref != member.join_ref):
            raise InvalidInput("unmatched topic")
        if message.event == "phx_leave":
            self.leave(member)
            session.send(reply(message, "ok", {}))
        elif message.event == "broadcast":
            await self._client_broadcast(member, message)
        elif message.event == "presence":
            await self._presence(member, message)
        elif message.event == "access_token":
            await self._access_token(member, message)
        else:
            raise InvalidInput(f"unknown event {message.event!r}")

    # -- join and leave ----------------------------------------------------------------------

    async def join(
        self, session: Session, message: Message, *, resume_after: int | None = None
    ) -> None:
        """Join a channel. `resume_after`: a log position the client got up to (SSE's
        `Last-Event-ID`); what the channel logged after it is sent before live messages."""
        catalog: Catalog = await self.deps.db.read(self.deps.catalog)
        config = parse_join(message.payload, lambda s, t: _table_types(catalog, s, t))
        try:
            caller = self._caller(config.access_token or session.default_token)
        except Unauthorized as error:
            session.send(reply(message, "error", {"reason": join_error_reason(error)}))
            return
        name = channel_name(message.topic)
        if config.private and not await self._channel_allowed(caller, name, PolicyCommand.SELECT):
            reason = (
                "Unauthorized: You do not have permissions to read from this Channel topic: " + name
            )
            session.send(reply(message, "error", {"reason": reason}))
            return
        if config.replay is not None and not config.private:
            raise InvalidInput("Replay is only available on private channels")
        admitted: object = None
        if config.stream is not None:
            if self.streams is None:
                raise InvalidInput("streams are not served on this node")
            admitted = await self.streams.admit(caller, config.stream)
        old = session.members.get(message.topic)
        if old is not None:
            self.leave(old)
        member = self._register(session, message, caller, config)
        echoed = [{**binding.raw, "id": binding.id} for binding in config.bindings]
        session.send(reply(message, "ok", {"postgres_changes": echoed}))
        if config.bindings:
            member.system("postgres_changes", "Subscribed to PostgreSQL")
        if member.presence_enabled:
            member.push("presence_state", self._presence_of(member.topic).state())
        if admitted is not None and self.streams is not None:
            self.streams.follow(member, admitted)
        if config.replay is not None or resume_after is not None:
            # No await between registering and holding: nothing live can slip ahead.
            session.hold()
            missed: list[Delivery] = []
            complete = True
            try:
                if config.replay is not None:
                    missed = await catch_up.replayed(self.deps, member, config.replay)
                if resume_after is not None:
                    assert self.plan_rows is not None, "the dispatcher sets plan_rows"
                    missed, complete = await catch_up.missed(
                        self.deps, self.plan_rows, member, resume_after, self.recent
                    )
            finally:
                session.release(missed, complete=complete)

    def _register(
        self, session: Session, message: Message, caller: Caller, config: JoinConfig
    ) -> Member:
        member = Member(
            session,
            message.topic,
            message.join_ref or message.ref,
            caller,
            private=config.private,
            broadcast_self=config.broadcast_self,
            broadcast_ack=config.broadcast_ack,
            presence_enabled=config.presence_enabled,
            presence_key=config.presence_key or session.id,
            bindings=config.bindings,
            live_after=self.deps.bus.last_pos,
        )
        session.members[member.topic] = member
        self.topics.setdefault(member.topic, set()).add(member)
        if member.bindings:
            self.listeners.add(member)
        self._schedule_expiry(member)
        return member

    def leave(self, member: Member) -> None:
        """Remove a member (leave, close, expired token); its presence leaves with it."""
        if member.expiry is not None:
            member.expiry.cancel()
        members = self.topics.get(member.topic)
        if members is not None:
            members.discard(member)
            if not members:
                del self.topics[member.topic]
        self.listeners.discard(member)
        if self.streams is not None:
            self.streams.unfollow(member)
        if member.session.members.get(member.topic) is member:
            del member.session.members[member.topic]
        presence = self.presence.get(member.topic)
        if presence is not None:
            diff = presence.untrack(member.tracker)
            if diff is not None:
                self._send_diff(member.topic, diff)
            if presence.empty():
                del self.presence[member.topic]

    def close_session(self, session: Session) -> None:
        for member in list(session.members.values()):
            self.leave(member)

    # -- tokens ------------------------------------------------------------------------------

    def _caller(self, token: str | None) -> Caller:
        if token is None:
            raise Unauthorized("no access token and no API key", code="token_invalid")
        return verify_caller(self.deps.tokens, token)

    def _schedule_expiry(self, member: Member) -> None:
        if member.expiry is not None:
            member.expiry.cancel()
            member.expiry = None
        expires = member.caller.expires_at
        if expires is None:
            return
        delay = max(0.0, expires - time.time())
        member.expiry = asyncio.get_running_loop().call_later(delay, self._expire, member)

    def _expire(self, member: Member, message: str = "Token has expired") -> None:
        """Close the channel with a system message, as Supabase does when a token runs out."""
        member.system("system", message, status="error")
        member.push("phx_close", {})
        self.leave(member)

    async def _access_token(self, member: Member, message: Message) -> None:
        token = message.payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise InvalidInput("access_token must be a non-empty string")
        if token.startswith("sb_"):  # a new-format API key: the channel keeps its token
            member.session.send(reply(message, "ok", {}))
            return
        try:
            caller = verify_caller(self.deps.tokens, token)
        except Unauthorized as error:
            self._expire(member, join_error_reason(error).removeprefix("InvalidJWTToken: "))
            return
        member.caller = caller
        member.may_send.clear()
        self._schedule_expiry(member)
        member.session.send(reply(message, "ok", {}))

    async def _channel_allowed(self, caller: Caller, name: str, command: PolicyCommand) -> bool:
        if caller.context.bypass_rls:
            return True
        catalog_of = self.deps.catalog
        return await self.deps.db.read(
            lambda conn: channel_allowed(conn, catalog_of(conn), caller.context, name, command)
        )

    async def _may_send(self, member: Member, extension: str) -> bool:
        if not member.private:
            return True
        allowed = member.may_send.get(extension)
        if allowed is None:
            allowed = await self._channel_allowed(member.caller, member.name, PolicyCommand.INSERT)
            member.may_send[extension] = allowed
        return allowed

    # -- broadcast ---------------------------------------------------------------------------

    async def _client_broadcast(self, member: Member, message: Message) -> None:
        payload = message.payload
        event = payload.get("event")
        if not isinstance(event, str) or not event:
            raise InvalidInput("a broadcast needs an event name")
        if member.caller.expired():
            self._expire(member)
            return
        if not await self._may_send(member, "broadcast"):
            raise Unauthorized(
                f"You do not have permissions to write to this Channel topic: {member.name}"
            )
        binary = payload.get("binary")
        await self.publish(
            broadcast_record(
                member.topic,
                event,
                payload.get("payload"),
                private=member.private,
                sender=member.session.id,
                binary=binary if isinstance(binary, bytes) else None,
            )
        )
        if member.broadcast_ack:
            member.session.send(reply(message, "ok", {}))

    async def publish(self, record: tuple[str, str, Any]) -> Event:
        """Log a broadcast (a `broadcast_record`); members get it from the bus once committed."""
        return await self.deps.append(*record)

    async def publish_many(self, records: list[tuple[str, str, Any]]) -> None:
        """Log several broadcasts (`broadcast_record`s) in one transaction."""
        await self.deps.append_many(records)

    async def sender_allowed(self, caller: Caller, topic: str, private: bool) -> bool:
        """May `caller` send to `topic` (the HTTP broadcast route asks)?"""
        if not private:
            return True
        return await self._channel_allowed(caller, channel_name(topic), PolicyCommand.INSERT)

    # -- presence ----------------------------------------------------------------------------

    async def _presence(self, member: Member, message: Message) -> None:
        kind = message.payload.get("event")
        if kind not in ("track", "untrack"):
            raise InvalidInput("presence event must be track or untrack")
        if not await self._may_send(member, "presence"):
            raise Unauthorized(f"You do not have permissions to track presence on: {member.name}")
        presence = self._presence_of(member.topic)
        if kind == "track":
            meta = message.payload.get("payload") or {}
            if not isinstance(meta, dict):
                raise InvalidInput("presence payload must be an object")
            member.presence_enabled = True
            diff: Diff | None = presence.track(member.tracker, member.presence_key, meta)
        else:
            diff = presence.untrack(member.tracker)
        member.session.send(reply(message, "ok", {}))
        if diff is not None:
            self._send_diff(member.topic, diff)

    def _presence_of(self, topic: str) -> TopicPresence:
        return self.presence.setdefault(topic, TopicPresence())

    def _send_diff(self, topic: str, diff: Diff) -> None:
        for other in self.topics.get(topic, ()):
            if other.presence_enabled:
                other.push("presence_diff", diff)


def broadcast_record(
    topic: str,
    event: str,
    payload: Any,
    *,
    private: bool,
    sender: str | None = None,
    binary: bytes | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """The (kind, scope, data) of the event logging a broadcast."""
    data: dict[str, Any] = {"event": event, "private": private}
    if binary is not None:
        data["binary"] = binary
    else:
        data["payload"] = payload
    if sender is not None:
        data["from"] = sender
    return BROADCAST_KIND, full_topic(topic), data


def _table_types(catalog: Catalog, schema: str, table: str) -> ColumnTypes | None:
    found = catalog.table(schema, table)
    return column_types(found) if found is not None else None
