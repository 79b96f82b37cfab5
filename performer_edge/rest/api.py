"""`/rest/v1`: PostgREST's HTTP surface over the compiler and the row layer.

Reads (GET/HEAD) run on a reader connection; writes (POST/PATCH/DELETE, api_write) run in one
durable write through row events; RPC is in api_rpc; the root answers an OpenAPI 2.0 document.
Every request needs a principal (the middleware enforces apikey/Bearer).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from performer_edge.errors import InvalidInput, PerformerError, Unauthorized
from performer_edge.http.middleware import principal_of
from performer_edge.http.wire import error_response
from performer_edge.rest.api_csv import to_csv
from performer_edge.rest.catalog import Catalog, Column
from performer_edge.rest.compile import CompiledRead, RequestContext, compile_read, run_read
from performer_edge.rest.query import (
    Query,
    QueryParseError,
    parse_accept,
    parse_prefer,
    parse_query,
    parse_range_header,
)
from performer_edge.rest.query_ast import Paging
from performer_edge.rest.query_headers import Preferences, ResponseFormat

if TYPE_CHECKING:
    from performer_edge.rest.component import RestComponent

REST: web.AppKey[RestComponent] = web.AppKey("performer_rest")

JSON_TYPE = "application/json; charset=utf-8"
SCHEMA = "public"


def register(app: web.Application) -> None:
    from performer_edge.rest import api_rpc, api_write

    app[COMPILED_READS] = CompiledReads()
    app.router.add_route("GET", "/rest/v1/", openapi)
    app.router.add_route("GET", "/rest/v1", openapi)
    app.router.add_route("HEAD", "/rest/v1/", openapi)
    for method in ("GET", "POST", "HEAD"):
        app.router.add_route(method, "/rest/v1/rpc/{function}", api_rpc.call)
    app.router.add_route("GET", "/rest/v1/{table}", read_table)
    app.router.add_route("HEAD", "/rest/v1/{table}", read_table)
    app.router.add_route("POST", "/rest/v1/{table}", api_write.insert)
    app.router.add_route("PATCH", "/rest/v1/{table}", api_write.update)
    app.router.add_route("DELETE", "/rest/v1/{table}", api_write.delete)


# -- request pieces -------------------------------------------------------------------------------


def context_of(request: web.Request) -> RequestContext:
    """The caller as the compiler sees it: the JWT's claims, its role, RLS bypass for service."""
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("No API key found in request", code="no_api_key")
    claims = dict(principal.claims)
    claims["role"] = principal.role
    if principal.subject and "sub" not in claims:
        claims["sub"] = principal.subject
    return RequestContext.for_claims(claims)


def check_profile(request: web.Request) -> None:
    """Only `public` is exposed (PGRST106 for another Accept-/Content-Profile)."""
    header = "Accept-Profile" if request.method in ("GET", "HEAD") else "Content-Profile"
    profile = request.headers.get(header)
    if profile is not None and profile != SCHEMA:
        raise QueryParseError(
            f"Invalid schema: {profile}",
            code="PGRST106",
            hint=f"Only the following schemas are exposed: {SCHEMA}",
            http_status=406,
        )


def query_of(request: web.Request, *, rpc_read: bool = False) -> Query:
    return _parsed_query(tuple(request.query.items()), rpc_read)


# The parsers are pure and their results frozen, and clients repeat the same query strings and
# headers, so the parses are memoised (a parse error is not, and raises every time).
@functools.lru_cache(maxsize=1024)
def _parsed_query(pairs: tuple[tuple[str, str], ...], rpc_read: bool) -> Query:
    return parse_query(list(pairs), rpc_read=rpc_read)


@functools.lru_cache(maxsize=256)
def _parsed_prefer(values: tuple[str, ...]) -> Preferences:
    return parse_prefer(list(values))


@functools.lru_cache(maxsize=256)
def _parsed_accept(value: str | None) -> ResponseFormat:
    return parse_accept(value)


def prefer_of(request: web.Request) -> Preferences:
    return _parsed_prefer(tuple(request.headers.getall("Prefer", ())))


def accept_of(request: web.Request) -> ResponseFormat:
    found = _parsed_accept(request.headers.get("Accept"))
    if found.kind == "plan":
        raise QueryParseError(
            f"None of these media types are available: {found.mime}",
            code="PGRST107",
            http_status=406,
        )
    return found


