"""Reads: the statement a GET/HEAD runs, what the handler needs to answer it (Content-Range,
status), and running it. The page wrapper is shared by RPC results and written rows.

Pure but for `run_read`, which executes a compiled read on a connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import apsw

from performer_edge.rest.catalog import Catalog, Column
from performer_edge.rest.compile_context import RequestContext, request_context
from performer_edge.rest.compile_plan import CompileState, Node, build_tree, resolve_relation
from performer_edge.rest.compile_select import TreeWriter
from performer_edge.rest.compile_sql import where_clause
from performer_edge.rest.migrate_types import SqliteValue
from performer_edge.rest.query import Query, QueryParseError

COUNT_METHODS = ("exact", "planned", "estimated")


@dataclass(frozen=True)
class CompiledRead:
    """One statement returning one row: (body, page_count, total).

    `body` is the page as JSON text (an array; with `single`, the object when the page has
    exactly one row, else NULL; NULL when compiled with `body=False`), `page_count` the rows in
    the page and `total` the rows matching without limit/offset when a count was requested
    (planned and estimated counts are exact here), else NULL.
    """

    sql: str
    params: Mapping[str, SqliteValue]
    offset: int
    limit: int | None
    counted: bool
    single: bool
    # The Postgres type of each top-level key (None for embeds), for the CSV text of values.
    columns: tuple[tuple[str, Column | None], ...] = ()

    def content_range(self, page_count: int, total: int | None) -> str:
        """`0-9/100`, `*/0`, `0-1/*`: PostgREST's Content-Range for this page."""
        upper = self.offset + page_count - 1
        first = f"{self.offset}-{upper}" if total != 0 and self.offset <= upper else "*"
        return f"{first}/{'*' if total is None else total}"

    def status(self, page_count: int, total: int | None) -> int:
        """200, 206 when the page is part of a known total, 416 past the end (PostgREST's rule)."""
        if total is None:
            return 200
        if self.offset > total:
            return 416
        return 206 if page_count < total else 200

    def range_error(self, total: int | None) -> QueryParseError:
        """The PGRST103 body that goes with a 416."""
        return QueryParseError(
            "Requested range not satisfiable",
            code="PGRST103",
            details=f"An offset of {self.offset} was requested, but there are only"
            f" {total or 0} rows.",
            http_status=416,
        )


def finish_read(
    state: CompileState, root: Node, *, count: str | None, single: bool, body: bool
) -> CompiledRead:
    """The page statement for a planned tree (see CompiledRead for its row)."""
    writer = TreeWriter(state)
    select_list = f'{writer.object_sql(root) if body else "NULL"} AS "body"'
    page = writer.rows_select(root, select_list)
    counted = count in COUNT_METHODS
    total = "NULL"
    if counted:
        total = f"(SELECT count(*) FROM {writer.from_sql(root)}{where_clause(writer.where(root))})"
    if not body:
        body_sql = "NULL"
    elif single:
        body_sql = 'CASE count(*) WHEN 1 THEN json(min("body")) END'
    else:
        body_sql = 'json_group_array("body")'
    sql = f'SELECT {body_sql}, count(*), {total} FROM ({page}) AS "pe_page"'
    params = {**state.params.values, **state.context.auth_values()}
    columns = tuple((p.key, p.output_column()) for p in writer.pairs(root)) if body else ()
    return CompiledRead(
        sql, params, root.paging.offset, root.paging.limit, counted, single, columns
    )


def compile_read(
    table_name: str,
    query: Query,
    catalog: Catalog,
    context: RequestContext,
    *,
    count: str | None = None,
    single: bool = False,
    body: bool = True,
    schema: str = "public",
) -> CompiledRead:
    """GET/HEAD `/rest/v1/table_name?query` as `context`.

    `count`: the Prefer count (exact|planned|estimated) or None; `single`: the object Accept
    (the body is then the row's object when the page has exactly one row); `body=False` for
    HEAD (only the counts are computed).
    """
    state = CompileState(catalog, context)
    relation = resolve_relation(state, schema, table_name)
    root = build_tree(state, relation, query)
    return finish_read(state, root, count=count, single=single, body=body)


def run_read(
    conn: apsw.Connection, compiled: CompiledRead, context: RequestContext
) -> tuple[str | None, int, int | None]:
    """Execute a compiled read as `context`: (body JSON text, rows in the page, total or None)."""
    with request_context(context):
        row = next(iter(conn.execute(compiled.sql, dict(compiled.params))))
    body, page_count, total = row
    return body, int(page_count), None if total is None else int(total)
