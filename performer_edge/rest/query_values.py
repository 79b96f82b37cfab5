"""Filter values as the compiler needs them: Postgres array literals and LIKE patterns.

Pure; imports only the scanner's error type.
"""

from __future__ import annotations

from typing import NoReturn

from performer_edge.rest.query_scan import QueryParseError

_BLANKS = " \t\n\r\v\f"  # what Postgres' array_in skips around elements


def like_pattern(value: str) -> str:
    """The SQL pattern for a like/ilike value: `*` is PostgREST's URL-safe alias of `%`.

    The parser keeps values as sent (so they render back unchanged); the compiler calls this
    on `Compare` values and on each `Quantified` value of like, ilike and their any/all forms.
    """
    return value.replace("*", "%")


def parse_array_literal(text: str) -> tuple[str | None, ...]:
    """The elements of a one-dimensional Postgres array literal `{a,"b c",NULL}`.

    Postgres' rules: blanks around elements are dropped, `"…"` and `\\` quote, an unquoted
    NULL (any case) is None. A malformed literal raises 22P02 with Postgres' wording.
    """
    reader = _ArrayReader(text)
    reader.skip_blanks()
    if not reader.take("{"):
        reader.malformed('Array value must start with "{" or dimension information.')
    elements: list[str | None] = []
    reader.skip_blanks()
    if not reader.take("}"):
        while True:
            elements.append(reader.read_element())
            if reader.take("}"):
                break
            reader.take(",")
    reader.skip_blanks()
    if reader.pos < len(text):
        reader.malformed("Junk after closing right brace.")
    return tuple(elements)


class _ArrayReader:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def malformed(self, detail: str) -> NoReturn:
        raise QueryParseError(
            f'malformed array literal: "{self.text}"', code="22P02", details=detail
        )

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def take(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def skip_blanks(self) -> None:
        while self.peek() and self.peek() in _BLANKS:
            self.pos += 1

    def next_char(self) -> str:
        char = self.peek()
        if not char:
            self.malformed("Unexpected end of input.")
        self.pos += 1
        return char

    def read_element(self) -> str | None:
        """One element, leaving the cursor on the `,` or `}` after it."""
        self.skip_blanks()
        if self.take('"'):
            value = self._read_quoted_rest()
            self.skip_blanks()
            if self.peek() not in (",", "}"):
                self.malformed(
                    "Unexpected array element." if self.peek() else "Unexpected end of input."
                )
            return value
        return self._read_unquoted()

    def _read_quoted_rest(self) -> str:
        chars: list[str] = []
        while (char := self.next_char()) != '"':
            chars.append(self.next_char() if char == "\\" else char)
        return "".join(chars)

    def _read_unquoted(self) -> str | None:
        chars: list[str] = []
        kept = 0  # length without trailing unescaped blanks
        escaped = False
        while (char := self.peek()) not in (",", "}"):
            self.next_char()
            if char in ('"', "{"):
                self.malformed(
                    "Unexpected array element." if char == '"' else 'Unexpected "{" character.'
                )
            if char == "\\":
                chars.append(self.next_char())
                escaped, kept = True, len(chars)
                continue
            chars.append(char)
            if char not in _BLANKS:
                kept = len(chars)
        if not chars:
            self.malformed(f'Unexpected "{char}" character.')
        value = "".join(chars[:kept])
        return None if not escaped and value.upper() == "NULL" else value
