"""Full-text search documents: `to_tsvector(config, text)`, the tsvector text form Postgres prints
(`'cat':1 'dog':3`), and `document @@ query` by reading every row (`ts_match`, `ts_vector_match`).

Pure. A document's words (letters and digits, `compile_stem.WORD`) are lower-cased, and for the
`english` config stop words dropped (they keep their positions) and words Porter-stemmed; `simple`
and every other built-in config only lower-case. Columns with a GIN index are searched through
FTS5 instead (`compile_fts_index`), with the same lexemes and so the same results.
"""

from __future__ import annotations

from collections.abc import Callable

from performer_edge.rest.compile_stem import WORD, normalize
from performer_edge.rest.compile_tsquery import (
    KINDS,
    Both,
    Lexeme,
    Not,
    Phrase,
    TsQuery,
    parse_query,
)
from performer_edge.rest.migrate_types import InvalidValue
from performer_edge.rest.tsvector import (
    MAX_POSITION,
    MAX_POSITIONS,
    Lexemes,
    parse_tsvector,
    tsvector_text,
)

TS_MATCH = "ts_match"  # (config, kind, text, query): to_tsvector(config, text) @@ query
TS_VECTOR_MATCH = "ts_vector_match"  # (config, kind, tsvector, query): tsvector @@ query


def document_lexemes(document: str, config: str) -> Lexemes:
    """to_tsvector: each lexeme with its 1-based word positions."""
    lexemes: Lexemes = {}
    for position, match in enumerate(WORD.finditer(document), start=1):
        lexeme = normalize(match.group(), config)
        if lexeme is not None:
            positions = lexemes.setdefault(lexeme, [])
            capped = min(position, MAX_POSITION)
            if len(positions) < MAX_POSITIONS and (not positions or positions[-1] != capped):
                positions.append(capped)
    return lexemes


def to_tsvector(config: str | None, document: object) -> str | None:
    """The SQLite function a translated `to_tsvector(config, text)` calls; NULL in, NULL out."""
    if config is None or document is None:
        return None
    return tsvector_text(document_lexemes(str(document), config))


def _positions(query: TsQuery, lexemes: Lexemes) -> set[int]:
    """Where the query matches, by the position of its last word (what `<->` needs)."""
    match query:
        case Lexeme(word, prefix, weights):
            if weights and "d" not in weights:  # to_tsvector gives every lexeme weight D
                return set()
            if prefix:
                return {p for lexeme, ps in lexemes.items() if lexeme.startswith(word) for p in ps}
            return set(lexemes.get(word, ()))
        case Phrase(left, right, distance):
            ends = _positions(left, lexemes)
            # The right side must start `distance` after the left ends: `a <-> (b <-> c)` is
            # `a b c`, so a right-hand phrase's own span comes off its end position.
            offset = distance + _span(right)
            return {p for p in _positions(right, lexemes) if p - offset in ends}
        case Both("|", left, right):
            return _positions(left, lexemes) | _positions(right, lexemes)
        case Both(_, left, right):
            found_left, found_right = _positions(left, lexemes), _positions(right, lexemes)
            return found_left | found_right if found_left and found_right else set()
        case Not(child):
            return set() if _matches(child, lexemes) else {p for ps in lexemes.values() for p in ps}


def _span(query: TsQuery) -> int:
    """How many positions a phrase covers past its first word (0 for one word; Postgres also
    measures `|`, `&` and `!` inside a phrase by their left side)."""
    match query:
        case Phrase(left, right, distance):
            return _span(left) + distance + _span(right)
        case Both(_, left, _) | Not(left):
            return _span(left)
    return 0


def _matches(query: TsQuery, lexemes: Lexemes) -> bool:
    match query:
        case Lexeme(word, prefix, weights):
            if weights and "d" not in weights:
                return False
            if prefix:
                return any(lexeme.startswith(word) for lexeme in lexemes)
            return word in lexemes
        case Not(child):
            return not _matches(child, lexemes)
        case Both("&", left, right):
            return _matches(left, lexemes) and _matches(right, lexemes)
        case Both(_, left, right):
            return _matches(left, lexemes) or _matches(right, lexemes)
        case _:
            return bool(_positions(query, lexemes))


def _match(
    config: str | None, kind: str, query: str | None, lexemes: Callable[[str], Lexemes]
) -> int | None:
    if config is None or query is None:
        return None
    parsed = parse_query(config, kind if kind in KINDS else "fts", query)
    return 0 if parsed is None else int(_matches(parsed, lexemes(config)))


def ts_match(config: str | None, kind: str, document: object, query: str | None) -> int | None:
    """`to_tsvector(config, document) @@ <kind>(config, query)`; NULL in, NULL out."""
    if document is None:
        return None
    return _match(config, kind, query, lambda name: document_lexemes(str(document), name))


def ts_vector_match(config: str | None, kind: str, vector: object, query: str | None) -> int | None:
    """`vector @@ <kind>(config, query)` for a tsvector column; NULL in, NULL out."""
    if vector is None:
        return None
    return _match(config, kind, query, lambda _: _vector_lexemes(str(vector)))


def _vector_lexemes(vector: str) -> Lexemes:
    try:
        return parse_tsvector(vector)
    except ValueError as error:  # only a value written around the type checks could be bad
        raise InvalidValue(str(error)) from error
