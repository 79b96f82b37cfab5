"""SQLite's table-rebuild recipe, and renames carried into the catalog's stored SQL.

Pure. SQLite cannot alter constraints, defaults or types in place: build the new table, copy,
drop, rename, then re-create the table's indexes and the views that read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import sqlglot
from sqlglot import exp

from performer_edge.rest.catalog import Catalog, Policy, Table, View
from performer_edge.rest.migrate_expr import quote_name, sqlite_sql
from performer_edge.rest.migrate_fts import index_statements
from performer_edge.rest.migrate_schema import dependent_views, view_ddl
from performer_edge.rest.migrate_table import table_ddl

REBUILD_PREFIX = "_rebuild_"


def rebuild_table(new: Table, catalog: Catalog, copy: Mapping[str, str]) -> tuple[str, ...]:
    """Statements that turn the SQLite table into `new`. `catalog` already holds `new`; `copy`
    maps each new column that keeps data to the SQLite expression reading it from the old table."""
    temporary = REBUILD_PREFIX + new.sqlite_name
    target = quote_name(new.sqlite_name)
    columns = ", ".join(quote_name(name) for name in copy)
    sources = ", ".join(copy.values())
    views = [catalog.views[key] for key in dependent_views(catalog, new.key)]
    statements = [
        table_ddl(new, temporary),
        f"INSERT INTO {quote_name(temporary)} ({columns}) SELECT {sources} FROM {target}"
        if copy
        else "",
        *(f"DROP VIEW {quote_name(view.sqlite_name)}" for view in reversed(views)),
        f"DROP TABLE {target}",
        f"ALTER TABLE {quote_name(temporary)} RENAME TO {target}",
        *(
            statement
            for index in catalog.indexes_for(new.key)
            for statement in index_statements(index, catalog, rebuilt=True)
        ),
        *(view_ddl(view) for view in views),
    ]
    return tuple(s for s in statements if s)


def _parse_sqlite(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read="sqlite")


def _own_columns(tree: exp.Expr, table: Table, name: str) -> list[exp.Column]:
    """References to `table.name` in a predicate over `table` (unqualified ones in subqueries
    are taken to mean the subquery's tables)."""
    found = []
    for column in tree.find_all(exp.Column):
        qualifier = column.table
        in_subquery = column.find_ancestor(exp.Select) is not None
        if column.name.lower() != name.lower() or (not qualifier and in_subquery):
            continue
        if not qualifier or qualifier.lower() == table.sqlite_name.lower():
            found.append(column)
    return found


def mentions_column(sql: str, table: Table, name: str) -> bool:
    return bool(_own_columns(_parse_sqlite(sql), table, name))


def rename_column_in_expression(sql: str, table: Table, old: str, new: str) -> str:
    """Rename a column of `table` in a predicate over it (check, policy, index key)."""
    tree = _parse_sqlite(sql)
    for column in _own_columns(tree, table, old):
        column.set("this", exp.to_identifier(new))
    return sqlite_sql(tree)


def rename_column_in_view(view: View, table: Table, old: str, new: str) -> View:
    """Follow a column rename in a view's SQL, as SQLite does to the view itself."""
    tree = _parse_sqlite(view.sqlite)
    for select in list(tree.find_all(exp.Select)):
        aliases = _aliases_of(select, table.sqlite_name)
        if not aliases:
            continue
        for column in list(select.find_all(exp.Column)):
            if column.find_ancestor(exp.Select) is not select or column.name.lower() != old.lower():
                continue
            if column.table.lower() in aliases or (
                not column.table and len(_aliases_of(select, None)) == 1
            ):
                column.set("this", exp.to_identifier(new))
                if column.parent is select:  # keep the view's output name
                    column.replace(exp.alias_(column.copy(), old))
    sources = tuple(
        replace(s, table_column=new) if (s.table, s.table_column) == (table.key, old) else s
        for s in view.sources
    )
    return replace(view, sqlite=sqlite_sql(tree), sources=sources)


def _aliases_of(select: exp.Select, table_name: str | None) -> set[str]:
    """Lower-cased names by which `select` (not its subqueries) reads `table_name` (any if None)."""
    names: set[str] = set()
    for table in select.find_all(exp.Table):
        if table.find_ancestor(exp.Select) is not select:
            continue
        if table_name is None or table.name.lower() == table_name.lower():
            names |= {table.name.lower(), table.alias_or_name.lower()}
    return names


def rename_table_in_sql(sql: str, old: str, new: str) -> str:
    """Point table references and qualifiers from SQLite table `old` to `new`."""
    tree = _parse_sqlite(sql)
    for table in list(tree.find_all(exp.Table)):
        if table.name.lower() == old.lower():
            table.set("this", exp.to_identifier(new))
    for column in list(tree.find_all(exp.Column)):
        if column.table.lower() == old.lower():
            column.set("table", exp.to_identifier(new))
    return sqlite_sql(tree)


def follow_column_rename(catalog: Catalog, table: Table, old: str, new: str) -> Catalog:
    """Carry `alter table ... rename column` into everything in the catalog that names it."""

    def renamed(sql: str | None) -> str | None:
        return None if sql is None else rename_column_in_expression(sql, table, old, new)

    updated = catalog
    for other in catalog.tables.values():
        fks = tuple(
            replace(fk, ref_columns=tuple(new if c == old else c for c in fk.ref_columns))
            if fk.ref_key == table.key
            else fk
            for fk in other.foreign_keys
        )
        if fks != other.foreign_keys:
            updated = updated.with_table(replace(updated.tables[other.key], foreign_keys=fks))
    for index in catalog.indexes_for(table.key):
        keys = tuple(renamed(k) or k for k in index.keys)
        searched = new if index.search_column == old else index.search_column
        updated = updated.with_index(
            replace(index, keys=keys, where=renamed(index.where), search_column=searched)
        )
    policies = tuple(
        replace(p, using=renamed(p.using), with_check=renamed(p.with_check))
        if p.table == table.key
        else p
        for p in updated.policies
    )
    updated = replace(updated, policies=policies)
    for key in dependent_views(updated, table.key):
        updated = updated.with_view(rename_column_in_view(updated.views[key], table, old, new))
    return updated


def follow_table_rename(catalog: Catalog, old: Table, new: Table) -> Catalog:
    """Carry `alter table ... rename to` into foreign keys, indexes, policies and views."""
    updated = catalog.with_table(new, replacing=old.key)
    for other in list(updated.tables.values()):
        fks = tuple(
            replace(fk, ref_table=new.name) if fk.ref_key == old.key else fk
            for fk in other.foreign_keys
        )
        if fks != other.foreign_keys:
            updated = updated.with_table(replace(other, foreign_keys=fks))
    for index in updated.indexes_for(old.key):
        updated = updated.with_index(replace(index, table=new.key))

    def moved(sql: str | None) -> str | None:
        return None if sql is None else rename_table_in_sql(sql, old.sqlite_name, new.sqlite_name)

    policies: list[Policy] = []
    for policy in updated.policies:
        table = new.key if policy.table == old.key else policy.table
        using, with_check = moved(policy.using), moved(policy.with_check)
        policies.append(replace(policy, table=table, using=using, with_check=with_check))
    updated = replace(updated, policies=tuple(policies))
    for view in list(updated.views.values()):
        if old.key in view.depends_on:
            depends = tuple(new.key if d == old.key else d for d in view.depends_on)
            updated = updated.with_view(
                replace(view, sqlite=moved(view.sqlite) or "", depends_on=depends)
            )
    return updated
