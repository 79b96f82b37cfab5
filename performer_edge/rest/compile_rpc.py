"""`/rpc/fn`: a `language sql` function's body as SQLite, with select, filters, order and range
applied on top of a set-returning result as on a table.

Pure. The body is SQLite with `:parameter` binds (migrate_function); its binds are renamed to
this statement's parameters, `auth.*()` become the request's values, and unless the function is
`security definer` the tables it reads come under the caller's SELECT policies (Postgres runs
an invoker's function with the invoker's rights), UPDATE and DELETE in it under the command's
USING policies. The last statement gives the result; earlier ones are `setup`.

A write in the body is not run as written: it becomes an `RpcWrite` returning every column of
each row it would write, which the API runs under a savepoint it rolls back, then writes those
rows as row events (rest/api_rpc_writes.py), so they sync and reach realtime like REST writes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from performer_edge.errors import InvalidInput
from performer_edge.rest.catalog import (
    Catalog,
    Column,
    DefaultKind,
    Function,
    FunctionArg,
    JsonValue,
    PolicyCommand,
    ReturnKind,
    Table,
)
from performer_edge.rest.compile_context import AUTH_PARAMETERS, RequestContext
from performer_edge.rest.compile_errors import function_not_found
from performer_edge.rest.compile_plan import CompileState, Relation, build_tree
from performer_edge.rest.compile_policy import render, rewrite_relations, using_predicate
from performer_edge.rest.compile_read import CompiledRead, finish_read
from performer_edge.rest.compile_sql import EMPTY_JSON_ARRAY, Statement, limit_clause, quote_name
from performer_edge.rest.compile_values import json_output
from performer_edge.rest.migrate_types import (
    SqliteValue,
    storage_value,
    value_from_json,
    value_from_text,
)
from performer_edge.rest.query import Query

_CALL = "pe_call"
_CALLER_UID = AUTH_PARAMETERS[0]  # the parameter bound to auth.uid()
_VALUE = "pe_value"
_SET_KINDS = (ReturnKind.SETOF_ROW, ReturnKind.SETOF_SCALAR, ReturnKind.TABLE)


@dataclass(frozen=True)
class RpcWrite:
    """An insert, update or delete of the body, rewritten to return each row it writes (every
    stored column of `table`, in `columns` order; for a delete, the row as it was). `check`:
    the written rows must pass the table's WITH CHECK policies (the caller's rights)."""

    statement: Statement
    table: Table
    command: PolicyCommand
    columns: tuple[str, ...]
    check: bool


@dataclass(frozen=True)
class CompiledRpc:
    """Run `setup` in order, then `read` (one row: body, page count, total) in one transaction.

    `writes` tells whether the body inserts, updates or deletes (setup then holds `RpcWrite`s,
    which go through row events). VOID functions answer 204 (`read.sql` gives NULL).
    """

    function: Function
    setup: tuple[Statement | RpcWrite, ...]
    read: CompiledRead
    writes: bool

    @property
    def returns_void(self) -> bool:
        return self.function.returns.kind is ReturnKind.VOID

    @property
    def returns_set(self) -> bool:
        return self.function.returns.kind in _SET_KINDS


def compile_rpc(
    function_name: str,
    args: Mapping[str, JsonValue],
    query: Query,
    catalog: Catalog,
    context: RequestContext,
    *,
    count: str | None = None,
    single: bool = False,
    body: bool = True,
    post: bool = True,
    schema: str = "public",
) -> CompiledRpc:
    """Compile a call. `post=False` for GET/HEAD, whose arguments are query-string text."""
    function = catalog.functions.get(f"{schema}.{function_name}")
    if function is None or not _arguments_fit(function, args):
        known = [f.name for f in catalog.functions.values() if f.schema == schema]
        raise function_not_found(function_name, list(args), known, post=post)
    state = CompileState(catalog, context)
    bindings = _bind_arguments(function, args, state, text=not post)
    statements = [_statement(sql, function, bindings, state) for sql in function.body]
    writes = any(isinstance(s, exp.Insert | exp.Update | exp.Delete) for s in statements)
    last = statements[-1]
    kind = function.returns.kind
    if kind is ReturnKind.VOID or not isinstance(last, exp.Query):
        if kind is not ReturnKind.VOID:
            raise InvalidInput(
                "Feature not implemented",
                code="PGRST127",
                details="functions whose last statement writes and returns rows",
            )
        setup = tuple(_setup(s, state, function) for s in statements)
        return CompiledRpc(function, setup, _void_read(state), writes)
    setup = tuple(_setup(s, state, function) for s in statements[:-1])
    result = render(last)
    if kind in (ReturnKind.SCALAR, ReturnKind.SETOF_SCALAR):
        read = _scalar_read(function, result, query, state, count=count)
    else:
        read = _rows_read(function, result, query, state, count=count, single=single, body=body)
    return CompiledRpc(function, setup, read, writes)


def _arguments_fit(function: Function, args: Mapping[str, JsonValue]) -> bool:
    names = {a.name for a in function.args if a.name}
    required = {a.name for a in function.args if a.default is None}
    return set(args) <= names and required <= set(args)


def _bind_arguments(
    function: Function, args: Mapping[str, JsonValue], state: CompileState, *, text: bool
) -> dict[str, exp.Expr]:
    """Each body parameter → the expression replacing it: a bound value or the default."""
    bindings: dict[str, exp.Expr] = {}
    for argument in function.args:
        if argument.name in args:
            value = _argument_value(argument, args[argument.name], text=text)
            bindings[argument.parameter] = exp.Placeholder(this=state.params.add(value)[1:])
        elif argument.default is not None:
            bindings[argument.parameter] = sqlglot.parse_one(argument.default, read="sqlite")
    return bindings


def _argument_value(argument: FunctionArg, value: JsonValue, *, text: bool) -> SqliteValue:
    column = Column(argument.name, argument.pg_type, argument.array_dims)
    if text and isinstance(value, str):
        return storage_value(value_from_text(value, column), column)
    return storage_value(value_from_json(value, column), column)


@functools.lru_cache(maxsize=256)
def _parsed(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read="sqlite")


def _statement(
    sql: str, function: Function, bindings: dict[str, exp.Expr], state: CompileState
) -> exp.Expr:
    tree = _parsed(sql).copy()
    for placeholder in list(tree.find_all(exp.Placeholder)):
        if placeholder.name in bindings:
            placeholder.replace(bindings[placeholder.name].copy())
    context = state.context
    restrict = not (context.bypass_rls or function.security_definer)
    tree = rewrite_relations(tree, state.catalog, context.role, (), restrict=restrict)
    if restrict and isinstance(tree, exp.Update | exp.Delete):
        _restrict_write(tree, state)
    return tree


def _target_table(tree: exp.Insert | exp.Update | exp.Delete, catalog: Catalog) -> Table | None:
    target = tree.this
    if isinstance(target, exp.Schema):  # insert into t (columns)
        target = target.this
    name = str(target.name).lower() if isinstance(target, exp.Table) else ""
    return next((t for t in catalog.tables.values() if t.sqlite_name.lower() == name), None)


def _setup(tree: exp.Expr, state: CompileState, function: Function) -> Statement | RpcWrite:
    params = _all_params(state)
    if not isinstance(tree, exp.Insert | exp.Update | exp.Delete):
        return Statement(render(tree), params)
    table = _target_table(tree, state.catalog)
    if table is None or not table.primary_key:
        raise InvalidInput(
            "Feature not implemented",
            code="0A000",
            details=f"function {function.name} writes a table without a primary key",
        )
    if isinstance(tree, exp.Update):
        for assignment in tree.expressions:
            column = assignment.this if isinstance(assignment, exp.EQ) else None
            if isinstance(column, exp.Column) and column.name in table.primary_key:
                raise InvalidInput(
                    "Feature not implemented",
                    code="0A000",
                    details=f"function {function.name} changes primary key column "
                    f"{column.name} of {table.name}: delete and insert instead",
                )
    columns = tuple(c.name for c in table.columns if c.generated is None)
    tree = tree.copy()
    if isinstance(tree, exp.Insert):
        _fill_caller_uid(tree, table)
    tree.set("returning", exp.Returning(expressions=[exp.column(c, quoted=True) for c in columns]))
    command = {
        exp.Insert: PolicyCommand.INSERT,
        exp.Update: PolicyCommand.UPDATE,
        exp.Delete: PolicyCommand.DELETE,
    }[type(tree)]
    check = not (state.context.bypass_rls or function.security_definer)
    return RpcWrite(Statement(render(tree), params), table, command, columns, check)


def _fill_caller_uid(tree: exp.Insert, table: Table) -> None:
    """Postgres fills a column left out of an insert with its `auth.uid()` default; here the REST
    writer fills those (they have no SQLite default), so the body's insert gets the caller's
    uid added to each row, as `:auth_uid`."""
    target = tree.this
    if not isinstance(target, exp.Schema):  # no column list: every column is given
        return
    listed = {str(i.name).lower() for i in target.expressions}
    missing = [
        c.name
        for c in table.columns
        if c.default is not None
        and c.default.kind is DefaultKind.AUTH_UID
        and c.name.lower() not in listed
    ]
    source = tree.expression
    if not missing or not isinstance(source, exp.Values | exp.Query):
        return
    uids = [exp.Placeholder(this=_CALLER_UID) for _ in missing]
    if isinstance(source, exp.Values):
        for row in source.expressions:
            row.set("expressions", [*row.expressions, *(u.copy() for u in uids)])
    else:
        tree.set("expression", exp.select("*", *uids).from_(source.subquery("pe_rows")))
    target.set("expressions", [*target.expressions, *(exp.to_identifier(n) for n in missing)])


def _restrict_write(tree: exp.Update | exp.Delete, state: CompileState) -> None:
    table = _target_table(tree, state.catalog)
    if table is None:
        return
    command = PolicyCommand.UPDATE if isinstance(tree, exp.Update) else PolicyCommand.DELETE
    predicate = using_predicate(
        state.catalog, table, state.context, (command, PolicyCommand.SELECT)
    )
    if predicate is None:
        return
    condition = sqlglot.parse_one(predicate, read="sqlite")
    where = tree.args.get("where")
    combined = condition if where is None else exp.and_(where.this, condition)
    tree.set("where", exp.Where(this=combined))


def _all_params(state: CompileState) -> dict[str, SqliteValue]:
    return {**state.params.values, **state.context.auth_values()}


def _void_read(state: CompileState) -> CompiledRead:
    return CompiledRead("SELECT NULL, 0, NULL", {}, 0, None, False, False)


def _call_source(result: str, columns: list[str]) -> str:
    """The body's result with the declared column names (Postgres maps them by position)."""
    listed = ", ".join(quote_name(c) for c in columns)
    return f"(WITH {quote_name(_CALL)}({listed}) AS ({result}) SELECT * FROM {quote_name(_CALL)})"


