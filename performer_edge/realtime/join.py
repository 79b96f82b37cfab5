"""The `phx_join` payload, parsed and checked before anything is registered.

Pure. Clients send `{"config": {"broadcast", "presence", "private", "postgres_changes"},
"access_token"?}` (supabase-wire.md §4.2); js may leave `access_token` out (then the socket's
API key stands) and sends `broadcast` as the user gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from performer_edge.errors import InvalidInput
from performer_edge.realtime.bindings import Binding, TableLookup, parse_binding

MAX_REPLAY = 1000  # most broadcasts one join replays


@dataclass(frozen=True)
class Replay:
    """`broadcast.replay`: broadcasts logged since `since_ms` (epoch ms), at most `limit`."""

    since_ms: int
    limit: int


@dataclass(frozen=True)
class StreamJoin:
    """`config.broadcast.stream` (inside `broadcast`, which both official clients pass on as
    given, like `replay`): follow a stream of the streams API (`performer_edge.streams`) from
    a version (None: from its newest snapshot), delivered as broadcasts."""

    scope: str
    after: int | None


@dataclass(frozen=True)
class JoinConfig:
    broadcast_self: bool
    broadcast_ack: bool
    presence_enabled: bool
    presence_key: str
    private: bool
    bindings: tuple[Binding, ...]
    replay: Replay | None
    access_token: str | None
    stream: StreamJoin | None = None


def parse_join(payload: dict[str, Any], tables: TableLookup) -> JoinConfig:
    config = payload.get("config") or {}
    if not isinstance(config, dict):
        raise InvalidInput("config must be an object")
    broadcast = _object(config, "broadcast")
    presence = _object(config, "presence")
    private = config.get("private", False)
    raw_bindings = config.get("postgres_changes") or []
    if not isinstance(private, bool):
        raise InvalidInput("config.private must be a boolean")
    if not isinstance(raw_bindings, list):
        raise InvalidInput("config.postgres_changes must be a list")
    key = presence.get("key", "")
    if not isinstance(key, str):
        raise InvalidInput("config.presence.key must be a string")
    token = payload.get("access_token")
    if token is not None and not isinstance(token, str):
        raise InvalidInput("access_token must be a string")
    return JoinConfig(
        broadcast_self=_flag(broadcast, "self"),
        broadcast_ack=_flag(broadcast, "ack"),
        presence_enabled=_flag(presence, "enabled"),
        presence_key=key,
        private=private,
        bindings=tuple(parse_binding(raw, tables) for raw in raw_bindings),
        replay=_replay(broadcast.get("replay")),
        access_token=token or None,
        stream=_stream(broadcast.get("stream")),
    )


def _object(config: dict[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name) or {}
    if not isinstance(value, dict):
        raise InvalidInput(f"config.{name} must be an object")
    return value


def _flag(section: dict[str, Any], name: str) -> bool:
    value = section.get(name, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be a boolean")
    return value


def _replay(value: object) -> Replay | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("config.broadcast.replay must be an object")
    since = value.get("since", 0)
    limit = value.get("limit", MAX_REPLAY)
    if not isinstance(since, int) or isinstance(since, bool) or since < 0:
        raise InvalidInput("replay.since must be a time in epoch milliseconds")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_REPLAY:
        raise InvalidInput(f"replay.limit must be between 1 and {MAX_REPLAY}")
    return Replay(since, limit)


def _stream(value: object) -> StreamJoin | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"scope", "from"}:
        raise InvalidInput('broadcast.stream must be {"scope": SCOPE, "from"?: VERSION}')
    scope, after = value.get("scope"), value.get("from")
    if not isinstance(scope, str) or not scope:
        raise InvalidInput("broadcast.stream.scope must be a stream's scope")
    if after is not None and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
        raise InvalidInput("broadcast.stream.from must be a version (an integer >= 0)")
    return StreamJoin(scope, after)
