"""SQL pieces for writes, which the handler performs as row events: the rows a PATCH or DELETE
may touch, the policy checks on written and upserted-into rows, their representation, and body
values.

Pure. Postgres' rules: an UPDATE or DELETE reaches the rows that pass the command's USING
policies and the SELECT policies (PostgREST's statements read the rows they change); a written
row must pass WITH CHECK (UPDATE falls back to USING), and the SELECT policies too when the
request returns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from performer_edge.errors import PerformerError
from performer_edge.rest.catalog import Catalog, JsonValue, PolicyCommand, Table
from performer_edge.rest.compile_context import RequestContext
from performer_edge.rest.compile_errors import row_security_violation, table_not_found
from performer_edge.rest.compile_plan import (
    CompileState,
    Node,
    Relation,
    build_tree,
    table_relation,
)
from performer_edge.rest.compile_policy import check_predicate, using_predicate
from performer_edge.rest.compile_read import CompiledRead, finish_read
from performer_edge.rest.compile_select import TreeWriter
from performer_edge.rest.compile_sql import Statement, column_ref, quote_name, where_clause
from performer_edge.rest.compile_values import body_row_to_storage as _row_to_storage
from performer_edge.rest.migrate_types import SqliteValue
from performer_edge.rest.query import Query
from performer_edge.rest.query_ast import Filter, SelectItem

_POSITION = "pe_position"


def resolve_table(catalog: Catalog, name: str, schema: str = "public") -> Table:
    table = catalog.table(schema, name)
    if table is None:
        known = [t.name for t in catalog.tables.values() if t.schema == schema]
        raise table_not_found(schema, name, known)
    return table


@dataclass(frozen=True)
class CompiledTarget:
    """`SELECT <every column> FROM <table> WHERE <filters and policies>`: the current rows a
    PATCH/DELETE may change, columns in `columns` order, stored values."""

    sql: str
    params: Mapping[str, SqliteValue]
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]


def compile_target(
    table: str,
    filters: Sequence[Filter],
    catalog: Catalog,
    context: RequestContext,
    command: str,
    *,
    schema: str = "public",
) -> CompiledTarget:
    """The rows `command` (update|delete) with these root-level filters may touch. Filters on
    embedded resources (`rel.col=...`) shape the representation only and are ignored here."""
    found = resolve_table(catalog, table, schema)
    state = CompileState(catalog, context)
    policy_command = PolicyCommand(command)
    relation = table_relation(state, found, (policy_command, PolicyCommand.SELECT))
    root = Node(relation, state.aliases.next(), found.name, found.name, ())
    root.predicates += [f.predicate for f in filters if not f.embed_path]
    writer = TreeWriter(state)
    columns = tuple(c.name for c in found.columns)
    listed = ", ".join(column_ref(root.alias, c) for c in columns)
    sql = f"SELECT {listed} FROM {writer.from_sql(root)}{where_clause(writer.where(root))}"
    params = {**state.params.values, **context.auth_values()}
    return CompiledTarget(sql, params, columns, found.primary_key)


@dataclass(frozen=True)
class CompiledCheck:
    """The policy a written row of `table` must pass. `predicate` is over the table's columns
    (unqualified, as in `SELECT ... FROM "table" WHERE <predicate>`); None: every row passes."""

    table: str  # SQLite name
    predicate: str | None
    params: Mapping[str, SqliteValue]
    error: PerformerError = field(compare=False)

    def violations(self, keys: Sequence[Mapping[str, SqliteValue]]) -> Statement | None:
        """`SELECT count(*)` of the rows with these keys that fail; None when nothing to check."""
        if self.predicate is None or not keys:
            return None
        columns = list(keys[0])
        params = dict(self.params)
        rows = []
        for index, key in enumerate(keys):
            names = [f"k{index}_{n}" for n in range(len(columns))]
            params.update(zip(names, (key[c] for c in columns), strict=True))
            rows.append("(" + ", ".join(f":{n}" for n in names) + ")")
        listed = ", ".join(quote_name(c) for c in columns)
        sql = (
            f"SELECT count(*) FROM {quote_name(self.table)} WHERE ({listed}) IN"
            f" (VALUES {', '.join(rows)}) AND NOT coalesce(({self.predicate}), 0)"
        )
        return Statement(sql, params)


def compile_check(
    table: str,
    catalog: Catalog,
    context: RequestContext,
    command: str,
    *,
    returning: bool = False,
    schema: str = "public",
) -> CompiledCheck:
    """What rows written by `command` (insert|update) must satisfy; with `returning`, also
    the SELECT policies (Postgres checks them when the statement returns the rows)."""
    found = resolve_table(catalog, table, schema)
    predicate = check_predicate(catalog, found, context, PolicyCommand(command))
    if returning and predicate is not None:
        readable = using_predicate(catalog, found, context, (PolicyCommand.SELECT,))
        predicate = f"({predicate}) AND ({readable})"
    error = row_security_violation(found.name, context.role)
    return CompiledCheck(found.sqlite_name, predicate, context.auth_values(), error)


def compile_conflict_check(
    table: str, catalog: Catalog, context: RequestContext, *, schema: str = "public"
) -> CompiledCheck:
    """What an existing row an upsert merges into must pass: the UPDATE and SELECT policies'
    USING. Postgres' ON CONFLICT DO UPDATE raises on such a row rather than skipping it."""
    found = resolve_table(catalog, table, schema)
    commands = (PolicyCommand.UPDATE, PolicyCommand.SELECT)
    predicate = using_predicate(catalog, found, context, commands)
    error = row_security_violation(found.name, context.role, using=True)
    return CompiledCheck(found.sqlite_name, predicate, context.auth_values(), error)


