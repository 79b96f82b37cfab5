"""The tsvector type's text form, `'cat':1 'dog':3,5`: reading it and printing it as Postgres does.

Pure; imports nothing from `performer_edge`. A tsvector is stored in SQLite as this text.
"""

from __future__ import annotations

import re

# Postgres keeps positions below 2^14 (larger ones become 16383) and 256 of them per lexeme.
MAX_POSITION = 16383
MAX_POSITIONS = 256

Lexemes = dict[str, list[int]]  # lexeme -> its ascending 1-based positions (none when stripped)

# One entry: a quoted ('it''s', backslash escapes) or bare lexeme, then its positions, each with
# an optional weight letter.
# Possessive (`++`, `*+`): nothing to backtrack into, which keeps long documents fast.
_ENTRY = re.compile(
    r"\s*+(?:'((?:[^'\\]++|\\.|'')*+)'|((?:[^\s'\\:]++|\\.)++))"
    r"(?::(\d++[A-Da-d]?(?:,\d++[A-Da-d]?)*+))?"
)
_VECTOR = re.compile(f"(?:{_ENTRY.pattern})*\\s*")
_ESCAPE = re.compile(r"\\(.)")


def tsvector_text(lexemes: Lexemes) -> str:
    """Postgres' text form: lexemes in byte order, quoted, each with its positions."""
    entries = []
    for lexeme in sorted(lexemes):
        quoted = "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
        positions = lexemes[lexeme]
        entries.append(quoted + (":" + ",".join(map(str, positions)) if positions else ""))
    return " ".join(entries)


def parse_tsvector(text: str) -> Lexemes:
    """A tsvector in its text form, as printed or as a client writes it (weights are dropped:
    every lexeme here has Postgres' default weight D). ValueError when malformed."""
    if _VECTOR.fullmatch(text) is None:
        raise ValueError(f'syntax error in tsvector: "{text}"')
    lexemes: Lexemes = {}
    for quoted, bare, listed in _ENTRY.findall(text):
        raw = quoted.replace("''", "'") if quoted else bare
        lexeme = _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw
        found = lexemes.setdefault(lexeme, [])
        if listed:
            found += [int(item.rstrip("ABCDabcd")) for item in listed.split(",")]
    for lexeme, positions in lexemes.items():
        if positions and min(positions) < 1:
            raise ValueError(f'wrong position info in tsvector: "{text}"')
        lexemes[lexeme] = sorted({min(p, MAX_POSITION) for p in positions})[:MAX_POSITIONS]
    lexemes.pop("", None)
    return lexemes


def canonical_tsvector(text: str) -> str:
    """A tsvector a client wrote, in the form Postgres stores and prints. ValueError if bad."""
    return tsvector_text(parse_tsvector(text))


def concat_tsvectors(left: str | None, right: str | None) -> str | None:
    """`left || right` on tsvectors: the right one's positions move past the left's last one."""
    if left is None or right is None:
        return None
    joined = parse_tsvector(left)
    shift = max((p for positions in joined.values() for p in positions), default=0)
    for lexeme, positions in parse_tsvector(right).items():
        moved = [min(p + shift, MAX_POSITION) for p in positions]
        joined[lexeme] = sorted(set(joined.get(lexeme, []) + moved))[:MAX_POSITIONS]
    return tsvector_text(joined)
