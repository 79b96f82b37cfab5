"""The PostgREST query compiler: request AST + catalog + caller → SQLite SQL and parameters.

Entry point of `rest/compile_*.py`. Pure: no I/O here (compile_context holds the connection
side). Imports the parser's AST and the catalog, never the HTTP layer.
"""

# Theory of operation.
#
# A request is compiled the way PostgREST plans it, into one SQLite statement that builds the
# response JSON itself, as PostgREST has Postgres build it:
#
#   1. compile_plan resolves the table (PGRST205 with a closest-name hint) and turns the select
#      tree into nodes, one per table reference: each embed's relationship comes from foreign
#      keys (compile_relations: to-one, to-many, many-to-many through a junction, `!hint`,
#      PGRST200/201); filters, orders and ranges addressed to `rel.` land on their node
#      (PGRST108 when `rel` is not embedded).
#   2. Every table is read through compile_policy: with RLS on and a caller without
#      bypass, `(SELECT rowid AS pe_rowid, * FROM "t" WHERE <OR of permissive USING> AND
#      <restrictive>)`; embedded tables, junctions and tables read inside policies get theirs.
#   3. compile_select writes each node as a SELECT of jsonb_object(...) rows (compile_columns:
#      types → PostgREST's JSON shapes, casts, JSON paths, aggregates with implicit GROUP BY;
#      compile_filters: operators with Postgres semantics; Postgres NULL placement in ORDER BY,
#      then the rowid for insertion order). Embeds are correlated subqueries; `!inner` and
#      `rel=is.null` are EXISTS conditions on the parent.
#   4. compile_read wraps the root's page: one row (json_group_array(body), count(*), total).
#
# Every identifier is quoted; every value from the request (filter values, JSON keys and paths,
# output keys, limits) is a named parameter (`:p0`, ...; `:auth_uid`, `:auth_role`, `:auth_jwt`
# for the caller). Errors are the typed errors of compile_errors with PostgREST's codes. Writes
# (compile_write) and RPC (compile_rpc) reuse the same machinery. What SQLite lacks (jsonb @>
# and ordering, array operators, casts, full-text search) is Python in compile_functions and
# compile_fts, registered with the auth functions by compile_context.install_functions on every
# connection.
#
# A GET in the handler:
#     compiled = compile_read(table, parse_query(pairs), catalog, ctx, count=prefer.count)
#     body, page_count, total = await db.read(lambda c: run_read(c, compiled, ctx))
#     status = compiled.status(page_count, total)  # 416: raise compiled.range_error(total)
#     headers["Content-Range"] = compiled.content_range(page_count, total)

from __future__ import annotations

from performer_edge.rest.compile_context import (
    RequestContext,
    current_request_context,
    install_functions,
    request_context,
)
from performer_edge.rest.compile_read import CompiledRead, compile_read, run_read
from performer_edge.rest.compile_rpc import CompiledRpc, RpcWrite, compile_rpc
from performer_edge.rest.compile_write import (
    CompiledCheck,
    CompiledTarget,
    body_row_to_storage,
    compile_check,
    compile_returning,
    compile_target,
)

__all__ = [
    "CompiledCheck",
    "CompiledRead",
    "CompiledRpc",
    "CompiledTarget",
    "RequestContext",
    "RpcWrite",
    "body_row_to_storage",
    "compile_check",
    "compile_read",
    "compile_returning",
    "compile_rpc",
    "compile_target",
    "current_request_context",
    "install_functions",
    "request_context",
    "run_read",
]
