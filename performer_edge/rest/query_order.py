"""`order=` parsed: `c1.desc.nullsfirst,c2`, JSON paths, and `rel(col).asc` for to-one embeds.

Pure; imports only the scanner and the AST.
"""

# Theory of operation: recursive descent over one Cursor.
#
#     order := term {"," term}
#     term  := (relation "(" field ")" | field) [".asc" | ".desc"] [".nullsfirst" | ".nullslast"]
#
# A term is read as `relation(field)` first and as a plain field if that fails, so an error is
# reported where the plain reading went wrong (as PostgREST does).

from __future__ import annotations

from typing import cast

from performer_edge.rest.query_ast import Direction, NullsOrder, OrderTerm
from performer_edge.rest.query_scan import (
    DELIMITER,
    Cursor,
    Failure,
    field_continuations,
    read_field,
    read_field_name,
    run,
)

DIRECTIONS = ("asc", "desc")
NULLS = ("nullsfirst", "nullslast")


def parse_order(text: str) -> list[OrderTerm]:
    return run(_read_order, text, "order")


def _read_order(cursor: Cursor) -> list[OrderTerm]:
    terms = [_read_term(cursor)]
    while cursor.take(","):
        terms.append(_read_term(cursor))
    return terms


def _read_term(cursor: Cursor) -> OrderTerm:
    cursor.skip_blanks()
    start = cursor.pos
    term = _read_relation_term(cursor)
    if term is None:
        cursor.pos = start
        field = read_field(cursor)
        term = OrderTerm(field)
        continuations = field_continuations(cursor, field)
    else:
        continuations = ()
    term = _read_modifiers(cursor, term, continuations)
    cursor.skip_blanks()
    return term


def _read_relation_term(cursor: Cursor) -> OrderTerm | None:
    """`relation(field)`, or None when the text is not of that shape."""
    try:
        relation = read_field_name(cursor)
        if not cursor.take("("):
            return None
        field = read_field(cursor)
        cursor.skip_blanks()
        if not cursor.take(")"):
            return None
    except Failure:
        return None
    return OrderTerm(field, relation)


def _read_modifiers(cursor: Cursor, term: OrderTerm, continuations: tuple[str, ...]) -> OrderTerm:
    """`.asc`/`.desc` then `.nullsfirst`/`.nullslast`, each optional, then `,` or the end."""
    direction: Direction | None = None
    nulls: NullsOrder | None = None
    words: tuple[str, ...] = (*DIRECTIONS, *NULLS)
    while words and cursor.peek() == ".":
        cursor.pos += 1
        word = next((w for w in words if cursor.looking_at(w)), None)
        if word is None:
            raise cursor.fail_word(words[0], *(f'"{w}"' for w in words))
        cursor.pos += len(word)
        if word in DIRECTIONS:
            direction = cast(Direction, word)
            words = NULLS
        else:
            nulls = cast(NullsOrder, word.removeprefix("nulls"))
            words = ()
        continuations = ()
    cursor.skip_blanks()
    if not (cursor.at_end() or cursor.peek() == ","):
        raise cursor.fail_unless_end(*continuations, *((DELIMITER,) if words else ()), '","')
    return OrderTerm(term.field, term.relation, direction, nulls)
