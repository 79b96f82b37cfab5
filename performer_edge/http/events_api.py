"""The Performer events API at `/performer/v1/events`: read the log, append application events.

Service role only. Clients may append kinds under `app.` alone: every other namespace belongs to
a capability whose projections trust the events they receive.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from performer_edge.core.events import MAX_SCOPE_LENGTH
from performer_edge.core.log import read_after, version_vector
from performer_edge.errors import InvalidInput
from performer_edge.http.appkeys import NODE
from performer_edge.http.middleware import principal_of
from performer_edge.http.principal import require_service_role
from performer_edge.http.responses import json_response, read_json

APP_KIND_PREFIX = "app."
MAX_APPEND = 1000
MAX_READ = 1000


async def list_events(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    after = _int_param(request, "after", 0, minimum=0)
    limit = _int_param(request, "limit", 100, minimum=1, maximum=MAX_READ)
    kinds = [k for raw in request.query.getall("kind", []) for k in raw.split(",") if k]
    scope = request.query.get("scope")
    events = await request.app[NODE].db.read(
        lambda conn: read_after(conn, after, limit, kinds=kinds, scope=scope)
    )
    next_after = events[-1].pos if events else after
    return json_response({"events": [e.to_json() for e in events], "next_after": next_after})


async def append_events(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    body = await read_json(request)
    items = body if isinstance(body, list) else [body]
    if not items:
        raise InvalidInput("no events to append", code="invalid_event")
    if len(items) > MAX_APPEND:
        raise InvalidInput(f"at most {MAX_APPEND} events per request", code="invalid_event")
    parsed = [_parse_item(index, item) for index, item in enumerate(items)]
    events = await request.app[NODE].append_many(parsed)
    return json_response({"events": [e.to_json() for e in events]}, status=201)


async def heads(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    vector = await request.app[NODE].db.read(version_vector)
    return json_response({"origins": {o.hex(): seq for o, seq in vector.items()}})


def register(app: web.Application) -> None:
    app.router.add_get("/performer/v1/events", list_events)
    app.router.add_post("/performer/v1/events", append_events)
    app.router.add_get("/performer/v1/events/heads", heads)


def _parse_item(index: int, item: Any) -> tuple[str, str, Any]:
    where = f"event {index}"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where}: expected an object with kind, scope, payload")
    unknown = set(item) - {"kind", "scope", "payload"}
    if unknown:
        raise InvalidInput(f"{where}: unknown fields {sorted(unknown)}", code="invalid_event")
    kind = item.get("kind")
    scope = item.get("scope", "")
    if not isinstance(kind, str) or not kind.startswith(APP_KIND_PREFIX):
        raise InvalidInput(
            f"{where}: kind must be a string starting with {APP_KIND_PREFIX!r}",
            code="invalid_event_kind",
        )
    if not isinstance(scope, str) or len(scope) > MAX_SCOPE_LENGTH:
        raise InvalidInput(
            f"{where}: scope must be a string of at most {MAX_SCOPE_LENGTH} characters",
            code="invalid_event",
        )
    return kind, scope, item.get("payload")


def _int_param(
    request: web.Request,
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"query parameter {name} must be an integer, not {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidInput(f"query parameter {name} must be between {minimum} and {maximum}")
    return value
