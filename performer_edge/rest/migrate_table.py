"""`create table` → a catalog `Table`, and a `Table` → its SQLite `CREATE TABLE`.

Pure. DDL is always rendered from the catalog, so a table rebuild gives the same SQL as a create.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlglot import exp

from performer_edge.rest.catalog import (
    SYSTEM_SCHEMAS,
    SYSTEM_TABLES,
    Catalog,
    CheckConstraint,
    Column,
    ColumnDefault,
    DefaultKind,
    ForeignKey,
    IdentityKind,
    Index,
    ReferentialAction,
    Table,
    UniqueConstraint,
    relation_key,
    sqlite_table_name,
)
from performer_edge.rest.migrate_calls import UUID_V4_SQL, literal_node
from performer_edge.rest.migrate_expr import Scope, expression_sql, quote_name, sqlite_sql
from performer_edge.rest.migrate_source import StatementError, identifier_name, node_line, table_ref
from performer_edge.rest.migrate_time import now_expression
from performer_edge.rest.migrate_types import (
    InvalidValue,
    NotConstant,
    column_type,
    constant_value,
    storage_value,
)

_ACTION = re.compile(
    r"^on\s+(delete|update)\s+(cascade|restrict|set null|set default|no action)$", re.I
)
_NOW_FUNCTIONS = {"now", "transaction_timestamp", "statement_timestamp", "clock_timestamp"}
_UUID_FUNCTIONS = {"gen_random_uuid", "uuid_generate_v4"}
_INTEGER_TYPES = {"int2", "int4", "int8"}


@dataclass
class TableDraft:
    """A table being assembled from column and constraint clauses."""

    schema: str
    name: str
    columns: list[Column] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    primary_key_name: str = ""
    unique: list[UniqueConstraint] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[CheckConstraint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, rls_enabled: bool = False) -> Table:
        return Table(
            self.schema, self.name, tuple(self.columns), self.primary_key, self.primary_key_name,
            tuple(self.unique), tuple(self.foreign_keys), tuple(self.checks), rls_enabled,
        )  # fmt: skip

    def constraint_name(
        self, wanted: exp.Expr | None, columns: tuple[str, ...], suffix: str
    ) -> str:
        """The given name, or Postgres's default `table_col1_col2_suffix` made unique."""
        if wanted is not None:
            name = identifier_name(wanted)
            if name in self.table().constraint_names():
                raise StatementError(f'constraint "{name}" already exists', line=node_line(wanted))
            return name
        base = "_".join((self.name, *columns, suffix))
        taken = self.table().constraint_names()
        return next(
            f"{base}{n or ''}" for n in range(len(taken) + 2) if f"{base}{n or ''}" not in taken
        )


def start_table(create: exp.Expr, catalog: Catalog) -> TableDraft:
    schema_node = create.this
    schema, name = table_ref(
        schema_node.this if isinstance(schema_node, exp.Schema) else schema_node
    )
    if schema in SYSTEM_SCHEMAS:
        raise StatementError(
            f"schema {schema} belongs to Performer; create tables in your own schemas"
        )
    clash = catalog.relation_sqlite_names().get(sqlite_table_name(schema, name).lower())
    if clash is not None:
        raise StatementError(
            f'relation "{relation_key(schema, name)}" already exists'
            + _clash_note(clash, schema, name)
        )
    return TableDraft(schema, name)


def _clash_note(clash: str, schema: str, name: str) -> str:
    return (
        ""
        if clash == relation_key(schema, name)
        else f" (as SQLite table {sqlite_table_name(schema, name)}, from {clash})"
    )


def create_table(create: exp.Expr, catalog: Catalog) -> tuple[Table, list[str]]:
    """Translate a parsed `create table`; raises StatementError for what SQLite cannot hold."""
    if create.args.get("expression") is not None:
        raise StatementError("create table ... as select is not supported")
    properties = create.args.get("properties")
    if properties is not None and properties.expressions:
        shown = properties.expressions[0].sql(dialect="postgres").lower()
        raise StatementError(f"unsupported table option: {shown}")
    draft = start_table(create, catalog)
    if not isinstance(create.this, exp.Schema):
        raise StatementError("create table needs a column list")
    definitions = [e for e in create.this.expressions if isinstance(e, exp.ColumnDef)]
    for definition in definitions:  # all columns first: a check may name a later column
        add_column(draft, definition, catalog, with_constraints=False)
    for definition in definitions:
        add_column_constraints(draft, definition, catalog)
    for element in create.this.expressions:
        if not isinstance(element, exp.ColumnDef):
            add_table_constraint(draft, element, catalog)
    table = draft.table()
    check_identity(table)
    return table, draft.notes