def _scalar_read(
    function: Function, result: str, query: Query, state: CompileState, *, count: str | None
) -> CompiledRead:
    returns = function.returns
    column = Column(_VALUE, returns.pg_type, returns.array_dims)
    value = json_output(quote_name(_VALUE), column)
    source = _call_source(result, [_VALUE])
    params = _all_params(state)
    if returns.kind is ReturnKind.SCALAR:
        sql = f"SELECT jsonb_array((SELECT {value} FROM {source} LIMIT 1)) -> '$[0]', 1, NULL"
        return CompiledRead(sql, params, 0, None, False, False)
    paging = query.paging()
    limited = limit_clause(paging.limit, paging.offset, state.params)
    rows = f'SELECT {value} AS "value" FROM {source}{limited}'
    total = f"(SELECT count(*) FROM {source})" if count else "NULL"
    body = f'coalesce(json_group_array("value"), json({EMPTY_JSON_ARRAY}))'
    sql = f"SELECT {body}, count(*), {total} FROM ({rows})"
    return CompiledRead(sql, _all_params(state), paging.offset, paging.limit, bool(count), False)


def _rows_read(
    function: Function,
    result: str,
    query: Query,
    state: CompileState,
    *,
    count: str | None,
    single: bool,
    body: bool,
) -> CompiledRead:
    returns = function.returns
    table = state.catalog.tables.get(returns.table)
    if returns.kind is ReturnKind.TABLE:
        columns = returns.columns
    else:
        relation = table or state.catalog.views[returns.table]
        columns = relation.columns
    source = _call_source(result, [c.name for c in columns])
    relation_ = Relation(function.name, columns, source, None, table)
    root = build_tree(state, relation_, query)
    one_row = single or returns.kind is ReturnKind.ROW
    return finish_read(state, root, count=count, single=one_row, body=body)
