"""`alter table` actions: add/drop/rename column, rename table, add/drop constraint, alter column.

Pure. What SQLite can do in place it does; the rest goes through `migrate_rebuild`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import sqlglot
from sqlglot import exp

from performer_edge.rest.catalog import (
    SYSTEM_TABLES,
    Catalog,
    Column,
    DefaultKind,
    ReplicaIdentity,
    Table,
    relation_key,
)
from performer_edge.rest.migrate_expr import quote_name
from performer_edge.rest.migrate_fts import drop_statements
from performer_edge.rest.migrate_plan import OperationKind, Step
from performer_edge.rest.migrate_rebuild import (
    follow_column_rename,
    follow_table_rename,
    mentions_column,
    rebuild_table,
    rename_column_in_expression,
)
from performer_edge.rest.migrate_schema import dependent_views
from performer_edge.rest.migrate_source import StatementError, identifier_name, node_line, table_ref
from performer_edge.rest.migrate_table import (
    TableDraft,
    add_column,
    add_table_constraint,
    check_identity,
    column_ddl,
    column_default,
)
from performer_edge.rest.migrate_types import column_type

_NUMBERS = {"int2", "int4", "int8", "numeric", "float4", "float8"}
_TEXTS = {"text", "varchar", "char"}


@dataclass
class _Alter:
    catalog: Catalog
    table: Table
    statements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rebuilt: bool = False

    def draft(self) -> TableDraft:
        t = self.table
        return TableDraft(
            t.schema, t.name, list(t.columns), t.primary_key, t.primary_key_name,
            list(t.unique), list(t.foreign_keys), list(t.checks),
        )  # fmt: skip

    def from_draft(self, draft: TableDraft) -> Table:
        """The altered table: the draft's columns and constraints, this table's settings."""
        t = self.table
        return replace(
            draft.table(t.rls_enabled),
            replica_identity=t.replica_identity,
            replica_index_columns=t.replica_index_columns,
        )

    def replace_table(
        self, new: Table, *, rebuild: bool, copy: dict[str, str] | None = None
    ) -> None:
        check_identity(new)
        self.catalog = self.catalog.with_table(new)
        if rebuild:
            if copy is None:
                copy = {
                    c.name: quote_name(c.name)
                    for c in new.columns
                    if self.table.column(c.name) and not c.generated
                }
            self.statements += rebuild_table(new, self.catalog, copy)
            self.rebuilt = True
        self.table = new

    @property
    def quoted(self) -> str:
        return quote_name(self.table.sqlite_name)


def alter_table(alter: exp.Expr, catalog: Catalog) -> Step:
    schema, name = table_ref(alter.this)
    key = relation_key(schema, name)
    if key in SYSTEM_TABLES:
        raise StatementError(f"{key} belongs to Performer and cannot be altered")
    table = catalog.tables.get(key)
    if table is None:
        if alter.args.get("exists"):
            return Step(
                OperationKind.NO_OP, catalog, notes=(f'relation "{key}" does not exist, skipped',)
            )
        raise StatementError(f'relation "{key}" does not exist')
    state = _Alter(catalog, table)
    for action in alter.args.get("actions") or []:
        handler = _ACTIONS.get(type(action))
        if handler is None:
            raise StatementError(
                f"unsupported alter table action: {action.sql(dialect='postgres')}",
                line=node_line(action),
            )
        handler(state, action)
    kind = (
        OperationKind.ALTER_TABLE
        if state.statements or state.catalog != catalog
        else OperationKind.NO_OP
    )
    return Step(
        kind, state.catalog, tuple(state.statements), tuple(state.notes), state.table.key,
        foreign_keys_off=state.rebuilt,
    )  # fmt: skip


def _add_column(state: _Alter, definition: exp.Expr) -> None:
    assert isinstance(definition, exp.ColumnDef)
    name = identifier_name(definition.this)
    if state.table.column(name) is not None:
        if definition.args.get("exists"):
            state.notes.append(f'column "{name}" already exists, skipped')
            return
        raise StatementError(f'column "{name}" of relation "{state.table.key}" already exists')
    draft = state.draft()
    add_column(draft, definition, state.catalog)
    state.notes += draft.notes
    new = state.from_draft(draft)
    column = new.column(name)
    assert column is not None
    old = state.table
    in_place = (
        (new.primary_key, new.unique, new.foreign_keys, new.checks)
        == (old.primary_key, old.unique, old.foreign_keys, old.checks)
        and column.generated is None
        and column.identity is None
        and (column.default is None or column.default.kind is DefaultKind.CONSTANT)
        and (column.nullable or (column.default is not None and column.default.value is not None))
    )
    if in_place:  # ALTER TABLE ADD COLUMN takes only constant defaults, unparenthesized
        state.statements.append(
            f"ALTER TABLE {state.quoted} ADD COLUMN {column_ddl(column, constant_default=True)}"
        )
    state.replace_table(new, rebuild=not in_place)


def _drop(state: _Alter, drop: exp.Expr) -> None:
    kind = str(drop.args.get("kind") or "").upper()
    for target in drop.args.get("tables") or drop.expressions:
        name = identifier_name(target)
        if kind == "COLUMN":
            _drop_column(state, name, exists=bool(drop.args.get("exists")))
        elif kind == "CONSTRAINT":
            _drop_constraint(state, name, exists=bool(drop.args.get("exists")))
        else:
            raise StatementError(f"unsupported alter table action: drop {kind.lower()}")


def _drop_column(state: _Alter, name: str, *, exists: bool) -> None:
    table = state.table
    if table.column(name) is None:
        if exists:
            state.notes.append(f'column "{name}" does not exist, skipped')
            return
        raise StatementError(f'column "{name}" of relation "{table.key}" does not exist')
    if name in table.primary_key:
        raise StatementError(f'cannot drop column "{name}": it is in the primary key')
    for policy in state.catalog.policies_for(table.key):
        if any(
            mentions_column(sql, table, name) for sql in (policy.using, policy.with_check) if sql
        ):
            raise StatementError(f'cannot drop column "{name}": policy "{policy.name}" uses it')
    for view_key in dependent_views(state.catalog, table.key):
        if name in _names_in(state.catalog.views[view_key].sqlite):
            raise StatementError(f'cannot drop column "{name}": view {view_key} may use it')
    if any(c.generated and mentions_column(c.generated, table, name) for c in table.columns):
        raise StatementError(f'cannot drop column "{name}": a generated column uses it')
    unique = tuple(u for u in table.unique if name not in u.columns)
    fks = tuple(f for f in table.foreign_keys if name not in f.columns)
    checks = tuple(c for c in table.checks if not mentions_column(c.sqlite, table, name))
    columns = tuple(c for c in table.columns if c.name != name)
    new = replace(table, columns=columns, unique=unique, foreign_keys=fks, checks=checks)
    if name in table.replica_index_columns:  # the index goes: Postgres then logs nothing
        new = replace(new, replica_identity=ReplicaIdentity.NOTHING, replica_index_columns=())
    dropped = [
        i
        for i in state.catalog.indexes_for(table.key)
        if any(mentions_column(k, table, name) for k in i.keys)
    ]
    for index in dropped:
        state.catalog = state.catalog.without_index(index.key)
        state.notes.append(f"index {index.key} dropped with the column")
        if index.full_text:
            state.statements += drop_statements(index)
    in_place = (
        new.unique == table.unique
        and new.foreign_keys == table.foreign_keys
        and new.checks == table.checks
    )
    if in_place and not dropped:
        state.statements.append(f"ALTER TABLE {state.quoted} DROP COLUMN {quote_name(name)}")
    state.replace_table(new, rebuild=not (in_place and not dropped))


def _names_in(sql: str) -> set[str]:
    return {c.name.lower() for c in sqlglot.parse_one(sql, read="sqlite").find_all(exp.Column)}


def _drop_constraint(state: _Alter, name: str, *, exists: bool) -> None:
    table = state.table
    if name not in table.constraint_names():
        if exists:
            state.notes.append(f'constraint "{name}" does not exist, skipped')
            return
        raise StatementError(f'constraint "{name}" of relation "{table.key}" does not exist')
    new = replace(
        table,
        unique=tuple(u for u in table.unique if u.name != name),
        foreign_keys=tuple(f for f in table.foreign_keys if f.name != name),
        checks=tuple(c for c in table.checks if c.name != name),
    )
    if table.primary_key_name == name:
        new = replace(new, primary_key=(), primary_key_name="")
    state.replace_table(new, rebuild=True)


def _add_constraint(state: _Alter, action: exp.Expr) -> None:
    draft = state.draft()
    for constraint in action.expressions:
        add_table_constraint(draft, constraint, state.catalog)
    state.replace_table(state.from_draft(draft), rebuild=True)


def _rename_column(state: _Alter, action: exp.Expr) -> None:
    table = state.table
    old, new = identifier_name(action.this), identifier_name(action.args["to"])
    if table.column(old) is None:
        raise StatementError(f'column "{old}" does not exist')
    if table.column(new) is not None:
        raise StatementError(f'column "{new}" of relation "{table.key}" already exists')

    def swap(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if n == old else n for n in names)

    def moved(sql: str) -> str:
        return rename_column_in_expression(sql, table, old, new)

    renamed = replace(
        table,
        columns=tuple(
            replace(
                c,
                name=new if c.name == old else c.name,
                generated=moved(c.generated) if c.generated else None,
            )
            for c in table.columns
        ),
        primary_key=swap(table.primary_key),
        unique=tuple(replace(u, columns=swap(u.columns)) for u in table.unique),
        foreign_keys=tuple(replace(f, columns=swap(f.columns)) for f in table.foreign_keys),
        checks=tuple(replace(c, sqlite=moved(c.sqlite)) for c in table.checks),
        replica_index_columns=swap(table.replica_index_columns),
    )
    state.statements.append(
        f"ALTER TABLE {state.quoted} RENAME COLUMN {quote_name(old)} TO {quote_name(new)}"
    )
    state.catalog = follow_column_rename(state.catalog.with_table(renamed), renamed, old, new)
    state.table = state.catalog.tables[renamed.key]


def _rename_table(state: _Alter, action: exp.Expr) -> None:
    schema, name = table_ref(action.this)
    if action.this.args.get("db") and schema != state.table.schema:
        raise StatementError("rename to cannot move a table to another schema")
    renamed = replace(state.table, name=name)
    if renamed.sqlite_name.lower() in state.catalog.relation_sqlite_names():
        raise StatementError(f'relation "{renamed.key}" already exists')
    state.statements.append(
        f"ALTER TABLE {state.quoted} RENAME TO {quote_name(renamed.sqlite_name)}"
    )
    state.catalog = follow_table_rename(state.catalog, state.table, renamed)
    state.table = state.catalog.tables[renamed.key]


def _alter_column(state: _Alter, action: exp.Expr) -> None:
    table = state.table
    name = identifier_name(action.this)
    column = table.column(name)
    if column is None:
        raise StatementError(f'column "{name}" of relation "{table.key}" does not exist')
    copy = None
    if action.args.get("dtype") is not None:
        if action.args.get("using"):
            raise StatementError("alter column ... type ... using is not supported")
        typed, serial = column_type(action.args["dtype"], state.catalog)
        if serial or not _convertible(column, typed):
            raise StatementError(
                f"changing {name} from {column.pg_type} to {typed.pg_type} is not supported"
            )
        changed = replace(
            column,
            pg_type=typed.pg_type,
            array_dims=typed.array_dims,
            enum_values=typed.enum_values,
        )
        copy = {c.name: quote_name(c.name) for c in table.columns if not c.generated}
        if changed.sqlite_type != column.sqlite_type:
            copy[name] = f"CAST({quote_name(name)} AS {changed.sqlite_type})"
    elif action.args.get("default") is not None:
        changed = replace(
            column, default=column_default(action.args["default"], column, state.catalog)
        )
    elif action.args.get("drop") and action.args.get("allow_null"):
        if name in table.primary_key:
            raise StatementError(f'column "{name}" is in a primary key')
        changed = replace(column, nullable=True)
    elif action.args.get("drop"):
        changed = replace(column, default=None)
    elif action.args.get("allow_null") is False:
        changed = replace(column, nullable=False)
    else:
        raise StatementError(f"unsupported alter column action: {action.sql(dialect='postgres')}")
    columns = tuple(changed if c.name == name else c for c in table.columns)
    state.replace_table(replace(table, columns=columns), rebuild=True, copy=copy)


def _convertible(old: Column, new: Column) -> bool:
    if old.array_dims or new.array_dims or old.enum_values or new.enum_values:
        return (old.pg_type, old.array_dims) == (new.pg_type, new.array_dims)
    families = (_NUMBERS, _TEXTS, {"json", "jsonb"})
    same_family = any(old.base_type in f and new.base_type in f for f in families)
    return (
        same_family
        or (old.base_type in _NUMBERS and new.base_type in _TEXTS)
        or old.base_type == new.base_type
    )


_ACTIONS = {
    exp.ColumnDef: _add_column,
    exp.Drop: _drop,
    exp.AddConstraint: _add_constraint,
    exp.RenameColumn: _rename_column,
    exp.AlterRename: _rename_table,
    exp.AlterColumn: _alter_column,
}
