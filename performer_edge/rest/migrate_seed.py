"""Seed data in migrations: `insert`, `update`, `delete`, `truncate` → SQLite plus structured rows.

Pure. Literal rows are also returned as values so the node can write them as row events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sqlglot import exp

from performer_edge.rest.catalog import (
    SYSTEM_TABLES,
    Catalog,
    Column,
    IdentityKind,
    JsonValue,
    Table,
    relation_key,
)
from performer_edge.rest.migrate_calls import literal_node
from performer_edge.rest.migrate_expr import Scope, quote_name, sqlite_sql, translate_expression
from performer_edge.rest.migrate_plan import OperationKind, Seed, SeedCommand, Step
from performer_edge.rest.migrate_source import StatementError, identifier_name, node_line, table_ref
from performer_edge.rest.migrate_types import (
    InvalidValue,
    NotConstant,
    constant_value,
    storage_value,
)

SEEDABLE_SYSTEM_TABLES = frozenset({"storage.buckets"})


def target_table(node: exp.Expr, catalog: Catalog) -> Table:
    key = relation_key(*table_ref(node))
    table = catalog.tables.get(key)
    if table is None and key in SEEDABLE_SYSTEM_TABLES:
        table = SYSTEM_TABLES[key]
    if table is None:
        if key in SYSTEM_TABLES:
            raise StatementError(f"{key} belongs to Performer; seed it through its API instead")
        what = "is a view" if key in catalog.views else "does not exist"
        raise StatementError(f'relation "{key}" {what}')
    return table


def _is_default(node: exp.Expr) -> bool:
    return isinstance(node, exp.Var) and node.name.upper() == "DEFAULT"


def _value_sql(node: exp.Expr, column: Column, scope: Scope) -> tuple[str, JsonValue, bool]:
    """(SQLite text, API-shaped value, whether it was a literal) for a value put in `column`."""
    try:
        value = constant_value(node, column, scope.catalog)
        return sqlite_sql(literal_node(storage_value(value, column))), value, True
    except NotConstant:
        return sqlite_sql(translate_expression(node, scope)), None, False
    except InvalidValue as error:
        raise StatementError(
            f"column {column.name}: {error.message}", line=node_line(node)
        ) from error


def insert_sql_and_rows(
    insert: exp.Expr, scope: Scope
) -> tuple[tuple[str, ...], tuple[Mapping[str, JsonValue], ...] | None, Table, bool]:
    """SQLite statements, literal rows (or None), the target, and whether conflicts are ignored."""
    target = insert.this
    table = target_table(target.this if isinstance(target, exp.Schema) else target, scope.catalog)
    names = (
        [identifier_name(n) for n in target.expressions] if isinstance(target, exp.Schema) else None
    )
    columns = (
        [_insertable(table, n, insert) for n in names]
        if names
        else [c for c in table.columns if not c.generated]
    )
    conflict_sql, ignore = _conflict(insert, table, scope)
    source = insert.args.get("expression")
    into = f"INSERT INTO {quote_name(table.sqlite_name)}"
    if not isinstance(source, exp.Values):
        if not isinstance(source, exp.Query):
            raise StatementError("insert needs values or a select")
        query = sqlite_sql(translate_expression(source, replace(scope, table=None)))
        listed = ", ".join(quote_name(c.name) for c in columns)
        return (f"{into} ({listed}) {query}{conflict_sql}",), None, table, ignore
    value_scope = replace(scope, table=None)
    groups: list[tuple[tuple[str, ...], list[str]]] = []
    rows: list[dict[str, JsonValue]] | None = []
    for row in source.expressions:
        values = row.expressions if isinstance(row, exp.Tuple) else [row]
        if len(values) > len(columns):
            raise StatementError(
                "INSERT has more expressions than target columns", line=node_line(row)
            )
        names_here, texts, structured = [], [], {}
        for column, value in zip(columns, values, strict=False):
            if _is_default(value):
                continue
            if column.identity is IdentityKind.ALWAYS:
                raise StatementError(
                    f'cannot insert a non-DEFAULT value into column "{column.name}"',
                    line=node_line(row),
                )
            text, api_value, literal = _value_sql(value, column, value_scope)
            names_here.append(column.name)
            texts.append(text)
            structured[column.name] = api_value
            if not literal:
                rows = None
        if rows is not None:
            rows.append(structured)
        key = tuple(names_here)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(f"({', '.join(texts)})")
        else:
            groups.append((key, [f"({', '.join(texts)})"]))
    statements = tuple(
        f"{into} ({', '.join(map(quote_name, key))}) VALUES {', '.join(tuples)}{conflict_sql}"
        if key
        else f"{into} DEFAULT VALUES{conflict_sql}"
        for key, tuples in groups
    )
    upserts = bool(conflict_sql) and not ignore
    structured_rows = None if rows is None or upserts else tuple(rows)
    return statements, structured_rows, table, ignore


def _insertable(table: Table, name: str, insert: exp.Expr) -> Column:
    column = table.column(name)
    if column is None:
        raise StatementError(
            f'column "{name}" of relation "{table.key}" does not exist', line=node_line(insert)
        )
    if column.generated is not None:
        raise StatementError(
            f'cannot insert into generated column "{name}"', line=node_line(insert)
        )
    return column


def _conflict(insert: exp.Expr, table: Table, scope: Scope) -> tuple[str, bool]:
    conflict = insert.args.get("conflict")
    if conflict is None:
        return "", False
    action = str(conflict.args.get("action") or "").upper()
    keys = [
        k.this if isinstance(k, exp.Ordered) else k
        for k in conflict.args.get("conflict_keys") or []
    ]
    target = f"({', '.join(quote_name(identifier_name(k)) for k in keys)})" if keys else ""
    if action == "DO NOTHING":
        return f" ON CONFLICT{target} DO NOTHING", True
    if action != "DO UPDATE" or not keys:
        raise StatementError("on conflict supports do nothing and (columns) do update set ...")
    sets = _assignments(conflict.expressions, table, replace(scope, table=table))
    where = conflict.args.get("where")
    condition = (
        f" WHERE {sqlite_sql(translate_expression(where.this, scope))}" if where is not None else ""
    )
    return f" ON CONFLICT{target} DO UPDATE SET {sets}{condition}", False


def _assignments(expressions: list[exp.Expr], table: Table, scope: Scope) -> str:
    parts = []
    for assignment in expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise StatementError("set needs column = value", line=node_line(assignment))
        name = identifier_name(assignment.this.this)
        column = table.column(name)
        if column is None:
            raise StatementError(
                f'column "{name}" of relation "{table.key}" does not exist',
                line=node_line(assignment),
            )
        value = assignment.expression
        if _is_default(value):
            default = column.default.sqlite if column.default is not None else ""
            text = f"({default})" if default else "NULL"
        else:
            text = _value_sql(value, column, scope)[0]
        parts.append(f"{quote_name(name)} = {text}")
    return ", ".join(parts)


def update_sql(update: exp.Expr, scope: Scope) -> tuple[str, Table]:
    table = target_table(update.this, scope.catalog)
    if update.args.get("from_") or update.args.get("from"):
        raise StatementError("update ... from is not supported; use a subquery in where")
    scoped = replace(scope, table=table)
    assignments = _assignments(update.expressions, table, scoped)
    sql = f"UPDATE {quote_name(table.sqlite_name)} SET {assignments}"
    return sql + _where(update, scoped) + _returning(update, scoped), table


def delete_sql(delete: exp.Expr, scope: Scope) -> tuple[str, Table]:
    table = target_table(delete.this, scope.catalog)
    if delete.args.get("using"):
        raise StatementError("delete ... using is not supported; use a subquery in where")
    scoped = replace(scope, table=table)
    return f"DELETE FROM {quote_name(table.sqlite_name)}" + _where(delete, scoped) + _returning(
        delete, scoped
    ), table


def _where(node: exp.Expr, scope: Scope) -> str:
    where = node.args.get("where")
    return "" if where is None else f" WHERE {sqlite_sql(translate_expression(where.this, scope))}"


def _returning(node: exp.Expr, scope: Scope) -> str:
    returning = node.args.get("returning")
    return "" if returning is None else " " + sqlite_sql(translate_expression(returning, scope))


def seed_step(node: exp.Expr, catalog: Catalog) -> Step:
    """A seed statement of a migration as a `seed` operation."""
    scope = Scope(catalog)
    notes: tuple[str, ...] = ()
    if isinstance(node, exp.Insert):
        if node.args.get("returning") is not None:
            node = node.copy()
            node.set("returning", None)
            notes = ("returning ignored: a migration has no one to return rows to",)
        statements, rows, table, ignore = insert_sql_and_rows(node, scope)
        seed = Seed(table.key, table.sqlite_name, SeedCommand.INSERT, rows, ignore)
    elif isinstance(node, exp.Update):
        sql, table = update_sql(node, scope)
        statements, seed = (sql,), Seed(table.key, table.sqlite_name, SeedCommand.UPDATE)
    elif isinstance(node, exp.Delete):
        sql, table = delete_sql(node, scope)
        statements, seed = (sql,), Seed(table.key, table.sqlite_name, SeedCommand.DELETE)
    else:  # truncate
        if len(node.expressions) != 1:
            raise StatementError("truncate one table per statement")
        table = target_table(node.expressions[0], catalog)
        statements = (f"DELETE FROM {quote_name(table.sqlite_name)}",)
        seed = Seed(table.key, table.sqlite_name, SeedCommand.DELETE)
    return Step(OperationKind.SEED, catalog, statements, notes, seed.table, seed)
