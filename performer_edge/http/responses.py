"""JSON in and out: orjson bodies, and request bodies parsed at the edge with clear errors."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from performer_edge.errors import InvalidInput


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(data),
        content_type="application/json",
        headers=headers,
    )


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise InvalidInput("the request body is empty; JSON was expected", code="invalid_json")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"the request body is not valid JSON: {exc}", code="invalid_json"
        ) from exc