def compile_returning(
    table: str,
    select: Query | Sequence[SelectItem],
    catalog: Catalog,
    context: RequestContext,
    pks: Sequence[Mapping[str, SqliteValue]],
    *,
    single: bool = False,
    schema: str = "public",
) -> CompiledRead:
    """The written rows (by primary key, in `pks` order) for `Prefer: return=representation`,
    shaped by `select=` with embeds. With a Query, its `order` (as PostgREST 13 orders mutation
    results; `pks` order breaks ties) and its filters, orders and ranges on embedded resources
    apply too. For a DELETE, run it before deleting."""
    found = resolve_table(catalog, table, schema)
    state = CompileState(catalog, context)
    if isinstance(select, Query):
        query = Query(
            select=select.select,
            filters=tuple(f for f in select.filters if f.embed_path),
            orderings=select.orderings,
            pagings=tuple(p for p in select.pagings if p.embed_path),
        )
    else:
        query = Query(select=tuple(select))
    if not pks:
        empty = "SELECT json('[]'), 0, NULL" if not single else "SELECT NULL, 0, NULL"
        return CompiledRead(empty, {}, 0, None, False, single)
    relation = Relation(
        found.name, found.columns, _keyed_source(found, pks, state), _POSITION, found
    )
    root = build_tree(state, relation, query)
    return finish_read(state, root, count=None, single=single, body=True)


def _keyed_source(
    table: Table, keys: Sequence[Mapping[str, SqliteValue]], state: CompileState
) -> str:
    columns = list(keys[0])
    rows = []
    for position, key in enumerate(keys):
        values = [state.params.add(position), *(state.params.add(key[c]) for c in columns)]
        rows.append("(" + ", ".join(values) + ")")
    name = quote_name(table.sqlite_name)
    on = " AND ".join(
        f'{name}.{quote_name(c)} = "pe_keys"."column{index + 2}"' for index, c in enumerate(columns)
    )
    return (
        f'(SELECT {name}.*, "pe_keys"."column1" AS {quote_name(_POSITION)} FROM {name}'
        f' JOIN (VALUES {", ".join(rows)}) AS "pe_keys" ON {on})'
    )


def body_row_to_storage(
    table: str | Table,
    row: Mapping[str, JsonValue],
    catalog: Catalog,
    *,
    command: str = "insert",
    schema: str = "public",
) -> dict[str, SqliteValue]:
    """A JSON body object → stored values by column type (PGRST204 unknown column, 22P02 junk)."""
    found = table if isinstance(table, Table) else resolve_table(catalog, table, schema)
    return _row_to_storage(found, row, command=command)
