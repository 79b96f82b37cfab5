"""`/rest/v1/rpc/{function}`: POST with a JSON object of arguments, GET/HEAD with query-string
arguments. A function that writes runs in the writer's transaction, its writes going through
row events (api_rpc_writes); others on a reader.
"""

from __future__ import annotations

from typing import Any

import apsw
from aiohttp import web

from performer_edge.core.db import WriteTx
from performer_edge.errors import InvalidInput
from performer_edge.rest.api import (
    REST,
    accept_of,
    body_response,
    check_profile,
    context_of,
    json_body,
    prefer_of,
    query_of,
    range_error_response,
    single_error,
    with_range,
)
from performer_edge.rest.api_rpc_writes import run_rpc_write
from performer_edge.rest.api_write_errors import constraint_error
from performer_edge.rest.catalog import JsonValue
from performer_edge.rest.compile import (
    CompiledRpc,
    RequestContext,
    RpcWrite,
    compile_rpc,
    request_context,
    run_read,
)

Result = tuple[CompiledRpc, tuple[str | None, int, int | None]]


class _Rollback(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__("tx=rollback")
        self.result = result


async def call(request: web.Request) -> web.Response:
    rest = request.app[REST]
    context = context_of(request)
    check_profile(request)
    name = request.match_info["function"]
    post = request.method == "POST"
    head = request.method == "HEAD"
    query = with_range(query_of(request, rpc_read=not post), request.headers.get("Range"))
    preferences = prefer_of(request)
    response_format = accept_of(request)
    single = response_format.kind == "object"
    args: dict[str, JsonValue]
    if post:
        raw = await request.read()
        body = await json_body(request) if raw.strip() else {}
        if not isinstance(body, dict):
            raise InvalidInput("Empty or invalid json", code="PGRST102")
        args = body
    else:
        args = dict(query.rpc_arguments)

    def compile_call(conn: apsw.Connection) -> CompiledRpc:
        catalog = rest.catalog.get(conn)
        return compile_rpc(
            name,
            args,
            query,
            catalog,
            context,
            count=preferences.count,
            single=single,
            body=not head,
            post=post,
        )

    def execute(conn: apsw.Connection, compiled: CompiledRpc, tx: WriteTx | None = None) -> Result:
        with request_context(context):
            for statement in compiled.setup:
                if isinstance(statement, RpcWrite):
                    assert tx is not None, "a body that writes runs on the writer"
                    run_rpc_write(tx, rest, rest.catalog.get(conn), statement, context)
                else:
                    conn.execute(statement.sql, dict(statement.params))
        return compiled, run_read(conn, compiled.read, context)

    def read(conn: apsw.Connection) -> Result:
        return execute(conn, compile_call(conn))

    def write(tx: WriteTx) -> Result:
        try:
            result = execute(tx.conn, compile_call(tx.conn), tx)
        except apsw.ConstraintError as exc:
            raise constraint_error(str(exc)) from exc
        _limits(preferences.handling, preferences.max_affected, result[1][1])
        if preferences.tx == "rollback":
            raise _Rollback(result)
        return result

    compiled = await rest.db.read(compile_call)
    result: Result
    if compiled.writes:
        try:
            result = await rest.db.write(write)
        except _Rollback as rolled_back:
            result = rolled_back.result
    else:
        result = await rest.db.read(read)
    return _answer(request.path, result, response_format, head, single, context)


def _limits(handling: str | None, max_affected: int | None, count: int) -> None:
    if handling == "strict" and max_affected is not None and count > max_affected:
        raise InvalidInput(
            "Query result exceeds max-affected preference constraint",
            code="PGRST124",
            details=f"The query affects {count} rows",
        )


def _answer(
    path: str,
    result: Result,
    response_format: Any,
    head: bool,
    single: bool,
    context: RequestContext,
) -> web.Response:
    compiled, (body, page_count, total) = result
    if compiled.returns_void:
        return web.Response(status=204)
    read = compiled.read
    headers = {"Content-Range": read.content_range(page_count, total)}
    if not compiled.returns_set:
        return body_response(200, body, response_format, headers, head=head)
    status = read.status(page_count, total)
    if status == 416:
        return range_error_response(path, read, total)
    if single and not head and page_count != 1:
        raise single_error(page_count)
    return body_response(status, body, response_format, headers, head=head, read=read)
