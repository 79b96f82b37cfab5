"""Managing functions, service role only: `POST /functions/v1/deploy`, and list, inspect, logs,
roll back and delete under `/performer/v1/functions`.

Deploy takes JSON (`{"name", "wasm_base64", "version", "description", "triggers",
"permissions", "limits"}`) or the module itself (`Content-Type: application/wasm`) with the
other fields as query parameters (`triggers` and `permissions` repeated or comma-separated,
`limits` as JSON).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from aiohttp import web

from performer_edge.errors import InvalidInput
from performer_edge.functions import registry
from performer_edge.functions import trigger_runs as runs
from performer_edge.functions.api import FUNCTIONS, PREFIX
from performer_edge.functions.deploy import check_name, parse_spec
from performer_edge.functions.triggers import split_triggers
from performer_edge.http.middleware import principal_of
from performer_edge.http.principal import require_service_role
from performer_edge.http.responses import json_response, read_json

MANAGE = "/performer/v1/functions"
WASM_TYPES = ("application/wasm", "application/octet-stream")


def register(app: web.Application) -> None:
    app.router.add_post(PREFIX + "/deploy", deploy)
    app.router.add_get(MANAGE, list_functions)
    app.router.add_get(MANAGE + "/{name}", inspect)
    app.router.add_get(MANAGE + "/{name}/logs", logs)
    app.router.add_get(MANAGE + "/{name}/runs", trigger_runs)
    app.router.add_post(MANAGE + "/{name}/runs/{run_id}/retry", retry_run)
    app.router.add_post(MANAGE + "/{name}/rollback", rollback)
    app.router.add_delete(MANAGE + "/{name}", delete)


async def deploy(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    if request.content_type in WASM_TYPES:
        fields: dict[str, Any] = {
            k: request.query.get(k) for k in ("name", "version", "description")
        }
        fields["triggers"] = [
            t for raw in request.query.getall("triggers", []) for t in split_triggers(raw)
        ]
        fields["permissions"] = [
            v for raw in request.query.getall("permissions", []) for v in raw.split(",") if v
        ]
        if "limits" in request.query:
            fields["limits"] = _json_field(request.query["limits"], "limits")
        wasm = await request.read()
    else:
        fields = await read_json(request)
        if not isinstance(fields, dict):
            raise InvalidInput("the deploy body must be a JSON object", code="invalid_json")
        wasm = _wasm_of(fields.get("wasm_base64"))
    version, created = await request.app[FUNCTIONS].deploy(parse_spec(fields, wasm))
    return json_response(version.to_json(), status=201 if created else 200)


def _json_field(raw: str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not JSON: {exc}", code=f"invalid_{what}") from None


def _wasm_of(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise InvalidInput("give the module as wasm_base64", code="invalid_module")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"wasm_base64 is not base64: {exc}", code="invalid_module") from None


async def list_functions(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    component = request.app[FUNCTIONS]
    found = await component.db.read(registry.all_current)
    return json_response(
        {"functions": [v.to_json() | {"metrics": component.metrics.of(v.name)} for v in found]}
    )


async def inspect(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    component = request.app[FUNCTIONS]
    name = check_name(request.match_info["name"])

    def read(conn: Any) -> tuple[registry.Version | None, list[registry.Version]]:
        return registry.current(conn, name), registry.versions(conn, name)

    current, versions = await component.db.read(read)
    if current is None:
        raise _not_found(name)
    return json_response(
        {
            **current.to_json(),
            "versions": [v.to_json() for v in versions],
            "metrics": component.metrics.of(name),
        }
    )


async def logs(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    name = check_name(request.match_info["name"])
    return json_response({"name": name, "logs": request.app[FUNCTIONS].metrics.logs(name)})


async def trigger_runs(request: web.Request) -> web.Response:
    """The function's trigger runs on this node, newest first: `?status=`, `?limit=` (default
    100, at most 1000), `?before=ID` for the next page; with counts by status."""
    require_service_role(principal_of(request))
    name = check_name(request.match_info["name"])
    status = request.query.get("status")
    if status is not None and status not in runs.STATUSES:
        raise InvalidInput(f"status is one of {', '.join(runs.STATUSES)}", code="invalid_status")
    limit = _int_param(request, "limit", 1, 1000) or 100
    before = _int_param(request, "before", 1, None)
    found, counts = await request.app[FUNCTIONS].trigger_runs(name, status, limit, before)
    return json_response({"name": name, "counts": counts, "runs": [r.to_json() for r in found]})


async def retry_run(request: web.Request) -> web.Response:
    """Run a failed or skipped trigger run again, its attempts counted from zero."""
    require_service_role(principal_of(request))
    name = check_name(request.match_info["name"])
    run_id = request.match_info["run_id"]
    if not run_id.isdigit():
        raise InvalidInput("the run id is a number", code="invalid_run_id")
    run = await request.app[FUNCTIONS].retry_run(name, int(run_id))
    return json_response(run.to_json())


def _int_param(request: web.Request, name: str, low: int, high: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise InvalidInput(f"{name} must be an integer {bounds}", code=f"invalid_{name}")
    return int(raw)


async def rollback(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    name = check_name(request.match_info["name"])
    body = await read_json(request)
    ref = body.get("version") if isinstance(body, dict) else None
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(
            "give the version (or module sha256) to roll back to", code="invalid_version"
        )
    target = await request.app[FUNCTIONS].rollback(name, ref)
    return json_response(target.to_json())


async def delete(request: web.Request) -> web.Response:
    require_service_role(principal_of(request))
    name = check_name(request.match_info["name"])
    await request.app[FUNCTIONS].delete(name)
    return web.Response(status=204)


def _not_found(name: str) -> Exception:
    from performer_edge.errors import NotFound

    return NotFound(f"no function named {name}", code="not_found")
