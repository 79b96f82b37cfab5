"""`select=` parsed: columns, casts, JSON paths, aggregates, embeds and spreads at any depth.

Pure; imports only the scanner and the AST.
"""

# Theory of operation: recursive descent over one Cursor, one function per rule. Blanks
# around items and punctuation are skipped; names keep inner spaces (`first name`), as in
# PostgREST.
#
#     items    := [item {"," item}]
#     item     := "..." relation                     spread: columns lifted into the parent
#               | [alias ":"] relation               embed: nested under alias or relation
#               | "*"
#               | [alias ":"] "count()" ["::" cast]
#               | [alias ":"] field ["::" cast] ["." aggregate "()" ["::" cast]]
#     relation := name {"!" (hint | "inner" | "left")} "(" items ")"
#     field    := name {("->" | "->>") (key | index)}
#
# An item is an embed when `[alias:] name !params` is followed by `(`; otherwise it is re-read
# as a column, so a column error is reported where the column went wrong (as PostgREST does).

from __future__ import annotations

from typing import cast as typing_cast

from performer_edge.rest.query_ast import (
    Aggregate,
    JoinType,
    SelectColumn,
    SelectCount,
    SelectEmbed,
    SelectItem,
    SelectSpread,
    SelectStar,
)
from performer_edge.rest.query_scan import (
    LETTER_OR_DIGIT,
    Cursor,
    Failure,
    field_continuations,
    is_identifier_char,
    read_field,
    read_field_name,
    read_identifier,
    run,
)

AGGREGATES: tuple[Aggregate, ...] = ("sum", "avg", "count", "max", "min")
ITEM_ENDS = ('")"', '","')


def parse_select(text: str) -> list[SelectItem]:
    """Parse a `select` value; `""` selects nothing, an absent `select` means `*` (see Query)."""
    return run(_read_select, text, "select parameter")


def _read_select(cursor: Cursor) -> list[SelectItem]:
    items = _read_items(cursor, nested=False)
    cursor.require_end('","')
    return items


def _read_items(cursor: Cursor, *, nested: bool) -> list[SelectItem]:
    cursor.skip_blanks()
    if cursor.at_end() or (nested and cursor.peek() == ")"):
        return []
    items = [_read_item(cursor)]
    cursor.skip_blanks()
    while cursor.take(","):
        items.append(_read_item(cursor))
        cursor.skip_blanks()
    return items


def _read_item(cursor: Cursor) -> SelectItem:
    cursor.skip_blanks()
    if cursor.take("..."):
        relation = read_field_name(cursor)
        hint, join = _read_embed_params(cursor)
        cursor.skip_blanks()
        cursor.require("(")
        return SelectSpread(relation, _read_nested_items(cursor), hint, join)
    start = cursor.pos
    embed = _read_embed_head(cursor)
    if embed is None:
        cursor.pos = start
        return _read_column(cursor)
    alias, relation, hint, join = embed
    return SelectEmbed(relation, _read_nested_items(cursor), alias, hint, join)


_EmbedHead = tuple[str | None, str, str | None, JoinType | None]


def _read_embed_head(cursor: Cursor) -> _EmbedHead | None:
    """`alias:relation!hint!inner(` up to and including `(`, or None if this is no embed."""
    try:
        alias = _read_alias(cursor)
        name_start = cursor.pos
        relation = read_field_name(cursor)
        if relation == "count" and cursor.text[name_start] != '"':
            return None  # `count()` is the aggregate, never a relation
        hint, join = _read_embed_params(cursor)
    except Failure:
        return None
    cursor.skip_blanks()
    if not cursor.take("("):
        return None
    return alias, relation, hint, join


def _read_embed_params(cursor: Cursor) -> tuple[str | None, JoinType | None]:
    """`!hint`, `!inner`, `!left`, `!hint!inner`: at most one hint and one join type."""
    hint: str | None = None
    join: JoinType | None = None
    while cursor.peek() == "!":
        bang = cursor.pos
        cursor.pos += 1
        quoted = cursor.peek() == '"'
        name = read_field_name(cursor)
        if not quoted and name in ("inner", "left"):
            if join is not None:
                raise cursor.fail('"("', at=bang)
            join = typing_cast(JoinType, name)
        else:
            if hint is not None:
                raise cursor.fail('"("', at=bang)
            hint = name
    return hint, join


def _read_nested_items(cursor: Cursor) -> tuple[SelectItem, ...]:
    cursor.enter()
    items = _read_items(cursor, nested=True)
    if not cursor.take(")"):
        raise cursor.fail('","', '")"')
    cursor.leave()
    return tuple(items)


def _read_alias(cursor: Cursor) -> str | None:
    """`alias:` (but not the `::` of a cast), or None with the cursor left where it was."""
    start = cursor.pos
    if cursor.peek() != '"' and not is_identifier_char(cursor.peek()):
        return None
    try:
        alias = read_field_name(cursor)
    except Failure:
        cursor.pos = start
        return None
    cursor.skip_blanks()
    if cursor.peek() == ":" and cursor.peek(1) != ":":
        cursor.pos += 1
        cursor.skip_blanks()
        return alias
    cursor.pos = start
    return None


def _read_column(cursor: Cursor) -> SelectItem:
    cursor.skip_blanks()
    if cursor.take("*"):
        _require_item_end(cursor)
        return SelectStar()
    alias = _read_alias(cursor)
    if cursor.take("count()"):
        count_cast = _read_cast(cursor)
        _require_item_end(cursor, *(LETTER_OR_DIGIT if count_cast else ('"::"',)))
        return SelectCount(alias, count_cast)
    field = read_field(cursor)
    continuations = field_continuations(cursor, field)
    cursor.skip_blanks()
    column_cast = _read_cast(cursor)
    if column_cast is not None:
        continuations = LETTER_OR_DIGIT
    aggregate = _read_aggregate(cursor)
    if aggregate is None:
        _require_item_end(cursor, *continuations, *(() if column_cast else ('"::"',)), '"."')
        return SelectColumn(field, alias, column_cast)
    aggregate_cast = _read_cast(cursor)
    _require_item_end(cursor, *(LETTER_OR_DIGIT if aggregate_cast else ('"::"',)))
    return SelectColumn(field, alias, column_cast, aggregate, aggregate_cast)


def _read_cast(cursor: Cursor) -> str | None:
    cursor.skip_blanks()
    if not cursor.take("::"):
        return None
    cursor.skip_blanks()
    return read_identifier(cursor)


def _read_aggregate(cursor: Cursor) -> Aggregate | None:
    cursor.skip_blanks()
    for aggregate in AGGREGATES:
        if cursor.take(f".{aggregate}()"):
            return aggregate
    return None


def _require_item_end(cursor: Cursor, *continuations: str) -> None:
    cursor.skip_blanks()
    if not (cursor.at_end() or cursor.peek() in (",", ")")):
        raise cursor.fail_unless_end(*continuations, *ITEM_ENDS)