def add_column(
    draft: TableDraft, definition: exp.ColumnDef, catalog: Catalog, *, with_constraints: bool = True
) -> None:
    name = identifier_name(definition.this)
    if any(c.name == name for c in draft.columns):
        raise StatementError(
            f'column "{name}" specified more than once', line=node_line(definition)
        )
    kind = definition.args.get("kind")
    if not isinstance(kind, exp.DataType):
        raise StatementError(f'column "{name}" needs a type', line=node_line(definition))
    try:
        typed, serial = column_type(kind, catalog)
    except StatementError as error:
        raise StatementError(error.reason, line=node_line(definition)) from error
    column = replace(typed, name=name)
    if serial:
        column = replace(
            column, nullable=False, identity=IdentityKind.BY_DEFAULT, default=_IDENTITY
        )
    draft.columns.append(column)
    if with_constraints:
        add_column_constraints(draft, definition, catalog)


def add_column_constraints(draft: TableDraft, definition: exp.ColumnDef, catalog: Catalog) -> None:
    name = identifier_name(definition.this)
    for constraint in definition.args.get("constraints") or []:
        _add_column_constraint(draft, name, constraint, catalog)


_IDENTITY = ColumnDefault(DefaultKind.IDENTITY)


def _set_column(draft: TableDraft, name: str, **changes: Any) -> None:
    draft.columns = [replace(c, **changes) if c.name == name else c for c in draft.columns]


def _add_column_constraint(
    draft: TableDraft, column: str, constraint: exp.Expr, catalog: Catalog
) -> None:
    kind, wanted = constraint.args.get("kind"), constraint.args.get("this")
    line = node_line(constraint)
    if isinstance(kind, exp.NotNullColumnConstraint):
        _set_column(draft, column, nullable=bool(kind.args.get("allow_null")))
    elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
        _set_primary_key(draft, (column,), wanted, line)
    elif isinstance(kind, exp.UniqueColumnConstraint):
        draft.unique.append(
            UniqueConstraint(draft.constraint_name(wanted, (column,), "key"), (column,))
        )
    elif isinstance(kind, exp.DefaultColumnConstraint):
        current = next(c for c in draft.columns if c.name == column)
        _set_column(draft, column, default=column_default(kind.this, current, catalog))
    elif isinstance(kind, exp.Reference):
        _add_foreign_key(draft, (column,), kind, wanted, catalog)
    elif isinstance(kind, exp.CheckColumnConstraint):
        name = draft.constraint_name(wanted, (column,), "check")
        draft.checks.append(CheckConstraint(name, check_sql(kind.this, draft, catalog)))
    elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
        identity = IdentityKind.ALWAYS if kind.this else IdentityKind.BY_DEFAULT
        _set_column(draft, column, identity=identity, nullable=False, default=_IDENTITY)
        if any(
            kind.args.get(k) is not None for k in ("start", "increment", "minvalue", "maxvalue")
        ):
            draft.notes.append(f"identity options of {column} ignored: SQLite rowids start at 1")
    elif isinstance(kind, exp.ComputedColumnConstraint):
        _set_column(draft, column, generated=check_sql(kind.this, draft, catalog))
    else:
        shown = constraint.sql(dialect="postgres").lower()
        raise StatementError(f"unsupported column constraint: {shown}", line=line)


def add_table_constraint(draft: TableDraft, element: exp.Expr, catalog: Catalog) -> None:
    wanted = None
    if isinstance(element, exp.Constraint):
        wanted = element.this
        if len(element.expressions) != 1:
            raise StatementError("one constraint per constraint clause", line=node_line(element))
        element = element.expressions[0]
    line = node_line(element)
    if isinstance(element, exp.PrimaryKey):
        _set_primary_key(draft, _names(element.expressions), wanted, line)
    elif isinstance(element, exp.UniqueColumnConstraint):
        columns = _names(element.this.expressions if isinstance(element.this, exp.Schema) else [])
        _require_columns(draft, columns, line)
        draft.unique.append(
            UniqueConstraint(draft.constraint_name(wanted, columns, "key"), columns)
        )
    elif isinstance(element, exp.ForeignKey):
        _add_foreign_key(
            draft, _names(element.expressions), element.args["reference"], wanted, catalog
        )
    elif isinstance(element, exp.CheckColumnConstraint):
        referenced = [identifier_name(c.this) for c in element.this.find_all(exp.Column)]
        name = draft.constraint_name(wanted, tuple(referenced[:1]), "check")
        draft.checks.append(CheckConstraint(name, check_sql(element.this, draft, catalog)))
    else:
        shown = element.sql(dialect="postgres").lower()
        raise StatementError(f"unsupported table constraint: {shown}", line=line)