def with_range(query: Query, header: str | None) -> Query:
    """Apply a `Range` header to the root level, intersected with limit/offset."""
    requested = parse_range_header(header)
    if requested is None:
        return query
    current = query.paging()
    offset = current.offset + requested.offset
    limit = requested.limit
    if current.limit is not None:
        remaining = max(current.limit - requested.offset, 0)
        limit = remaining if limit is None else min(limit, remaining)
    others = tuple(p for p in query.pagings if p.embed_path)
    return Query(
        select=query.select,
        filters=query.filters,
        orderings=query.orderings,
        pagings=(*others, Paging(offset=offset, limit=limit)),
        columns=query.columns,
        on_conflict=query.on_conflict,
        rpc_arguments=query.rpc_arguments,
    )


async def json_body(request: web.Request) -> Any:
    """The request's JSON (PGRST102 when empty or invalid)."""
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("Empty or invalid json", code="PGRST102", details=str(exc)) from exc


def single_error(count: int) -> PerformerError:
    return InvalidInput(
        "Cannot coerce the result to a single JSON object",
        code="PGRST116",
        details=f"The result contains {count} rows",
    )


def body_response(
    status: int,
    body: str | None,
    response_format: ResponseFormat,
    headers: dict[str, str],
    *,
    head: bool = False,
    read: CompiledRead | None = None,
) -> web.Response:
    """The response for a JSON body (array or object) in the format asked for; `read` gives
    the value types CSV needs."""
    if response_format.kind == "csv":
        types = dict(read.columns) if read is not None else None
        text = "" if body is None else to_csv(orjson.loads(body), types)
        content_type = "text/csv; charset=utf-8"
    else:
        text = "" if body is None else body
        if response_format.strip_nulls and body is not None:
            text = orjson.dumps(_strip_nulls(orjson.loads(body))).decode()
        content_type = f"{response_format.mime}; charset=utf-8"
    headers = {**headers, "Content-Type": content_type}
    return web.Response(status=status, body=b"" if head else text.encode(), headers=headers)


def range_error_response(path: str, read: CompiledRead, total: int | None) -> web.Response:
    """416 PGRST103 for an offset past the end, with `Content-Range: */<total>` as PostgREST
    (and RFC 9110 for an unsatisfiable range) answers."""
    response = error_response(path, read.range_error(total))
    response.headers["Content-Range"] = read.content_range(0, total)
    return response


def _strip_nulls(value: Any) -> Any:
    """Postgres `json_strip_nulls`: drops null-valued object fields at every depth (embeds and
    JSON columns too) but keeps null array elements."""
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    return value


# -- GET / HEAD -----------------------------------------------------------------------------------


