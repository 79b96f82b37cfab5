"""Filter parameters (`col=op.value`) and logic trees (`or=(…)`, `and=(…)`), parsed.

Pure; imports only the scanner, the AST and query_values.
"""

# Theory of operation: recursive descent over one Cursor per parameter.
#
#     filter    := ["not."] operation
#     operation := "in." list | "is." is_value | "isdistinct." value
#                | fts_op ["(" config ")"] "." value
#                | simple_op "." value
#                | quantifiable_op ["(any)" | "(all)"] "." value     with a quantifier: {…}
#     list      := "(" element {"," element} ")"     element: "quoted" (\ escapes) or up to , )
#     tree      := ["not."] ("and" | "or") "(" (tree | field "." filter) {"," …} ")"
#
# A top-level value is everything after the operator, unparsed. Inside a tree a value is
# `"quoted"`, or `{…}` (no nested braces), or the characters up to `,` or `)`; blanks around
# `(`, `,`, `)` are skipped. A tree child is read as a condition first and as a subtree if
# that fails, which lets a column be called `and` or `or`.

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from performer_edge.rest.query_ast import (
    Compare,
    CompareOperator,
    Condition,
    EmbedPath,
    Field,
    Filter,
    FtsOperator,
    FullTextSearch,
    In,
    Is,
    IsValue,
    LogicOperator,
    LogicTree,
    Operation,
    Predicate,
    QuantifiableOperator,
    Quantified,
    Quantifier,
)
from performer_edge.rest.query_scan import (
    DELIMITER,
    Cursor,
    Failure,
    field_continuations,
    read_field,
    read_identifier,
    read_json_path,
    read_names,
    read_quoted,
    run,
)
from performer_edge.rest.query_values import parse_array_literal

OPERATOR = "operator (eq, gt, ...)"
IS_VALUE = "isVal: (null, not_null, true, false, unknown)"
NEGATION = "negation operator (not)"
LOGIC_OPERATOR = "logic operator (and, or)"
LOGIC_KEYS = ("and", "or")

# How each operator continues after its name.
OPERATOR_KINDS = {
    "in": "list",
    "is": "is",
    "isdistinct": "single",
    **dict.fromkeys(("fts", "plfts", "phfts", "wfts"), "fts"),
    **dict.fromkeys(("neq", "cs", "cd", "ov", "sl", "sr", "nxl", "nxr", "adj"), "single"),
    **dict.fromkeys(("eq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"), "quant"),
}
_LONGEST_FIRST = sorted(OPERATOR_KINDS, key=len, reverse=True)
QUANTIFIERS: tuple[Quantifier, ...] = ("any", "all")
IS_VALUES: tuple[IsValue, ...] = ("null", "not_null", "true", "false", "unknown")

ValueReader = Callable[[Cursor], str]


def parse_filter(key: str, value: str) -> Filter:
    """Parse one filter parameter: `col`, `data->>k`, `rel.col`, or a logic key (`rel.not.or`)."""
    if key.rsplit(".", maxsplit=1)[-1] in LOGIC_KEYS:
        return _parse_logic_filter(key, value)
    embed_path, field = run(_read_tree_path, key, "tree path")
    negated, operation = run(_read_top_level_operation, value, "filter")
    return Filter(Condition(field, operation, negated), embed_path)


def starts_with_operator(value: str) -> bool:
    """Whether `value` reads as a filter at all; on GET /rpc/fn the others are arguments."""
    if value.startswith("not."):
        return True
    name = next((n for n in _LONGEST_FIRST if value.startswith(n)), None)
    return name is not None and value[len(name) : len(name) + 1] in (".", "(")


def _read_tree_path(cursor: Cursor) -> tuple[EmbedPath, Field]:
    names = read_names(cursor)
    field = Field(names[-1], read_json_path(cursor))
    continuations = field_continuations(cursor, field)
    cursor.require_end(*continuations, *(() if field.json_path else ('"."',)))
    return tuple(names[:-1]), field


