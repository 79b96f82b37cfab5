"""Indexes, enum types, views and drops: the schema statements around `create table`.

Pure; each function takes a parsed statement and the catalog and returns a `Step`.
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from performer_edge.rest.catalog import (
    SYSTEM_TABLES,
    UNKNOWN_PG_TYPE,
    Catalog,
    Column,
    EnumType,
    Index,
    View,
    relation_key,
    sqlite_table_name,
)
from performer_edge.rest.migrate_expr import (
    Scope,
    expression_sql,
    quote_name,
    referenced_relations,
    relation_columns,
)
from performer_edge.rest.migrate_fts import (
    FULL_TEXT_METHODS,
    drop_statements,
    index_statements,
    search_target,
)
from performer_edge.rest.migrate_plan import OperationKind, Step
from performer_edge.rest.migrate_source import StatementError, identifier_name, node_line, table_ref
from performer_edge.rest.migrate_types import column_type
from performer_edge.rest.migrate_view import from_relations, view_sources


def create_index(create: exp.Expr, catalog: Catalog) -> Step:
    index_node = create.this
    params = index_node.args.get("params")
    schema, table_name = table_ref(index_node.args["table"])
    table = catalog.table(schema, table_name)
    if table is None:
        raise StatementError(f'relation "{relation_key(schema, table_name)}" does not exist')
    notes: list[str] = []
    keys: list[str] = []
    key_names: list[str] = []
    method = params.args.get("using")
    method_name = method.name.lower() if method is not None else "btree"
    search: tuple[str, str] | None = None
    for ordered in params.args.get("columns") or []:
        key = ordered.this if isinstance(ordered, exp.Ordered) else ordered
        opclass = key.expression if isinstance(key, exp.Opclass) else None
        key = key.this if isinstance(key, exp.Opclass) else key
        if method_name in FULL_TEXT_METHODS and len(params.args.get("columns") or []) == 1:
            search = search_target(key, table)
        if opclass is not None and search is None:
            notes.append(f"operator class {opclass.sql(dialect='postgres')} ignored")
        if isinstance(key, exp.Column) and not key.args.get("table"):
            name = identifier_name(key.this)
            if table.column(name) is None:
                raise StatementError(f'column "{name}" does not exist', line=node_line(key))
            text, key_names = quote_name(name), [*key_names, name]
        else:
            text, key_names = expression_sql(key, Scope(catalog, table=table)), [*key_names, "expr"]
        desc = isinstance(ordered, exp.Ordered) and ordered.args.get("desc")
        keys.append(text + (" DESC" if desc else ""))
    if search is not None:
        notes.append(f"{method_name} index on a tsvector: an FTS5 table kept in step by triggers")
        if not search[0]:
            notes.append("no filter can use it: index a tsvector column or to_tsvector(cfg, col)")
    elif method_name != "btree":
        notes.append(f"index method {method_name} ignored: SQLite indexes are b-trees")
    if params.args.get("include"):
        notes.append("include (...) ignored: SQLite has no covering-column clause")
    if create.args.get("concurrently"):
        notes.append("concurrently ignored: migrations hold the write lock")
    where = params.args.get("where")
    predicate = (
        expression_sql(where.this, Scope(catalog, table=table)) if where is not None else None
    )
    if search is not None and predicate is not None:
        notes.append("where ignored: the full-text index covers every row")
        predicate = None
    name_node = index_node.this
    name = (
        identifier_name(name_node)
        if name_node is not None
        else "_".join((table.name, *key_names, "idx"))
    )
    index = Index(schema, name, table.key, tuple(keys), bool(create.args.get("unique")), predicate)
    if search is not None:
        index = replace(index, full_text=True, search_column=search[0], search_config=search[1])
    sqlite_name = sqlite_table_name(schema, name).lower()
    if index.key in catalog.indexes or sqlite_name in catalog.relation_sqlite_names():
        if create.args.get("exists"):
            return Step(
                OperationKind.NO_OP,
                catalog,
                notes=(f'relation "{index.key}" already exists, skipped',),
            )
        raise StatementError(f'relation "{index.key}" already exists')
    updated = catalog.with_index(index)
    statements = index_statements(index, updated)
    return Step(OperationKind.CREATE_INDEX, updated, statements, tuple(notes), index.key)


def drop_index(drop: exp.Expr, catalog: Catalog) -> Step:
    statements: list[str] = []
    notes, updated = [], catalog
    for target in drop.args.get("tables") or []:
        key = relation_key(*table_ref(target))
        if key not in updated.indexes:
            if drop.args.get("exists"):
                notes.append(f'index "{key}" does not exist, skipped')
                continue
            raise StatementError(f'index "{key}" does not exist')
        index = updated.indexes[key]
        if index.full_text:
            statements += drop_statements(index)
        else:
            name = quote_name(sqlite_table_name(index.schema, index.name))
            statements.append(f"DROP INDEX {name}")
        updated = updated.without_index(key)
    kind = OperationKind.DROP_INDEX if statements else OperationKind.NO_OP
    return Step(kind, updated, tuple(statements), tuple(notes))


def create_enum(create: exp.Expr, catalog: Catalog) -> Step:
    schema, name = table_ref(create.this)
    definition = create.args.get("expression")
    if not (isinstance(definition, exp.DataType) and definition.this == exp.DataType.Type.ENUM):
        raise StatementError("only enum types are supported (create type ... as enum (...))")
    labels = tuple(str(label.this) for label in definition.expressions)
    if len(set(labels)) != len(labels):
        raise StatementError("enum labels must be unique")
    enum = EnumType(schema, name, labels)
    if enum.key in catalog.enums:
        raise StatementError(f'type "{enum.key}" already exists')
    note = "enum columns are TEXT with a CHECK of the labels"
    return Step(OperationKind.CREATE_TYPE, catalog.with_enum(enum), notes=(note,), subject=enum.key)


def drop_type(drop: exp.Expr, catalog: Catalog) -> Step:
    updated, notes = catalog, []
    for target in drop.args.get("tables") or []:
        key = relation_key(*table_ref(target))
        enum = updated.enums.get(key)
        if enum is None:
            if drop.args.get("exists"):
                notes.append(f'type "{key}" does not exist, skipped')
                continue
            raise StatementError(f'type "{key}" does not exist')
        for table in updated.tables.values():
            if any(c.enum_values and c.pg_type in (enum.name, enum.key) for c in table.columns):
                raise StatementError(f"cannot drop type {key} because table {table.key} uses it")
        updated = updated.without_enum(key)
    kind = OperationKind.DROP_TYPE if updated != catalog else OperationKind.NO_OP
    return Step(kind, updated, notes=tuple(notes))


def create_view(create: exp.Expr, catalog: Catalog) -> Step:
    target = create.this
    schema, name = table_ref(target.this if isinstance(target, exp.Schema) else target)
    security_invoker, notes = False, []
    for prop in (create.args.get("properties") or exp.Properties()).expressions:
        if isinstance(prop, exp.Property) and prop.name.lower() == "security_invoker":
            security_invoker = prop.args["value"].sql().lower() in ("true", "on", "1")
        else:
            raise StatementError(f"unsupported view option: {prop.sql(dialect='postgres').lower()}")
    query = create.args.get("expression")
    if not isinstance(query, exp.Query):
        raise StatementError("create view needs a select")
    key = relation_key(schema, name)
    replacing = key in catalog.views
    if replacing and not create.args.get("replace"):
        raise StatementError(f'relation "{key}" already exists')
    clash = catalog.relation_sqlite_names().get(sqlite_table_name(schema, name).lower())
    if (clash is not None and clash != key) or key in catalog.tables:
        raise StatementError(f'relation "{key}" already exists')
    sql = expression_sql(query, Scope(catalog))
    columns = view_columns(query, catalog)
    if isinstance(target, exp.Schema):
        names = [identifier_name(n) for n in target.expressions]
        if columns and len(names) > len(columns):
            raise StatementError("create view specifies more column names than columns")
        columns = tuple(
            Column(n, c.pg_type, c.array_dims, enum_values=c.enum_values)
            for n, c in zip(names, columns, strict=False)
        )
        columns = columns or tuple(Column(n, UNKNOWN_PG_TYPE) for n in names)
    view = View(
        schema,
        name,
        sql,
        columns,
        referenced_relations(query, catalog),
        security_invoker,
        view_sources(query, columns, catalog),
    )
    statements: tuple[str, ...] = (
        (f"DROP VIEW IF EXISTS {quote_name(view.sqlite_name)}",) if replacing else ()
    )
    statements += (view_ddl(view),)
    if not security_invoker:
        notes.append(
            "views read their tables without row-level policies unless security_invoker = true"
        )
    return Step(OperationKind.CREATE_VIEW, catalog.with_view(view), statements, tuple(notes), key)


def view_ddl(view: View) -> str:
    names = f" ({', '.join(quote_name(c.name) for c in view.columns)})" if view.columns else ""
    return f"CREATE VIEW {quote_name(view.sqlite_name)}{names} AS {view.sqlite}"


def view_columns(query: exp.Expr, catalog: Catalog) -> tuple[Column, ...]:
    """The view's output columns with their Postgres types where they can be derived; () if a
    `*` cannot be expanded."""
    select = query
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return ()
    sources = _sources(select, catalog)
    columns: list[Column] = []
    for projection in select.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            wanted = (
                identifier_name(projection.args["table"]) if projection.args.get("table") else None
            )
            expanded = [cols for alias, cols in sources.items() if wanted in (None, alias)]
            if not expanded or any(cols is None for cols in expanded):
                return ()
            columns += [
                Column(c.name, c.pg_type, c.array_dims, enum_values=c.enum_values)
                for cols in expanded
                for c in cols or ()
            ]
            continue
        name = projection.alias_or_name or (
            projection.this.sql_name().lower() if isinstance(projection, exp.Func) else "?column?"
        )
        typed = _type_of(projection.unalias(), sources, catalog)
        columns.append(Column(name, typed.pg_type, typed.array_dims, enum_values=typed.enum_values))
    return tuple(columns)


def _sources(select: exp.Select, catalog: Catalog) -> dict[str, tuple[Column, ...] | None]:
    """Alias (or name) → columns of each relation in the select's FROM and JOINs."""
    return {
        alias: None if key is None else relation_columns(key, catalog)
        for alias, key in from_relations(select)
    }


