"""Reducers: how a stream's events fold into a state, and the families of scopes they serve.

A `Reducer` is a pure fold: `initial()`, then `apply(state, event)` per event in version order;
`encode`/`decode` store a state in a snapshot, `state_json`/`event_json` show them on the wire.
A `StreamFamily` binds a scope prefix (`actor:`, `app:`, `ydoc:`, `realtime:`) to the event
kinds that belong to its streams, its reducer and the policy that guards it. The actors package
will register its own families (or replace `actor:`'s reducer) on the node's `StreamFamilies`
before the node opens. Imports nothing from the HTTP layer.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import cbor2
from pycrdt import Doc

from performer_edge.core import hlc
from performer_edge.core.events import Event, jsonable
from performer_edge.errors import InvalidInput
from performer_edge.realtime.catch_up import broadcast_of
from performer_edge.realtime.ydoc_store import update_of

OPS = ("set", "merge", "append")
ROOM_KEEP = 100  # messages a room's state keeps


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """An event of a stream with its version: its 1-based rank in the scope, in log order."""

    version: int
    event: Event


class Reducer(Protocol):
    name: str

    def initial(self) -> Any: ...

    def apply(self, state: Any, item: StreamEvent) -> Any:
        """The state after `item`; may change `state` in place and return it."""

    def encode(self, state: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...

    def state_json(self, state: Any) -> Any: ...

    def event_json(self, event: Event) -> Any: ...


# -- JSON documents (actor and app streams) -----------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge key by key, null removes, anything else replaces.
    Changes `target` in place when it is an object (a fold owns its state)."""
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_op(state: Any, op: str, path: list[str], value: Any) -> Any:
    """`set` replaces, `merge` merge-patches, `append` adds to an array, at `path` (object keys
    from the root; missing objects on the way are made). In place, so a fold of n events costs
    O(n), not O(n x state)."""
    if path:
        root = state if isinstance(state, dict) else {}
        node = root
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[path[-1]] = apply_op(node.get(path[-1]), op, [], value)
        return root
    if op == "set":
        return value
    if op == "merge":
        return merge_patch(state, value)
    if isinstance(state, list):
        state.append(value)
        return state
    return [value]


def parse_op(item: Any, where: str) -> dict[str, Any]:
    """A client's event `{"op"?, "path"?, "value", "type"?}` checked; op defaults to merge."""
    if not isinstance(item, dict):
        raise InvalidInput(
            f"{where}: expected an object with op, path and value", code="invalid_event"
        )
    unknown = set(item) - {"op", "path", "value", "type"}
    if unknown:
        raise InvalidInput(f"{where}: unknown fields {sorted(unknown)}", code="invalid_event")
    op = item.get("op", "merge")
    if op not in OPS:
        raise InvalidInput(f"{where}: op must be one of {', '.join(OPS)}", code="invalid_event")
    if "value" not in item:
        raise InvalidInput(f"{where}: value is required", code="invalid_event")
    if not isinstance(item.get("type", ""), str):
        raise InvalidInput(f"{where}: type must be a string", code="invalid_event")
    path = item.get("path", [])
    if isinstance(path, str):
        path = [path]
    if not isinstance(path, list) or not all(isinstance(p, str) and p for p in path):
        raise InvalidInput(f"{where}: path must be a list of object keys", code="invalid_event")
    out: dict[str, Any] = {"op": op, "value": item["value"]}
    if path:
        out["path"] = path
    return out


class CborState:
    """Reducers whose state is plain data: stored as CBOR, shown as JSON."""

    def encode(self, state: Any) -> bytes:
        return cbor2.dumps(state, canonical=True)

    def decode(self, data: bytes) -> Any:
        return cbor2.loads(data)

    def state_json(self, state: Any) -> Any:
        return jsonable(state)


class JsonReducer(CborState):
    """The default reducer of actor and app streams: the state is a JSON value (null at first);
    each event `{"op": "set"|"merge"|"append", "path"?: [keys], "value"}` changes it. Events
    whose payload is not such an op (appended through the events API) leave it unchanged."""

    name = "json"

    def initial(self) -> Any:
        return None

    def apply(self, state: Any, item: StreamEvent) -> Any:
        try:
            data = item.event.data
        except ValueError:
            return state
        if not isinstance(data, dict) or data.get("op") not in OPS or "value" not in data:
            return state
        path = data.get("path") or []
        if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
            return state
        return apply_op(state, data["op"], path, data["value"])

    def event_json(self, event: Event) -> Any:
        try:
            return jsonable(event.data)
        except ValueError:
            return None


