"""The query AST back to PostgREST syntax: the parsers' inverse, for tests and debugging output.

Names are quoted unless plainly safe; values only where the grammar needs it. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from performer_edge.rest.query_ast import (
    Compare,
    Condition,
    Field,
    Filter,
    FullTextSearch,
    In,
    Is,
    LogicTree,
    Operation,
    OrderTerm,
    Predicate,
    Quantified,
    SelectColumn,
    SelectCount,
    SelectEmbed,
    SelectItem,
    SelectSpread,
    SelectStar,
)

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARRAY_IN_TREE = re.compile(r"\{[^{}]*\}")
# Words with a meaning somewhere in the grammar: quoted so a name never reads as one.
KEYWORDS = frozenset(
    {"and", "or", "not", "count", "inner", "left", "select", "columns", "on_conflict", "order"}
    | {"limit", "offset"}
)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_name(name: str) -> str:
    return name if _PLAIN.fullmatch(name) and name not in KEYWORDS else quote(name)


def render_field(field: Field) -> str:
    path = "".join(
        step.arrow
        + (str(step.operand) if isinstance(step.operand, int) else _render_json_key(step.operand))
        for step in field.json_path
    )
    return render_name(field.name) + path


def _render_json_key(key: str) -> str:
    return key if _PLAIN.fullmatch(key) else quote(key)


# --- select --------------------------------------------------------------------------------------


def render_select(items: Iterable[SelectItem]) -> str:
    return ",".join(_render_select_item(item) for item in items)


def _render_select_item(item: SelectItem) -> str:
    match item:
        case SelectStar():
            return "*"
        case SelectCount(alias, cast):
            return _alias(alias) + "count()" + _cast(cast)
        case SelectColumn(field, alias, cast, aggregate, aggregate_cast):
            rendered = _alias(alias) + render_field(field) + _cast(cast)
            if aggregate is not None:
                rendered += f".{aggregate}()" + _cast(aggregate_cast)
            return rendered
        case SelectEmbed(relation, items, alias, hint, join):
            return _alias(alias) + _render_relation(relation, items, hint, join)
        case SelectSpread(relation, items, hint, join):
            return "..." + _render_relation(relation, items, hint, join)


def _render_relation(
    relation: str, items: tuple[SelectItem, ...], hint: str | None, join: str | None
) -> str:
    params = ("!" + render_name(hint) if hint is not None else "") + (f"!{join}" if join else "")
    return f"{render_name(relation)}{params}({render_select(items)})"


def _alias(alias: str | None) -> str:
    return "" if alias is None else render_name(alias) + ":"


def _cast(cast: str | None) -> str:
    return "" if cast is None else "::" + cast


# --- filters -------------------------------------------------------------------------------------


def render_filter(query_filter: Filter) -> tuple[str, str]:
    """The `(key, value)` query pair for a filter."""
    path = "".join(render_name(name) + "." for name in query_filter.embed_path)
    predicate = query_filter.predicate
    if isinstance(predicate, Condition):
        value = render_operation(predicate.operation, negated=predicate.negated)
        return path + render_field(predicate.field), value
    key = path + ("not." if predicate.negated else "") + predicate.operator
    return key, "(" + ",".join(render_predicate(child) for child in predicate.children) + ")"


def render_predicate(predicate: Predicate) -> str:
    """A predicate as written inside `or=(…)`."""
    if isinstance(predicate, LogicTree):
        children = ",".join(render_predicate(child) for child in predicate.children)
        return ("not." if predicate.negated else "") + f"{predicate.operator}({children})"
    operation = render_operation(predicate.operation, negated=predicate.negated, in_tree=True)
    return render_field(predicate.field) + "." + operation


def render_operation(operation: Operation, *, negated: bool = False, in_tree: bool = False) -> str:
    value = _tree_value if in_tree else str
    match operation:
        case Compare(operator, text):
            rendered = f"{operator}.{value(text)}"
        case Quantified(operator, quantifier, values):
            rendered = f"{operator}({quantifier}).{value(render_array_literal(values))}"
        case In(values):
            rendered = "in.(" + ",".join(_list_element(element) for element in values) + ")"
        case Is(is_value):
            rendered = f"is.{is_value}"
        case FullTextSearch(operator, query, config):
            language = "" if config is None else f"({config})"
            rendered = f"{operator}{language}.{value(query)}"
    return ("not." if negated else "") + rendered


def _tree_value(text: str) -> str:
    if _ARRAY_IN_TREE.fullmatch(text):
        return text
    if text.startswith(('"', "{")) or "," in text or ")" in text:
        return quote(text)
    return text


def _list_element(text: str) -> str:
    needs_quotes = text != text.strip(" \t") or text.startswith('"') or "," in text or ")" in text
    return quote(text) if needs_quotes or not text else text


def render_array_literal(values: Iterable[str | None]) -> str:
    """`{a,"b c",NULL}` as Postgres writes it."""
    return "{" + ",".join(_array_element(value) for value in values) + "}"


def _array_element(value: str | None) -> str:
    if value is None:
        return "NULL"
    special = not value or value.upper() == "NULL"
    if special or any(char in '{}",\\' or char.isspace() for char in value):
        return quote(value)
    return value


# --- order ---------------------------------------------------------------------------------------


def render_order(terms: Iterable[OrderTerm]) -> str:
    return ",".join(_render_order_term(term) for term in terms)


def _render_order_term(term: OrderTerm) -> str:
    field = render_field(term.field)
    rendered = field if term.relation is None else f"{render_name(term.relation)}({field})"
    if term.direction is not None:
        rendered += "." + term.direction
    if term.nulls is not None:
        rendered += ".nulls" + term.nulls
    return rendered