_TEXT_NODES = (
    exp.JSONExtractScalar,
    exp.Lower,
    exp.Upper,
    exp.DPipe,
    exp.Concat,
    exp.Trim,
    exp.Substring,
    exp.Replace,
)
_BOOL_NODES = (exp.Predicate, exp.And, exp.Or, exp.Not, exp.Exists)


def _type_of(
    node: exp.Expr, sources: dict[str, tuple[Column, ...] | None], catalog: Catalog
) -> Column:
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
        name = identifier_name(node.this)
        qualifier = identifier_name(node.args["table"]) if node.args.get("table") else None
        for alias, columns in sources.items():
            found = next((c for c in columns or () if c.name == name), None)
            if found is not None and qualifier in (None, alias):
                return found
    if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
        try:
            return column_type(node.to, catalog)[0]
        except StatementError:
            return Column("", UNKNOWN_PG_TYPE)
    if isinstance(node, exp.Paren | exp.Coalesce | exp.Max | exp.Min):
        return _type_of(node.this, sources, catalog)
    simple = {exp.Count: "int8", exp.Sum: "numeric", exp.Avg: "numeric", exp.Length: "int4"}
    for cls, pg_type in simple.items():
        if isinstance(node, cls):
            return Column("", pg_type)
    if isinstance(node, _TEXT_NODES) or (isinstance(node, exp.Literal) and node.is_string):
        return Column("", "text")
    if isinstance(node, exp.Literal):
        return Column("", "int4" if node.name.isdigit() else "numeric")
    if isinstance(node, (exp.Boolean, *_BOOL_NODES)):
        return Column("", "bool")
    if isinstance(node, exp.CurrentTimestamp):
        return Column("", "timestamptz")
    return Column("", UNKNOWN_PG_TYPE)