class CompiledReads:
    """Compiled GET/HEAD statements by everything a compile depends on, for one catalog.

    `compile_read` is pure: the same table, query string, Range, count, object/HEAD flags and
    caller (the verified token: RLS and the auth parameters come from its claims) compile to
    the same statement and parameters on the same catalog. Entries are for the catalog they
    were compiled on; a new catalog (a migration) empties the cache. Least recently used
    entries go first, so one-off queries (`id=eq.<each id>`) don't push out the repeated ones.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._compiled: OrderedDict[tuple[Any, ...], CompiledRead] = OrderedDict()

    def get(self, catalog: Catalog, key: tuple[Any, ...]) -> CompiledRead | None:
        with self._lock:
            if catalog is not self._catalog:
                return None
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
            return found

    def put(self, catalog: Catalog, key: tuple[Any, ...], compiled: CompiledRead) -> None:
        with self._lock:
            if catalog is not self._catalog:
                self._compiled.clear()
                self._catalog = catalog
            self._compiled[key] = compiled
            self._compiled.move_to_end(key)
            while len(self._compiled) > self.capacity:
                self._compiled.popitem(last=False)


COMPILED_READS: web.AppKey[CompiledReads] = web.AppKey("performer_rest_compiled_reads")


def _read_key(
    request: web.Request, preferences: Preferences, single: bool, context: RequestContext
) -> tuple[Any, ...] | None:
    """What a compiled read depends on besides the catalog; None when the claims don't encode."""
    try:
        claims = orjson.dumps(dict(context.claims), option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return (
        request.match_info["table"],
        request.method,
        tuple(request.query.items()),
        request.headers.get("Range"),
        preferences.count,
        single,
        context.role,
        context.bypass_rls,
        claims,
    )


async def read_table(request: web.Request) -> web.Response:
    rest = request.app[REST]
    context = context_of(request)
    check_profile(request)
    name = request.match_info["table"]
    query = with_range(query_of(request), request.headers.get("Range"))
    preferences = prefer_of(request)
    response_format = accept_of(request)
    head = request.method == "HEAD"
    single = response_format.kind == "object"

    cache = request.app[COMPILED_READS]
    key = _read_key(request, preferences, single, context)

    def run(conn: Any) -> Any:
        catalog = rest.catalog.get(conn)
        compiled = None if key is None else cache.get(catalog, key)
        if compiled is None:
            compiled = compile_read(
                name, query, catalog, context, count=preferences.count, single=single, body=not head
            )
            if key is not None:
                cache.put(catalog, key, compiled)
        return compiled, run_read(conn, compiled, context)

    compiled, (body, page_count, total) = await rest.db.read(run)
    status = compiled.status(page_count, total)
    if status == 416:
        return range_error_response(request.path, compiled, total)
    if single and not head and page_count != 1:
        raise single_error(page_count)
    headers = {"Content-Range": compiled.content_range(page_count, total)}
    if preferences.count is not None:
        headers["Preference-Applied"] = f"count={preferences.count}"
    return body_response(status, body, response_format, headers, head=head, read=compiled)


# -- OpenAPI --------------------------------------------------------------------------------------

_OPENAPI_TYPES = {
    "int2": ("integer", "int16"),
    "int4": ("integer", "int32"),
    "int8": ("integer", "int64"),
    "float4": ("number", "float"),
    "float8": ("number", "double"),
    "numeric": ("number", "numeric"),
    "bool": ("boolean", "boolean"),
}


def _property(column: Column) -> dict[str, Any]:
    kind, fmt = _OPENAPI_TYPES.get(column.base_type, ("string", column.pg_type))
    found: dict[str, Any] = {"format": column.pg_type, "type": kind}
    if fmt != column.pg_type:
        found["format"] = fmt
    if column.array_dims:
        found = {"type": "array", "format": f"{column.pg_type}[]", "items": {"type": kind}}
    if column.default is not None and column.default.source:
        found["default"] = column.default.source
    if column.enum_values:
        found["enum"] = list(column.enum_values)
    return found


def openapi_document(catalog: Catalog, host: str) -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "produces": ["application/openapi+json"],
                "responses": {"200": {"description": "OK"}},
                "summary": "OpenAPI description (this document)",
                "tags": ["Introspection"],
            }
        }
    }
    relations: Iterable[tuple[str, tuple[Column, ...], tuple[str, ...]]] = [
        (t.name, t.columns, t.primary_key) for t in catalog.tables.values() if t.schema == SCHEMA
    ] + [(v.name, v.columns, ()) for v in catalog.views.values() if v.schema == SCHEMA]
    for name, columns, primary_key in relations:
        required = [
            c.name
            for c in columns
            if not c.nullable and c.default is None and c.identity is None and c.generated is None
        ]
        properties = {c.name: _property(c) for c in columns}
        for key in primary_key:
            if key in properties:
                properties[key]["description"] = "Note:\nThis is a Primary Key.<pk/>"
        definition: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            definition["required"] = required
        definitions[name] = definition
        ok = {
            "200": {
                "description": "OK",
                "schema": {"type": "array", "items": {"$ref": f"#/definitions/{name}"}},
            }
        }
        paths[f"/{name}"] = {
            "get": {"tags": [name], "responses": ok},
            "post": {"tags": [name], "responses": {"201": {"description": "Created"}}},
            "patch": {"tags": [name], "responses": {"204": {"description": "No Content"}}},
            "delete": {"tags": [name], "responses": {"204": {"description": "No Content"}}},
        }
    for function in catalog.functions.values():
        if function.schema == SCHEMA:
            paths[f"/rpc/{function.name}"] = {
                "post": {
                    "tags": ["(rpc) " + function.name],
                    "responses": {"200": {"description": "OK"}},
                }
            }
    return {
        "swagger": "2.0",
        "info": {
            "title": "Performer Edge",
            "description": "PostgREST-compatible API",
            "version": "12.2.0",
        },
        "host": host,
        "basePath": "/rest/v1",
        "schemes": ["http", "https"],
        "consumes": ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
        "produces": ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
        "paths": paths,
        "definitions": definitions,
    }


async def openapi(request: web.Request) -> web.Response:
    rest = request.app[REST]
    context_of(request)
    check_profile(request)
    parse_accept(request.headers.get("Accept"), ("openapi", "json"))
    catalog = await rest.db.read(rest.catalog.get)
    document = openapi_document(catalog, request.host)
    body = b"" if request.method == "HEAD" else orjson.dumps(document)
    return web.Response(
        body=body, headers={"Content-Type": "application/openapi+json; charset=utf-8"}
    )