def _read_top_level_operation(cursor: Cursor) -> tuple[bool, Operation]:
    negated, operation = _read_operation(cursor, _read_rest)
    cursor.skip_blanks()
    cursor.require_end()
    return negated, operation


def _read_rest(cursor: Cursor) -> str:
    value = cursor.text[cursor.pos :]
    cursor.pos = len(cursor.text)
    return value


def _read_operation(cursor: Cursor, read_value: ValueReader) -> tuple[bool, Operation]:
    start = cursor.pos
    negated = cursor.take("not.")
    name = next((n for n in _LONGEST_FIRST if cursor.looking_at(n)), None)
    if name is None:
        raise _no_operator(cursor, start, negated=negated)
    cursor.pos += len(name)
    kind = OPERATOR_KINDS[name]
    try:
        quantifier, config = _read_operator_suffix(cursor, kind)
        if not cursor.take("."):
            raise cursor.fail(DELIMITER)
    except Failure as failure:
        # PostgREST tries each operator as a whole: any slip before the value names them all.
        raise Failure(failure.pos, failure.char, (OPERATOR,)) from None
    if kind == "list":
        return negated, In(_read_list(cursor))
    if kind == "is":
        return negated, Is(_read_is_value(cursor))
    value = read_value(cursor)
    if kind == "fts":
        return negated, FullTextSearch(cast(FtsOperator, name), value, config)
    if quantifier is not None:
        values = parse_array_literal(value)
        return negated, Quantified(cast(QuantifiableOperator, name), quantifier, values)
    return negated, Compare(cast(CompareOperator, name), value)


def _no_operator(cursor: Cursor, start: int, *, negated: bool) -> Failure:
    if negated:
        return cursor.fail_word("in", OPERATOR)
    failure = cursor.fail_word("not", '"not"', OPERATOR)
    if cursor.looking_at("not"):
        failure = failure.merge(cursor.fail(DELIMITER, at=start + 3))
    return failure


def _read_operator_suffix(cursor: Cursor, kind: str) -> tuple[Quantifier | None, str | None]:
    """`(any)`/`(all)` after a quantifiable operator, `(config)` after a text search one."""
    if kind == "quant" and cursor.peek() == "(":
        for quantifier in QUANTIFIERS:
            if cursor.take(f"({quantifier})"):
                return quantifier, None
        cursor.pos += 1
        if cursor.looking_at("any") or cursor.looking_at("all"):
            raise cursor.fail('")"', at=cursor.pos + 3)
        raise cursor.fail_word("any", '"any"', '"all"')
    if kind == "fts" and cursor.take("("):
        config = read_identifier(cursor)
        cursor.require(")")
        return None, config
    return None, None


def _read_list(cursor: Cursor) -> tuple[str, ...]:
    """`(a,"b,c")`; a lone unquoted empty element, `()`, is the empty list."""
    cursor.skip_blanks()
    cursor.require("(")
    cursor.skip_blanks()
    elements = [_read_list_element(cursor)]
    while cursor.take(","):
        elements.append(_read_list_element(cursor))
    if not cursor.take(")"):
        raise cursor.fail('","', '")"')
    if elements == [("", False)]:
        return ()
    return tuple(value for value, _ in elements)


def _read_list_element(cursor: Cursor) -> tuple[str, bool]:
    quoted = _read_quoted_value(cursor)
    if quoted is not None:
        return quoted, True
    return _read_up_to_comma_or_paren(cursor), False


def _read_quoted_value(cursor: Cursor) -> str | None:
    """A `"quoted"` value that ends where a list or tree item ends, else None (not consumed)."""
    if cursor.peek() != '"':
        return None
    start = cursor.pos
    try:
        value = read_quoted(cursor)
    except Failure:
        value = None
    if value is not None and cursor.peek() in ("", ",", ")"):
        return value
    cursor.pos = start
    return None


