"""tsquery: the queries of `fts`, `plfts`, `phfts` and `wfts` as a tree of lexemes.

Pure. Parses `to_tsquery` (`& | ! <-> <N> :*` and parentheses), `plainto_tsquery` (all words),
`phraseto_tsquery` (words in sequence) and `websearch_to_tsquery` ("quoted phrases", `or`,
`-word`), normalizing words as the configuration does (`compile_stem`). Only `to_tsquery` can fail:
a syntax error is Postgres' 42601.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from performer_edge.rest.compile_stem import WORD, normalize
from performer_edge.rest.migrate_runtime import DEFAULT_TEXT_SEARCH_CONFIG, TEXT_SEARCH_CONFIGS
from performer_edge.rest.migrate_types import InvalidValue

QueryKind = Literal["fts", "plfts", "phfts", "wfts"]
KINDS = ("fts", "plfts", "phfts", "wfts")


def config_name(config: str | None) -> str:
    """The configuration a request names (`pg_catalog.` allowed); unknown ones are 42704."""
    name = (config or DEFAULT_TEXT_SEARCH_CONFIG).lower().removeprefix("pg_catalog.")
    if name not in TEXT_SEARCH_CONFIGS:
        raise InvalidValue(f'text search configuration "{config}" does not exist', code="42704")
    return name


@dataclass(frozen=True, slots=True)
class Lexeme:
    word: str
    prefix: bool = False
    weights: str = ""


@dataclass(frozen=True, slots=True)
class Not:
    child: TsQuery


@dataclass(frozen=True, slots=True)
class Both:
    operator: Literal["&", "|"]
    left: TsQuery
    right: TsQuery


@dataclass(frozen=True, slots=True)
class Phrase:
    left: TsQuery
    right: TsQuery
    distance: int


TsQuery = Lexeme | Not | Both | Phrase


def _phrase_of(words: list[str], config: str) -> TsQuery | None:
    """Words in sequence (`a <-> b`, `<2>` across a stop word); None when all are stop words."""
    query: TsQuery | None = None
    gap = 0
    for word in words:
        lexeme = normalize(word, config)
        gap += 1
        if lexeme is None:
            continue
        node = Lexeme(lexeme)
        query = node if query is None else Phrase(query, node, gap)
        gap = 0
    return query


def _joined(operator: Literal["&", "|"], nodes: list[TsQuery | None]) -> TsQuery | None:
    result: TsQuery | None = None
    for node in nodes:
        if node is not None:
            result = node if result is None else Both(operator, result, node)
    return result


@functools.lru_cache(maxsize=512)
def parse_query(config: str, kind: QueryKind, text: str) -> TsQuery | None:
    """The query a filter value means; None when it has no lexemes (it then matches nothing)."""
    if kind == "plfts":
        return _joined("&", [_phrase_of([w], config) for w in WORD.findall(text)])
    if kind == "phfts":
        return _phrase_of(WORD.findall(text), config)
    if kind == "wfts":
        return _websearch(text, config)
    return _TsQueryParser(text, config).parse()


def _websearch(text: str, config: str) -> TsQuery | None:
    alternatives: list[list[TsQuery | None]] = [[]]
    for match in re.finditer(r'(-?)"([^"]*)"?|(-?)([^\s"]+)', text):
        negated = bool(match.group(1) or match.group(3))
        if match.group(2) is not None:
            node = _phrase_of(WORD.findall(match.group(2)), config)
        elif match.group(4).lower() == "or" and not negated:
            if alternatives[-1]:
                alternatives.append([])
            continue
        else:
            node = _phrase_of(WORD.findall(match.group(4)), config)
        alternatives[-1].append(Not(node) if negated and node is not None else node)
    return _joined("|", [_joined("&", terms) for terms in alternatives])


class _TsQueryParser:
    """to_tsquery's grammar: `|` < `&` < `<->`/`<N>` < `!`, parentheses, `'quoted'` operands."""

    _TOKEN = re.compile(r"\s*(<->|<\d+>|[&|!()]|'(?:[^'\\]|\\.|'')*'|[^\s&|!()<:']+)(:[*a-dA-D]+)?")

    def __init__(self, text: str, config: str) -> None:
        self.text = text
        self.config = config
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while text[position:].strip():
            match = self._TOKEN.match(text, position)
            if match is None:
                raise self._error()
            self.tokens.append((match.group(1), match.group(2) or ""))
            position = match.end()
        self.index = 0

    def _error(self) -> InvalidValue:
        return InvalidValue(f'syntax error in tsquery: "{self.text}"', code="42601")

    def _peek(self) -> str:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else ""

    def parse(self) -> TsQuery | None:
        if not self.tokens:
            return None
        query = self._or()
        if self.index != len(self.tokens):
            raise self._error()
        return query

    def _or(self) -> TsQuery | None:
        nodes = [self._and()]
        while self._peek() == "|":
            self.index += 1
            nodes.append(self._and())
        return _joined("|", nodes)

    def _and(self) -> TsQuery | None:
        nodes = [self._phrase()]
        while self._peek() == "&":
            self.index += 1
            nodes.append(self._phrase())
        return _joined("&", nodes)

    def _phrase(self) -> TsQuery | None:
        left = self._unary()
        while self._peek().startswith("<"):
            token = self._peek()
            distance = 1 if token == "<->" else int(token[1:-1])
            self.index += 1
            right = self._unary()
            both = left is not None and right is not None
            left = Phrase(left, right, distance) if both else left or right  # type: ignore[arg-type]
        return left

    def _unary(self) -> TsQuery | None:
        token = self._peek()
        if token == "!":
            self.index += 1
            child = self._unary()
            return None if child is None else Not(child)
        if token == "(":
            self.index += 1
            inner = self._or()
            if self._peek() != ")":
                raise self._error()
            self.index += 1
            return inner
        if not token or token in "&|)" or token.startswith("<"):
            raise self._error()
        suffix = self.tokens[self.index][1]
        self.index += 1
        if token.startswith("'"):
            token = token[1:-1].replace("''", "'")
        node = _phrase_of(WORD.findall(token), self.config)
        if isinstance(node, Lexeme) and suffix:
            weights = suffix[1:].replace("*", "").lower()
            node = Lexeme(node.word, "*" in suffix, weights)
        return node