def _names(nodes: list[exp.Expr]) -> tuple[str, ...]:
    return tuple(identifier_name(n) for n in nodes)


def _require_columns(draft: TableDraft, columns: tuple[str, ...], line: int) -> None:
    known = {c.name for c in draft.columns}
    for name in columns:
        if name not in known:
            raise StatementError(f'column "{name}" named in a key does not exist', line=line)


def _set_primary_key(
    draft: TableDraft, columns: tuple[str, ...], wanted: exp.Expr | None, line: int
) -> None:
    if draft.primary_key:
        raise StatementError(
            f'multiple primary keys for table "{draft.name}" are not allowed', line=line
        )
    _require_columns(draft, columns, line)
    draft.primary_key = columns
    draft.primary_key_name = identifier_name(wanted) if wanted is not None else f"{draft.name}_pkey"
    for name in columns:
        _set_column(draft, name, nullable=False)


def _add_foreign_key(
    draft: TableDraft,
    columns: tuple[str, ...],
    reference: exp.Expr,
    wanted: exp.Expr | None,
    catalog: Catalog,
) -> None:
    line = node_line(reference)
    _require_columns(draft, columns, line)
    target = reference.this
    ref_columns = _names(target.expressions) if isinstance(target, exp.Schema) else ()
    ref_schema, ref_name = table_ref(target.this if isinstance(target, exp.Schema) else target)
    key = relation_key(ref_schema, ref_name)
    referenced = draft.table() if (ref_schema, ref_name) == (draft.schema, draft.name) else None
    referenced = referenced or catalog.tables.get(key) or SYSTEM_TABLES.get(key)
    if referenced is None:
        raise StatementError(f'relation "{key}" does not exist', line=line)
    ref_columns = ref_columns or referenced.primary_key
    keys = {referenced.primary_key} | {u.columns for u in referenced.unique}
    if not any(set(ref_columns) == set(k) and len(k) == len(ref_columns) for k in keys if k):
        raise StatementError(
            f'there is no unique constraint matching given keys for referenced table "{key}"',
            line=line,
        )
    if len(ref_columns) != len(columns):
        raise StatementError(
            "number of referencing and referenced columns for foreign key disagree", line=line
        )
    actions = {"delete": ReferentialAction.NO_ACTION, "update": ReferentialAction.NO_ACTION}
    for option in reference.args.get("options") or []:
        matched = _ACTION.match(" ".join(str(option).split()))
        if matched:
            actions[matched.group(1).lower()] = ReferentialAction(matched.group(2).lower())
        elif "deferr" in str(option).lower():
            draft.notes.append(
                f"{option} ignored: SQLite checks this foreign key at each statement"
            )
        else:
            raise StatementError(f"unsupported foreign key option: {option}", line=line)
    name = draft.constraint_name(wanted, columns, "fkey")
    draft.foreign_keys.append(
        ForeignKey(
            name,
            columns,
            ref_schema,
            ref_name,
            tuple(ref_columns),
            actions["delete"],
            actions["update"],
        )
    )


def check_sql(node: exp.Expr, draft: TableDraft, catalog: Catalog) -> str:
    return expression_sql(node, Scope(catalog, table=draft.table()))


def check_identity(table: Table) -> None:
    for column in table.columns:
        if column.identity is None:
            continue
        if (
            table.primary_key != (column.name,)
            or column.base_type not in _INTEGER_TYPES
            or column.array_dims
        ):
            raise StatementError(
                f'identity/serial column "{column.name}" must be the integer primary key on SQLite'
                " (it becomes the rowid); use a plain integer column otherwise"
            )


def column_default(node: exp.Expr, column: Column, catalog: Catalog) -> ColumnDefault:
    """Classify a DEFAULT so the writer can fill it, and give its SQLite DDL expression."""
    source = node.sql(dialect="postgres")
    inner = node.this if isinstance(node, exp.Paren | exp.Cast) else node
    if _is_call(inner, _UUID_FUNCTIONS) or isinstance(inner, exp.Uuid):
        return ColumnDefault(DefaultKind.RANDOM_UUID, UUID_V4_SQL, source=source)
    if _is_now(inner):
        return ColumnDefault(
            DefaultKind.NOW, sqlite_sql(now_expression(column.base_type)), source=source
        )
    if _is_call(inner, {"uid"}, schema="auth"):
        return ColumnDefault(DefaultKind.AUTH_UID, source=source)
    if _is_call(inner, {"nextval"}):
        raise StatementError(
            "sequences are not supported; use generated by default as identity",
            line=node_line(node),
        )
    try:
        value = constant_value(node, column, catalog)
        literal = sqlite_sql(literal_node(storage_value(value, column)))
        return ColumnDefault(DefaultKind.CONSTANT, literal, value=value, source=source)
    except NotConstant:
        pass
    except InvalidValue as error:
        raise StatementError(
            f"bad default for {column.name}: {error.message}", line=node_line(node)
        ) from error
    sql = expression_sql(node, Scope(catalog, columns_allowed=False))
    return ColumnDefault(DefaultKind.EXPRESSION, sql, source=source)