def _read_up_to_comma_or_paren(cursor: Cursor) -> str:
    start = cursor.pos
    while cursor.peek() not in ("", ",", ")"):
        cursor.pos += 1
    return cursor.text[start : cursor.pos]


def _read_is_value(cursor: Cursor) -> IsValue:
    """`null`, `not_null`, `true`, `false`, `unknown`, each letter in either case."""
    furthest = 0
    for word in IS_VALUES:
        matched = 0
        for want in word:
            if cursor.peek(matched) not in (want, want.upper()):
                break
            matched += 1
        if matched == len(word):
            cursor.pos += matched
            return word
        furthest = max(furthest, matched)
    raise cursor.fail(IS_VALUE, at=cursor.pos + furthest)


# --- logic trees ---------------------------------------------------------------------------------


def _parse_logic_filter(key: str, value: str) -> Filter:
    names = run(_read_logic_path, key, "logic path")
    operator = cast(LogicOperator, names[-1])
    negated = "not" in names[:-1]
    embed_path = tuple(name for name in names[:-1] if name != "not")
    prefix = "not." + operator if negated else operator
    # PostgREST parses `or` + `(…)` as one tree but names only the value in its message.
    tree = run(_read_logic_root, prefix + value, "logic tree", shown=value)
    return Filter(tree, embed_path)


def _read_logic_path(cursor: Cursor) -> list[str]:
    names = read_names(cursor)
    if names[-1] not in LOGIC_KEYS:
        raise cursor.fail(LOGIC_OPERATOR)
    cursor.require_end('"."')
    return names


def _read_logic_root(cursor: Cursor) -> LogicTree:
    tree = _read_subtree(cursor, None)
    cursor.require_end()
    return tree


def _read_tree(cursor: Cursor) -> Predicate:
    start = cursor.pos
    try:
        return _read_condition(cursor)
    except Failure as condition_failure:
        cursor.pos = start
        return _read_subtree(cursor, condition_failure)


def _read_condition(cursor: Cursor) -> Condition:
    field = read_field(cursor)
    continuations = field_continuations(cursor, field)
    cursor.skip_blanks()
    if not cursor.take("."):
        raise cursor.fail(*continuations, DELIMITER)
    negated, operation = _read_operation(cursor, _read_logic_value)
    return Condition(field, operation, negated)


def _read_subtree(cursor: Cursor, condition_failure: Failure | None) -> LogicTree:
    negated = cursor.take("not.")
    operator: LogicOperator
    if cursor.take("and"):
        operator = "and"
    elif cursor.take("or"):
        operator = "or"
    elif cursor.peek() == "o":
        raise cursor.fail_word("or", '"or"')  # PostgREST commits to `or` on its first letter
    elif negated:
        raise cursor.fail_word("and", LOGIC_OPERATOR)
    else:
        failure = cursor.fail_word("and", NEGATION, LOGIC_OPERATOR)
        raise failure if condition_failure is None else condition_failure.merge(failure)
    cursor.skip_blanks()
    cursor.require("(")
    cursor.enter()
    children = [_read_child(cursor)]
    while cursor.take(","):
        children.append(_read_child(cursor))
    if not cursor.take(")"):
        raise cursor.fail('","', '")"')
    cursor.skip_blanks()
    cursor.leave()
    return LogicTree(operator, tuple(children), negated)


def _read_child(cursor: Cursor) -> Predicate:
    cursor.skip_blanks()
    child = _read_tree(cursor)
    cursor.skip_blanks()
    return child


def _read_logic_value(cursor: Cursor) -> str:
    quoted = _read_quoted_value(cursor)
    if quoted is not None:
        return quoted
    if cursor.peek() == "{":
        close = cursor.text.find("}", cursor.pos)
        if close != -1 and "{" not in cursor.text[cursor.pos + 1 : close]:
            start, cursor.pos = cursor.pos, close + 1
            return cursor.text[start : cursor.pos]
    return _read_up_to_comma_or_paren(cursor)
