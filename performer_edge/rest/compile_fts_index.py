"""Full-text search through an FTS5 table: the document a GIN index stores for a row, and a tsquery
as SQL over that table (`MATCH`), so a search reads the index instead of every row.

Pure. The FTS5 table does not tokenize text itself: it holds the row's lexemes as `compile_fts`
computes them (stop words dropped, Porter stems), one token per tsvector position, so MATCH finds
exactly the rows the scan finds. FTS5's own porter tokenizer would stem differently, index stop
words and shift positions. Tokens are ASCII so FTS5's tokenizer keeps them whole: a lexeme of
`[a-z0-9]` is itself, any other is `_` and its UTF-8 in hex, an empty position is `_`, and a NULL
document is `_0` (an odd-length hex, never a lexeme). The tokenizer must count `_` as a letter.

A query becomes SQL in one of three shapes: one MATCH when FTS5's syntax says it all; MATCHes
joined with NOT/AND/OR when `!` needs it; and a MATCH narrowing the rows plus the scan's
`ts_match` deciding, for phrases FTS5 cannot say (`<2>`, prefixes in phrases). User text only
ever reaches FTS5 as these quoted tokens, bound as parameters: it cannot make an FTS5 syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from performer_edge.rest.catalog import Catalog, Table, sqlite_table_name
from performer_edge.rest.compile_sql import Params, quote_name
from performer_edge.rest.compile_tsquery import Both, Lexeme, Not, Phrase, TsQuery
from performer_edge.rest.migrate_runtime import FTS_NULL_TOKEN
from performer_edge.rest.tsvector import MAX_POSITION, Lexemes, parse_tsvector

GAP_TOKEN = "_"
NULL_TOKEN = f'"{FTS_NULL_TOKEN}"'  # as an FTS5 query
_PLAIN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class SearchIndex:
    """An FTS5 table a filter on a column can use, for the queries of one configuration."""

    table: str  # quoted SQLite name
    rowid: str  # SQL of the filtered row's rowid
    config: str  # "" for a tsvector column: its lexemes are made, queries of any config fit


def search_indexes(
    catalog: Catalog, table: Table, column: str, rowid: str
) -> tuple[SearchIndex, ...]:
    """The GIN indexes of `table` a filter on `column` can use."""
    return tuple(
        SearchIndex(quote_name(sqlite_table_name(i.schema, i.name)), rowid, i.search_config)
        for i in catalog.indexes_for(table.key)
        if i.full_text and i.search_column == column
    )


def fts_token(lexeme: str) -> str:
    return lexeme if _PLAIN.fullmatch(lexeme) else "_" + lexeme.encode().hex()


def fts_document(vector: object) -> str:
    """The FTS5 document of a row whose tsvector is `vector` (its text form); NULL → `_0`."""
    if vector is None:
        return FTS_NULL_TOKEN
    return _document(parse_tsvector(str(vector)))


def _document(lexemes: Lexemes) -> str:
    slots: list[list[str]] = []
    loose: list[str] = []  # lexemes without positions (a stripped tsvector) go after the rest
    for lexeme, positions in lexemes.items():
        if not positions:
            loose.append(fts_token(lexeme))
        for position in positions:
            while len(slots) < position:
                slots.append([])
            slots[position - 1].append(fts_token(lexeme))
    # Only position 16383, where Postgres piles up every later word, can hold several lexemes.
    words = [" ".join(sorted(slot)) if slot else GAP_TOKEN for slot in slots[:MAX_POSITION]]
    return " ".join(words + loose)


def _term(lexeme: Lexeme) -> str | None:
    """One lexeme as an FTS5 expression; None when weights make it unmatchable here."""
    if lexeme.weights and "d" not in lexeme.weights:
        return None
    token = fts_token(lexeme.word)
    if not lexeme.prefix:
        return f'"{token}"'
    encoded = '"_' + lexeme.word.encode().hex() + '"*'
    # A prefix of a plain lexeme may continue with a letter outside [a-z0-9], which is encoded.
    return f'("{token}"* OR {encoded})' if token == lexeme.word else encoded


def _phrase_words(query: TsQuery) -> list[Lexeme] | None:
    """The words of `a <-> b <-> c` (left-nested, adjacent, no prefixes), else None."""
    if isinstance(query, Lexeme):
        return [query]
    if isinstance(query, Phrase) and query.distance == 1 and isinstance(query.right, Lexeme):
        left = _phrase_words(query.left)
        return None if left is None else [*left, query.right]
    return None


def fts5_query(query: TsQuery) -> str | None:
    """The FTS5 query matching exactly the documents `query` matches, None when FTS5 cannot say
    it (a lone `!`, a phrase with gaps or prefixes)."""
    match query:
        case Lexeme():
            return _term(query)
        case Phrase():
            words = _phrase_words(query)
            if words is None or any(w.prefix or w.weights for w in words):
                return None
            return " + ".join(f'"{fts_token(w.word)}"' for w in words)
        case Both("&", left, Not(right)) | Both("&", Not(right), left):
            kept, dropped = fts5_query(left), fts5_query(right)
            return None if kept is None or dropped is None else f"({kept}) NOT ({dropped})"
        case Both(operator, left, right):
            both = fts5_query(left), fts5_query(right)
            if both[0] is None or both[1] is None:
                return None
            return f"({both[0]}) {'AND' if operator == '&' else 'OR'} ({both[1]})"
    return None


def necessary_query(query: TsQuery) -> str | None:
    """An FTS5 query every match of `query` also matches, None when there is none (`!a`)."""
    exact = fts5_query(query)
    if exact is not None:
        return exact
    match query:
        case Lexeme(word):
            return f'"{fts_token(word)}"'
        case Phrase(left, right) | Both("&", left, right):
            parts = [p for p in (necessary_query(left), necessary_query(right)) if p is not None]
            return " AND ".join(f"({p})" for p in parts) or None
        case Both(_, left, right):
            either = necessary_query(left), necessary_query(right)
            if either[0] is None or either[1] is None:
                return None
            return f"({either[0]}) OR ({either[1]})"
    return None


class IndexedSearch:
    """SQL of one filter over `index`. `document` is the searched value's SQL (NULL → NULL) and
    `recheck` gives the scan's predicate for it, used only where FTS5 cannot decide alone."""

    def __init__(
        self, index: SearchIndex, document: str, recheck: Callable[[], str], params: Params
    ) -> None:
        self.index = index
        self.document = document
        self.recheck = recheck
        self.params = params

    def _rows(self, fts_query: str) -> str:
        table = self.index.table
        bound = self.params.add(fts_query)
        return f"{self.index.rowid} IN (SELECT rowid FROM {table} WHERE {table} MATCH {bound})"

    def _composed(self, query: TsQuery) -> str | None:
        exact = fts5_query(query)
        if exact is not None:
            return self._rows(exact)
        match query:
            case Not(child):
                inner = self._composed(child)
                return None if inner is None else f"NOT ({inner})"
            case Both(operator, left, right):
                parts = self._composed(left), self._composed(right)
                if parts[0] is None or parts[1] is None:
                    return None
                return f"({parts[0]} {'AND' if operator == '&' else 'OR'} {parts[1]})"
        return None

    def sql(self, query: TsQuery) -> str:
        """The predicate: NULL for a NULL document, like `to_tsvector(NULL) @@ q` (so that
        `not.fts` leaves such rows out), else whether the document matches."""
        is_null = f"CASE WHEN {self.document} IS NULL THEN NULL ELSE 1 END"
        exact = fts5_query(query)
        if exact is not None:
            # The index finds NULL documents too (`_0`) so that the lookup stays a plain
            # `rowid IN (...)` SQLite can drive the scan with; `is_null` then makes them NULL.
            return f"{self._rows(f'({exact}) OR {NULL_TOKEN}')} AND {is_null}"
        composed = self._composed(query)
        if composed is not None:
            return f"CASE WHEN {self.document} IS NULL THEN NULL ELSE {composed} END"
        narrowing = necessary_query(query)
        if narrowing is None:
            return self.recheck()
        return f"{self._rows(f'({narrowing}) OR {NULL_TOKEN}')} AND {self.recheck()}"