def _is_call(node: exp.Expr, names: set[str], schema: str = "") -> bool:
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier):
        return identifier_name(node.this) in (
            {schema} if schema else {"extensions", "public"}
        ) and _is_call(node.expression, names)
    return not schema and isinstance(node, exp.Anonymous) and str(node.this).lower() in names


def _is_now(node: exp.Expr) -> bool:
    if isinstance(node, exp.CurrentTimestamp | exp.CurrentDate) or _is_call(node, _NOW_FUNCTIONS):
        return True
    if isinstance(node, exp.AtTimeZone | exp.Cast | exp.Paren):
        return _is_now(node.this)
    if _is_call(node, {"timezone"}) and len(node.expressions) == 2:
        zone = node.expressions[0]
        zone = zone.this if isinstance(zone, exp.Cast) else zone
        return (
            isinstance(zone, exp.Literal)
            and zone.name.lower() == "utc"
            and _is_now(node.expressions[1])
        )
    return False


def table_ddl(table: Table, sqlite_name: str | None = None) -> str:
    """The SQLite CREATE TABLE for a catalog table (optionally under another name, for rebuilds)."""
    identity_key = next(
        (c.name for c in table.columns if c.identity and table.primary_key == (c.name,)), None
    )
    lines = [column_ddl(c, rowid_alias=identity_key == c.name) for c in table.columns]
    if table.primary_key and identity_key is None:
        pk_name = quote_name(table.primary_key_name)
        lines.append(f"CONSTRAINT {pk_name} PRIMARY KEY ({_list(table.primary_key)})")
    lines += [f"CONSTRAINT {quote_name(u.name)} UNIQUE ({_list(u.columns)})" for u in table.unique]
    for fk in table.foreign_keys:
        target = sqlite_table_name(fk.ref_schema, fk.ref_table)
        actions = f"ON DELETE {fk.on_delete.value.upper()} ON UPDATE {fk.on_update.value.upper()}"
        lines.append(
            f"CONSTRAINT {quote_name(fk.name)} FOREIGN KEY ({_list(fk.columns)})"
            f" REFERENCES {quote_name(target)} ({_list(fk.ref_columns)}) {actions}"
        )
    lines += [f"CONSTRAINT {quote_name(c.name)} CHECK ({c.sqlite})" for c in table.checks]
    body = ",\n  ".join(lines)
    return f"CREATE TABLE {quote_name(sqlite_name or table.sqlite_name)} (\n  {body}\n)"


def column_ddl(column: Column, *, rowid_alias: bool = False, constant_default: bool = False) -> str:
    """One column of a CREATE TABLE; `constant_default` writes the DEFAULT bare, as
    ALTER TABLE ADD COLUMN requires."""
    parts = [quote_name(column.name), column.sqlite_type]
    if rowid_alias:
        return f"{quote_name(column.name)} INTEGER PRIMARY KEY AUTOINCREMENT"
    if not column.nullable:
        parts.append("NOT NULL")
    if column.default is not None and column.default.sqlite:
        default = column.default.sqlite
        parts.append(f"DEFAULT {default}" if constant_default else f"DEFAULT ({default})")
    if column.generated is not None:
        parts.append(f"GENERATED ALWAYS AS ({column.generated}) STORED")
    if column.enum_values and not column.array_dims:
        labels = ", ".join("'" + v.replace("'", "''") + "'" for v in column.enum_values)
        parts.append(f"CHECK ({quote_name(column.name)} IN ({labels}))")
    return " ".join(parts)


def _list(names: tuple[str, ...]) -> str:
    return ", ".join(quote_name(n) for n in names)


def index_ddl(index: Index, catalog: Catalog) -> str:
    table = catalog.tables[index.table]
    unique = "UNIQUE " if index.unique else ""
    name = quote_name(sqlite_table_name(index.schema, index.name))
    where = f" WHERE {index.where}" if index.where else ""
    keys = ", ".join(index.keys)
    return f"CREATE {unique}INDEX {name} ON {quote_name(table.sqlite_name)} ({keys}){where}"