def drop_relations(drop: exp.Expr, catalog: Catalog) -> Step:
    """`drop table` / `drop view`, refusing what still depends on them unless `cascade`."""
    is_view = str(drop.args.get("kind")).upper() == "VIEW"
    updated, statements, notes = catalog, [], []
    for target in drop.args.get("tables") or []:
        key = relation_key(*table_ref(target))
        relations = updated.views if is_view else updated.tables
        if key not in relations:
            if key in SYSTEM_TABLES:
                raise StatementError(f"{key} belongs to Performer and cannot be dropped")
            if drop.args.get("exists"):
                notes.append(f'{"view" if is_view else "table"} "{key}" does not exist, skipped')
                continue
            raise StatementError(f'{"view" if is_view else "table"} "{key}" does not exist')
        referencing = [
            t.key
            for t in updated.tables.values()
            if t.key != key and any(f.ref_key == key for f in t.foreign_keys)
        ]
        if referencing:
            raise StatementError(
                f"cannot drop {key}: foreign keys of {', '.join(referencing)} reference it"
            )
        dependents = dependent_views(updated, key)
        if dependents and not drop.args.get("cascade"):
            raise StatementError(
                f"cannot drop {key}: views {', '.join(dependents)} depend on it (use cascade)"
            )
        for view_key in reversed(dependents):
            statements.append(f"DROP VIEW {quote_name(updated.views[view_key].sqlite_name)}")
            updated = updated.without_view(view_key)
        sqlite_name = relations[key].sqlite_name
        for index in updated.indexes_for(key) if not is_view else ():
            if index.full_text:  # an FTS5 table is a table of its own
                statements += drop_statements(index)
        statements.append(f"DROP {'VIEW' if is_view else 'TABLE'} {quote_name(sqlite_name)}")
        updated = updated.without_view(key) if is_view else updated.without_table(key)
    kind = (
        (OperationKind.DROP_VIEW if is_view else OperationKind.DROP_TABLE)
        if statements
        else OperationKind.NO_OP
    )
    return Step(kind, updated, tuple(statements), tuple(notes))


def dependent_views(catalog: Catalog, key: str) -> list[str]:
    """Views that read `key`, directly or through other views, in creation order."""
    found: list[str] = []
    frontier = {key}
    for view_key, view in catalog.views.items():
        if frontier & set(view.depends_on):
            found.append(view_key)
            frontier.add(view_key)
    return found