# -- Yjs documents ------------------------------------------------------------------------------


class YjsReducer:
    """A Yjs document: the state is the document, shown as its encoded state (one Yjs update,
    base64) that a client applies with `Y.applyUpdate`; each event is one update."""

    name = "yjs"

    def initial(self) -> Any:
        return Doc()

    def apply(self, state: Any, item: StreamEvent) -> Any:
        update = update_of(item.event)
        if update is not None:
            # Not an update: the live path skips it too (realtime.ydocs).
            with contextlib.suppress(ValueError):
                state.apply_update(update)
        return state

    def encode(self, state: Any) -> bytes:
        return bytes(state.get_update())

    def decode(self, data: bytes) -> Any:
        doc: Doc[Any] = Doc()
        doc.apply_update(data)
        return doc

    def state_json(self, state: Any) -> Any:
        return {"update": _b64(bytes(state.get_update()))}

    def event_json(self, event: Event) -> Any:
        update = update_of(event)
        return {"update": _b64(update) if update is not None else None}


# -- broadcast rooms ----------------------------------------------------------------------------


class RoomReducer(CborState):
    """A broadcast topic's history: the state is `{"count", "messages"}`, the last
    `ROOM_KEEP` broadcasts (`version`, `event`, `payload`, `time`) oldest first."""

    name = "room"

    def initial(self) -> Any:
        return {"count": 0, "messages": []}

    def apply(self, state: Any, item: StreamEvent) -> Any:
        message = self.event_json(item.event)
        state["count"] += 1
        if message is not None:
            message["version"] = item.version
            message["time"] = hlc.to_iso(item.event.hlc)
            state["messages"].append(message)
            del state["messages"][:-ROOM_KEEP]
        return state

    def event_json(self, event: Event) -> Any:
        broadcast = broadcast_of(event, event.scope)
        if broadcast is None:
            return None
        out: dict[str, Any] = {"event": broadcast.event, "private": bool(event.data["private"])}
        if broadcast.binary is not None:
            out["binary"] = _b64(broadcast.binary)
        else:
            out["payload"] = jsonable(broadcast.payload)
        return out


# -- families -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamFamily:
    """Streams whose scope starts with `prefix`: the kinds that are their events (exact, or
    prefixes ending in a dot), their reducer, the `realtime.messages` extension their policies
    name (the topic is `policy_topic(scope)`), and whether clients append through the API."""

    prefix: str
    kinds: tuple[str, ...]
    reducer: Reducer
    extension: str
    writable: bool = False
    topic_strips_prefix: bool = False  # the policy topic is the name after the prefix

    def accepts(self, kind: str) -> bool:
        return any(kind == k or (k.endswith(".") and kind.startswith(k)) for k in self.kinds)

    def policy_topic(self, scope: str) -> str:
        return scope.removeprefix(self.prefix) if self.topic_strips_prefix else scope


class StreamFamilies:
    """The registry: which family a scope belongs to (the longest matching prefix)."""

    def __init__(self, families: Iterable[StreamFamily] = ()) -> None:
        self._by_prefix: dict[str, StreamFamily] = {}
        for family in families:
            self.register(family)

    def register(self, family: StreamFamily) -> None:
        """Add a family, or replace the one with the same prefix (a custom reducer)."""
        self._by_prefix[family.prefix] = family

    def of(self, scope: str) -> StreamFamily | None:
        found: StreamFamily | None = None
        for prefix, family in self._by_prefix.items():
            longer = found is None or len(prefix) > len(found.prefix)
            if scope.startswith(prefix) and len(scope) > len(prefix) and longer:
                found = family
        return found

    def indexed(self, event: Event) -> StreamFamily | None:
        """The family whose stream `event` is part of, if any."""
        family = self.of(event.scope)
        return family if family is not None and family.accepts(event.kind) else None

    def __iter__(self) -> Iterator[StreamFamily]:
        return iter(list(self._by_prefix.values()))

    @property
    def prefixes(self) -> list[str]:
        return sorted(self._by_prefix)


def default_families() -> StreamFamilies:
    json_reducer = JsonReducer()
    return StreamFamilies(
        [
            StreamFamily("actor:", ("app.", "actor."), json_reducer, "stream", writable=True),
            StreamFamily("app:", ("app.",), json_reducer, "stream", writable=True),
            StreamFamily("ydoc:", ("ydoc.update",), YjsReducer(), "yjs", topic_strips_prefix=True),
            StreamFamily(
                "realtime:",
                ("realtime.broadcast",),
                RoomReducer(),
                "broadcast",
                topic_strips_prefix=True,
            ),
        ]
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
