"""Which columns of a `create view` pass a base table's column through unchanged.

Pure over the parsed Postgres SELECT and the catalog; the REST layer embeds views through the
keys of those tables (`compile_relations`). Imports nothing from the REST request side.
"""

from __future__ import annotations

from sqlglot import exp

from performer_edge.rest.catalog import Catalog, Column, Table, ViewColumnSource, relation_key
from performer_edge.rest.migrate_source import identifier_name, table_ref

Origin = tuple[str, str] | None  # (base table key, its column) of one output column


def view_sources(
    query: exp.Expr, columns: tuple[Column, ...], catalog: Catalog
) -> tuple[ViewColumnSource, ...]:
    """The output `columns` of the view `query` that are plain columns of a table it reads.

    Only a single SELECT over tables (no set operation) is traced; a `*` over anything but a
    table leaves the positions unknown, and then no column is traced.
    """
    if not isinstance(query, exp.Select):
        return ()
    tables = _from_tables(query, catalog)
    origins: list[Origin] = []
    for projection in query.expressions:
        expanded = _star_origins(projection, tables)
        if expanded is None:
            origins.append(_column_origin(projection.unalias(), tables))
        elif expanded:
            origins += expanded
        else:
            return ()
    if len(origins) != len(columns):
        return ()
    return tuple(
        ViewColumnSource(column.name, *origin)
        for column, origin in zip(columns, origins, strict=True)
        if origin is not None
    )


def from_relations(select: exp.Select) -> list[tuple[str, str | None]]:
    """Alias (or name) and relation key of each FROM and JOIN item; None for a subquery or a
    function."""
    found: list[tuple[str, str | None]] = []
    from_ = select.args.get("from_") or select.args.get("from")
    joins = select.args.get("joins") or []
    for item in ([from_.this] if from_ is not None else []) + [j.this for j in joins]:
        if isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier):
            schema, name = table_ref(item)
            alias = item.alias_or_name
            found.append((identifier_name(alias) if alias else name, relation_key(schema, name)))
        else:
            found.append((item.alias_or_name or "?", None))
    return found


def _from_tables(select: exp.Select, catalog: Catalog) -> dict[str, Table | None]:
    return {
        alias: None if key is None else catalog.tables.get(key)
        for alias, key in from_relations(select)
    }


def _star_origins(projection: exp.Expr, tables: dict[str, Table | None]) -> list[Origin] | None:
    """Origins of a `*` or `t.*` projection ([] when unknown); None for any other projection."""
    if isinstance(projection, exp.Star):
        wanted = None
    elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
        wanted = projection.table
    else:
        return None
    read = [table for alias, table in tables.items() if wanted in (None, alias)]
    if not read or any(table is None for table in read):
        return []
    return [(table.key, c.name) for table in read if table is not None for c in table.columns]


def _column_origin(expression: exp.Expr, tables: dict[str, Table | None]) -> Origin:
    if not isinstance(expression, exp.Column) or not isinstance(expression.this, exp.Identifier):
        return None
    name = identifier_name(expression.this)
    if expression.table:
        candidates = [tables.get(expression.table)]
    elif None in tables.values():  # it may come from the subquery or function
        return None
    else:
        candidates = [t for t in tables.values() if t is not None and t.column(name)]
    if len(candidates) != 1 or candidates[0] is None or candidates[0].column(name) is None:
        return None
    return candidates[0].key, name
