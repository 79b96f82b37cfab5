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
_ENTRY = re.compile(
    r"\s*(?:'((?:[^'\\]|\\.|'')*)'|((?:[^\s'\\:]|\\.)+))(?::(\d+[A-Da-d]?(?:,\d+[A-Da-d]?)*))?"
)
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
    lexemes: Lexemes = {}
    position, end = 0, len(text.rstrip())
    while position < end:
        match = _ENTRY.match(text, position)
        if match is None:
            raise ValueError(f'syntax error in tsvector: "{text}"')
        quoted, bare, listed = match.groups()
        raw = quoted.replace("''", "'") if quoted is not None else bare
        lexeme = _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw
        found = lexemes.setdefault(lexeme, [])
        for item in listed.split(",") if listed else ():
            number = int(item.rstrip("ABCDabcd"))
            if number < 1:
                raise ValueError(f'wrong position info in tsvector: "{text}"')
            found.append(min(number, MAX_POSITION))
        position = match.end()
    return {k: sorted(set(v))[:MAX_POSITIONS] for k, v in lexemes.items() if k}


def canonical_tsvector(text: str) -> str:
    """A tsvector a client wrote, in the form Postgres stores and prints. ValueError if bad."""
    return tsvector_text(parse_tsvector(text))
