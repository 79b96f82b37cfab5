"""Postgres expressions and queries → SQLite: names, tables, parameters and the walk over the tree.

Pure. Calls, casts, JSON and arrays are in `migrate_calls`, time in `migrate_time`; a node none
of them knows is an error naming the expression, never passed through untranslated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from performer_edge.rest import migrate_calls, migrate_time
from performer_edge.rest.catalog import SYSTEM_TABLES, Catalog, Column, Table, relation_key
from performer_edge.rest.migrate_calls import literal_node
from performer_edge.rest.migrate_source import StatementError, identifier_name, node_line, table_ref
from performer_edge.rest.migrate_types import (
    InvalidValue,
    NotConstant,
    constant_value,
    storage_value,
)

_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# SQLite's keywords (sqlite.org/lang_keywords.html); a name that is one must be quoted.
# fmt: off
_SQLITE_KEYWORDS = frozenset({
    "ABORT", "ACTION", "ADD", "AFTER", "ALL", "ALTER", "ALWAYS", "ANALYZE", "AND", "AS", "ASC",
    "ATTACH", "AUTOINCREMENT", "BEFORE", "BEGIN", "BETWEEN", "BY", "CASCADE", "CASE", "CAST",
    "CHECK", "COLLATE", "COLUMN", "COMMIT", "CONFLICT", "CONSTRAINT", "CREATE", "CROSS",
    "CURRENT", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "DATABASE", "DEFAULT",
    "DEFERRABLE", "DEFERRED", "DELETE", "DESC", "DETACH", "DISTINCT", "DO", "DROP", "EACH",
    "ELSE", "END", "ESCAPE", "EXCEPT", "EXCLUDE", "EXCLUSIVE", "EXISTS", "EXPLAIN", "FAIL",
    "FILTER", "FIRST", "FOLLOWING", "FOR", "FOREIGN", "FROM", "FULL", "GENERATED", "GLOB",
    "GROUP", "GROUPS", "HAVING", "IF", "IGNORE", "IMMEDIATE", "IN", "INDEX", "INDEXED",
    "INITIALLY", "INNER", "INSERT", "INSTEAD", "INTERSECT", "INTO", "IS", "ISNULL", "JOIN", "KEY",
    "LAST", "LEFT", "LIKE", "LIMIT", "MATCH", "MATERIALIZED", "NATURAL", "NO", "NOT", "NOTHING",
    "NOTNULL", "NULL", "NULLS", "OF", "OFFSET", "ON", "OR", "ORDER", "OTHERS", "OUTER", "OVER",
    "PARTITION", "PLAN", "PRAGMA", "PRECEDING", "PRIMARY", "QUERY", "RAISE", "RANGE", "RECURSIVE",
    "REFERENCES", "REGEXP", "REINDEX", "RELEASE", "RENAME", "REPLACE", "RESTRICT", "RETURNING",
    "RIGHT", "ROLLBACK", "ROW", "ROWS", "SAVEPOINT", "SELECT", "SET", "TABLE", "TEMP",
    "TEMPORARY", "THEN", "TIES", "TO", "TRANSACTION", "TRIGGER", "UNBOUNDED", "UNION", "UNIQUE",
    "UPDATE", "USING", "VACUUM", "VALUES", "VIEW", "VIRTUAL", "WHEN", "WHERE", "WINDOW", "WITH",
    "WITHOUT",
})
# fmt: on


def quote_name(name: str) -> str:
    """A SQLite identifier, quoted only when it must be (case, symbols or a keyword)."""
    if _PLAIN_NAME.fullmatch(name) and name.upper() not in _SQLITE_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Scope:
    """What names mean inside an expression being translated."""

    catalog: Catalog
    table: Table | None = None  # its columns are in scope unqualified (policies, checks, DML)
    parameters: Mapping[str, str] = field(default_factory=dict)  # argument name or "$n" → bind name
    function_name: str = ""  # `function_name.arg` also names an argument
    columns_allowed: bool = True  # False in column defaults


# Node classes whose sqlglot SQLite rendering is already right; their children are still visited.
_PASS_THROUGH: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Literal, exp.Boolean, exp.Null, exp.Star, exp.Identifier, exp.Paren, exp.Alias,
        exp.TableAlias, exp.Tuple, exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between,
        exp.Like, exp.ILike, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.DPipe,
        exp.NullSafeEQ, exp.NullSafeNEQ, exp.Exists, exp.Subquery, exp.From, exp.Join, exp.Where,
        exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Union,
        exp.Intersect, exp.Except, exp.With, exp.CTE, exp.Case, exp.If, exp.Coalesce, exp.Nullif,
        exp.Count, exp.Sum, exp.Avg, exp.Max, exp.Min, exp.Length, exp.Lower, exp.Upper, exp.Trim,
        exp.Substring, exp.Replace, exp.StrPosition, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
        exp.Sqrt, exp.Pow, exp.Ln, exp.Exp, exp.Sign, exp.Concat, exp.ConcatWs, exp.Greatest,
        exp.Least, exp.GroupConcat, exp.Window, exp.RowNumber, exp.Returning, exp.RegexpLike,
    }
)  # fmt: skip
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def translate_expression(node: exp.Expr, scope: Scope) -> exp.Expr:
    """The SQLite tree for a Postgres expression or query."""
    return _Translator(scope, node).visit(node)


def expression_sql(node: exp.Expr, scope: Scope) -> str:
    return sqlite_sql(translate_expression(node, scope))


def sqlite_sql(node: exp.Expr) -> str:
    """Render a translated tree as SQLite, quoting names only where SQLite needs it."""
    for identifier in node.find_all(exp.Identifier):
        name = str(identifier.this)
        identifier.set("quoted", quote_name(name) != name)
    return node.sql(dialect="sqlite", normalize_functions="lower")


def referenced_relations(node: exp.Expr, catalog: Catalog) -> tuple[str, ...]:
    """Keys of the catalog tables and views a Postgres query reads, in first-use order."""
    ctes = {identifier_name(c.args["alias"]) for c in node.find_all(exp.CTE)}
    keys: dict[str, None] = {}
    for table in node.find_all(exp.Table):
        if not table.args.get("db") and identifier_name(table.this) in ctes:
            continue
        key = relation_key(*table_ref(table))
        if key in catalog.tables or key in catalog.views:
            keys[key] = None
    return tuple(keys)


def relation_columns(key: str, catalog: Catalog) -> tuple[Column, ...] | None:
    relation = catalog.tables.get(key) or catalog.views.get(key) or SYSTEM_TABLES.get(key)
    return None if relation is None else relation.columns


class _Translator:
    def __init__(self, scope: Scope, root: exp.Expr) -> None:
        self.scope = scope
        self.ctes = {identifier_name(c.args["alias"]) for c in root.find_all(exp.CTE)}
        # Column names visible at each query level, innermost last; level 0 is the scope's table.
        self.visible: list[set[str]] = [
            {c.name for c in scope.table.columns} if scope.table else set()
        ]

    def visit(self, node: exp.Expr) -> exp.Expr:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            result: exp.Expr = handler(self, node)
            return result
        if type(node) in _PASS_THROUGH:
            return self.visit_children(node)
        raise migrate_calls.unsupported(node)

    def visit_children(self, node: exp.Expr) -> exp.Expr:
        args: dict[str, Any] = {}
        for key, value in node.args.items():
            if isinstance(value, exp.Expr):
                args[key] = self.visit(value)
            elif isinstance(value, list):
                args[key] = [self.visit(v) if isinstance(v, exp.Expr) else v for v in value]
            else:
                args[key] = value
        return type(node)(**args)

    def column_of(self, node: exp.Expr) -> Column | None:
        """The scope table's column a (possibly qualified) column reference names."""
        table = self.scope.table
        if not isinstance(node, exp.Column) or table is None or len(self.visible) > 1:
            return None
        qualifier = identifier_name(node.args["table"]) if node.args.get("table") else None
        if qualifier not in (None, table.name, table.sqlite_name):
            return None
        return table.column(identifier_name(node.this))

    def qualify(self, node: exp.Expr) -> exp.Expr:
        """Qualify the scope table's bare columns so they keep their meaning when the expression
        moves into a subquery (an inlined function body)."""
        table = self.scope.table
        for column in list(node.find_all(exp.Column)):
            if column.table:
                continue
            if table is None or len(self.visible) != 1 or column.name not in self.visible[0]:
                raise StatementError("qualify the columns passed to an inlined function", line=1)
            column.set("table", exp.to_identifier(table.sqlite_name))
        return node

    def visit_select(self, node: exp.Expr) -> exp.Expr:
        if node.args.get("locks"):
            raise StatementError(
                "row locks (for update/share) are not supported", line=node_line(node)
            )
        distinct = node.args.get("distinct")
        if isinstance(distinct, exp.Distinct) and distinct.args.get("on"):
            raise StatementError(
                "distinct on (...) is not supported on SQLite", line=node_line(node)
            )
        self.visible.append(self._from_columns(node))
        try:
            return self.visit_children(node)
        finally:
            self.visible.pop()

    def _from_columns(self, select: exp.Expr) -> set[str]:
        names: set[str] = set()
        for table in select.find_all(exp.Table):
            if table.find_ancestor(exp.Select) is not select:
                continue
            if not table.args.get("db") and identifier_name(table.this) in self.ctes:
                continue
            columns = relation_columns(relation_key(*table_ref(table)), self.scope.catalog)
            names |= {c.name for c in columns or ()}
        return names

    def visit_column(self, node: exp.Expr) -> exp.Expr:
        name = identifier_name(node.this) if not isinstance(node.this, exp.Star) else "*"
        qualifier = node.args.get("table")
        parameter = self._parameter(name, qualifier)
        if parameter is not None:
            return exp.Placeholder(this=parameter)
        if not self.scope.columns_allowed:
            raise StatementError(f"a default cannot refer to column {name}", line=node_line(node))
        if node.args.get("db"):
            schema, table_name = identifier_name(node.args["db"]), identifier_name(qualifier)
            qualifier = exp.to_identifier(self._sqlite_relation(schema, table_name, node))
        elif qualifier is not None:
            qualifier = exp.to_identifier(self._local_qualifier(identifier_name(qualifier)))
        elif len(self.visible) == 1 and self.scope.table and name not in self.visible[0]:
            table = self.scope.table.key
            raise StatementError(f'column "{name}" of {table} does not exist', line=node_line(node))
        this = node.this if isinstance(node.this, exp.Star) else exp.to_identifier(name)
        return exp.Column(this=this, table=qualifier)

    def _parameter(self, name: str, qualifier: exp.Expr | None) -> str | None:
        parameters = self.scope.parameters
        if name not in parameters:
            return None
        if qualifier is not None:
            return (
                parameters[name] if identifier_name(qualifier) == self.scope.function_name else None
            )
        shadowed = any(name in level for level in self.visible)
        return None if shadowed else parameters[name]

    def _local_qualifier(self, qualifier: str) -> str:
        table = self.scope.table
        if table is not None and qualifier == table.name:
            return table.sqlite_name
        return qualifier

    def _sqlite_relation(self, schema: str, name: str, node: exp.Expr) -> str:
        key = relation_key(schema, name)
        relation = self.scope.catalog.tables.get(key) or self.scope.catalog.views.get(key)
        relation = relation or SYSTEM_TABLES.get(key)
        if relation is None:
            raise StatementError(f'relation "{key}" does not exist', line=node_line(node))
        return relation.sqlite_name

    def visit_table(self, node: exp.Expr) -> exp.Expr:
        if not node.args.get("db") and identifier_name(node.this) in self.ctes:
            return node.copy()
        extras = [k for k, v in node.args.items() if v and k not in ("this", "db", "alias")]
        if not isinstance(node.this, exp.Identifier) or extras:
            raise migrate_calls.unsupported(node)
        schema, name = table_ref(node)
        sqlite_name = self._sqlite_relation(schema, name, node)
        alias = node.args.get("alias")
        if alias is None and sqlite_name != name:  # keep `objects.name` working for storage.objects
            alias = exp.TableAlias(this=exp.to_identifier(name))
        return exp.Table(this=exp.to_identifier(sqlite_name), alias=alias.copy() if alias else None)

    def visit_comparison(self, node: exp.Expr) -> exp.Expr:
        left, right = node.this, node.expression
        if migrate_calls.quantifier(right) is not None:
            return migrate_calls.any_comparison(self, node)
        for column_side, value_side in ((left, right), (right, left)):
            column = self.column_of(column_side)
            if column is not None and _is_typed_literal(value_side):
                typed = self._typed_literal(value_side, column)
                if typed is not None:
                    pair = (self.visit(column_side), typed)
                    this, other = pair if column_side is left else pair[::-1]
                    return type(node)(this=this, expression=other)
        return self.visit_children(node)

    def _typed_literal(self, node: exp.Expr, column: Column) -> exp.Expr | None:
        """A literal compared with a column, stored the way the column stores it."""
        try:
            value = storage_value(constant_value(node, column, self.scope.catalog), column)
        except NotConstant:
            return None
        except InvalidValue as error:
            raise StatementError(error.message, line=node_line(node)) from error
        return literal_node(value)

    def visit_parameter(self, node: exp.Expr) -> exp.Expr:
        position = f"${node.name}"
        if position not in self.scope.parameters:
            raise StatementError(f"there is no parameter {position}", line=node_line(node))
        return exp.Placeholder(this=self.scope.parameters[position])


def _is_typed_literal(node: exp.Expr) -> bool:
    return (isinstance(node, exp.Literal) and node.is_string) or isinstance(
        node, exp.Boolean | exp.Cast
    )


_HANDLERS: dict[type[exp.Expr], Any] = {
    exp.Select: _Translator.visit_select,
    exp.Column: _Translator.visit_column,
    exp.Table: _Translator.visit_table,
    exp.Parameter: _Translator.visit_parameter,
    **dict.fromkeys(_COMPARISONS, _Translator.visit_comparison),
    **migrate_calls.HANDLERS,
    **migrate_time.HANDLERS,
}
