"""Filters (`col=op.value`, `not.`, `or=(...)`, `and(...)`) → SQLite predicates with Postgres
semantics: typed values, case-sensitive LIKE, jsonb and array operators, full-text search.

Pure; every value is a bound parameter. The scope (compile_select) resolves names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from performer_edge.rest.catalog import Column
from performer_edge.rest.compile_errors import undefined_function, undefined_operator, wrong_type
from performer_edge.rest.compile_fts import TS_MATCH, TS_VECTOR_MATCH
from performer_edge.rest.compile_fts_index import IndexedSearch, SearchIndex
from performer_edge.rest.compile_functions import (
    ARRAY_CONTAINS,
    ARRAY_ORDER,
    ARRAY_OVERLAPS,
    JSON_CONTAINS,
    JSONB_ORDER,
    PG_ILIKE,
    check_regex,
)
from performer_edge.rest.compile_sql import Params
from performer_edge.rest.compile_tsquery import config_name, parse_query
from performer_edge.rest.compile_values import (
    check_like_escape,
    enum_order_sql,
    filter_value,
    is_enum,
    json_filter_value,
    kind_of,
    like_to_glob,
    type_name,
)
from performer_edge.rest.migrate_types import SqliteValue
from performer_edge.rest.query_ast import (
    Compare,
    Condition,
    Field,
    FtsOperator,
    FullTextSearch,
    In,
    Is,
    LogicTree,
    Operation,
    Predicate,
    Quantified,
)
from performer_edge.rest.query_values import like_pattern

COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
# Postgres' spelling of each operator, for 42883 errors.
PG_OPERATORS = {
    "like": "~~", "ilike": "~~*", "match": "~", "imatch": "~*", "cs": "@>", "cd": "<@",
    "ov": "&&", "sl": "<<", "sr": ">>", "nxr": "&<", "nxl": "&>", "adj": "-|-",
}  # fmt: skip
_TEXT_KINDS = ("text", "unknown")


@dataclass(frozen=True)
class Operand:
    """A filtered or ordered expression: its SQL, its Postgres type, whether it can be NULL, and
    the full-text indexes (GIN → FTS5) searching it can use."""

    sql: str
    column: Column
    nullable: bool = True
    search: tuple[SearchIndex, ...] = ()


class FilterScope(Protocol):
    """What a predicate needs from the level it filters."""

    @property
    def params(self) -> Params: ...

    def operand(self, field: Field) -> Operand: ...

    def embedded_exists(self, name: str) -> str | None:
        """`EXISTS (...)` over the embedded resource called `name`, None if there is none."""
        ...


def compile_predicate(predicate: Predicate, scope: FilterScope) -> str:
    if isinstance(predicate, LogicTree):
        joiner = " AND " if predicate.operator == "and" else " OR "
        inner = joiner.join(f"({compile_predicate(c, scope)})" for c in predicate.children)
        return f"NOT ({inner})" if predicate.negated else f"({inner})"
    sql = _condition(predicate, scope)
    return f"NOT ({sql})" if predicate.negated else sql


def _condition(condition: Condition, scope: FilterScope) -> str:
    operation, field = condition.operation, condition.field
    if isinstance(operation, Is) and operation.value == "null" and not field.json_path:
        # `rel=is.null` keeps rows without a related row (`not.is.null` those with one).
        exists = scope.embedded_exists(field.name)
        if exists is not None:
            return f"NOT {exists}"
    return compile_operation(scope.operand(field), operation, scope.params)


def compile_operation(operand: Operand, operation: Operation, params: Params) -> str:
    match operation:
        case Compare(operator, value):
            return _single(operand, operator, value, params)
        case Quantified(operator, quantifier, values):
            parts = ["NULL" if v is None else _single(operand, operator, v, params) for v in values]
            if not parts:
                return "0" if quantifier == "any" else "1"
            joiner = " OR " if quantifier == "any" else " AND "
            return "(" + joiner.join(f"({p})" for p in parts) + ")"
        case In(values):
            if not values:
                return "0"
            collated, typed = _typed_values(operand)
            listed = ", ".join(params.add(typed(v)) for v in values)
            return f"{collated} IN ({listed})"
        case Is(value):
            return _is(operand, value)
        case FullTextSearch(operator, query, config):
            return _full_text(operand, operator, query, config, params)


def _typed_values(operand: Operand) -> tuple[str, Callable[[str], SqliteValue]]:
    """The operand with the collation its type compares by, and the value parser for it."""
    kind = kind_of(operand.column)
    if kind == "json":
        return f"{operand.sql} COLLATE {JSONB_ORDER}", json_filter_value
    if kind == "array":
        return f"{operand.sql} COLLATE {ARRAY_ORDER}", lambda v: filter_value(v, operand.column)
    return operand.sql, lambda v: filter_value(v, operand.column)


def _single(operand: Operand, operator: str, value: str, params: Params) -> str:
    if operator in COMPARISONS and is_enum(operand.column) and operator not in ("eq", "neq"):
        label = filter_value(value, operand.column)
        position = operand.column.enum_values.index(str(label))
        ordinal = enum_order_sql(operand.sql, operand.column, params)
        return f"{ordinal} {COMPARISONS[operator]} {params.add(position)}"
    if operator in COMPARISONS:
        collated, typed = _typed_values(operand)
        return f"{collated} {COMPARISONS[operator]} {params.add(typed(value))}"
    if operator == "isdistinct":
        collated, typed = _typed_values(operand)
        return f"{collated} IS NOT {params.add(typed(value))}"
    if operator in ("like", "ilike", "match", "imatch"):
        return _pattern(operand, operator, value, params)
    if operator in ("cs", "cd", "ov"):
        return _containment(operand, operator, value, params)
    raise undefined_operator(type_name(operand.column), PG_OPERATORS[operator])


def _text_operand(operand: Operand, operator: str) -> str:
    if kind_of(operand.column) not in _TEXT_KINDS or is_enum(operand.column):
        raise undefined_operator(type_name(operand.column), PG_OPERATORS[operator])
    if operand.column.base_type == "char":  # character(n) compares without its padding
        return f"rtrim({operand.sql}, ' ')"
    return operand.sql


def _pattern(operand: Operand, operator: str, value: str, params: Params) -> str:
    subject = _text_operand(operand, operator)
    if operator in ("match", "imatch"):
        pattern = value if operator == "match" else "(?i)" + value
        check_regex(pattern)
        return f"{subject} REGEXP {params.add(pattern)}"
    pattern = like_pattern(value)
    check_like_escape(pattern)
    if operator == "like":  # Postgres' LIKE is case-sensitive; SQLite's GLOB is too
        return f"{subject} GLOB {params.add(like_to_glob(pattern))}"
    if pattern.isascii():  # SQLite's LIKE folds ASCII case, which is all an ASCII pattern needs
        return f"{subject} LIKE {params.add(pattern)} ESCAPE '\\'"
    return f"{PG_ILIKE}({subject}, {params.add(pattern)})"


def _containment(operand: Operand, operator: str, value: str, params: Params) -> str:
    kind = kind_of(operand.column)
    if kind == "json" and operator in ("cs", "cd"):
        bound = params.add(json_filter_value(value))
        left, right = (operand.sql, bound) if operator == "cs" else (bound, operand.sql)
        return f"{JSON_CONTAINS}({left}, {right})"
    if kind == "array":
        bound = params.add(filter_value(value, operand.column))
        if operator == "ov":
            return f"{ARRAY_OVERLAPS}({operand.sql}, {bound})"
        left, right = (operand.sql, bound) if operator == "cs" else (bound, operand.sql)
        return f"{ARRAY_CONTAINS}({left}, {right})"
    raise undefined_operator(type_name(operand.column), PG_OPERATORS[operator])


def _is(operand: Operand, value: str) -> str:
    if value == "null":
        return f"{operand.sql} IS NULL"
    if value == "not_null":
        return f"{operand.sql} IS NOT NULL"
    if kind_of(operand.column) not in ("bool", "unknown"):
        shown = "UNKNOWN" if value == "unknown" else value.upper()
        raise wrong_type(
            f"argument of IS {shown} must be type boolean, not type {type_name(operand.column)}"
        )
    if value == "unknown":
        return f"{operand.sql} IS NULL"
    return f"{operand.sql} IS {value.upper()}"


def _full_text(
    operand: Operand, operator: FtsOperator, query: str, config: str | None, params: Params
) -> str:
    """`col @@ query` for a tsvector column, `to_tsvector(config, col) @@ query` for text: through
    the column's FTS5 index when it has one for the config, else by reading every row."""
    column = operand.column
    is_vector = column.base_type == "tsvector" and not column.array_dims
    if not is_vector and kind_of(column) not in _TEXT_KINDS:
        raise undefined_function(f"to_tsvector(unknown, {type_name(column)})")
    name = config_name(config)
    parsed = parse_query(name, operator, query)  # a syntax error (42601) is raised now

    def scan() -> str:
        function = TS_VECTOR_MATCH if is_vector else TS_MATCH
        kind, text = params.add(operator), params.add(query)
        return f"{function}({params.add(name)}, {kind}, {operand.sql}, {text})"

    index = next((i for i in operand.search if i.config in ("", name)), None)
    if parsed is None or index is None:
        return scan()
    return IndexedSearch(index, operand.sql, scan, params).sql(parsed)
