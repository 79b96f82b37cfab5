"""The scanner under the PostgREST query parsers: a cursor, the shared lexemes, and errors.

Pure; imports only `performer_edge.errors` and the AST.
"""

# Failures are positioned and worded the way PostgREST's Parsec parsers word them
# (`"failed to parse filter (eqq.1)" (line 1, column 3)`, details `unexpected "q" expecting
# operator (eq, gt, ...)`), so clients see the same PGRST100 errors. A Failure carries
# Parsec's pieces; when parsers try alternatives, `Failure.merge` applies Parsec's rule.

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from performer_edge.errors import InvalidInput
from performer_edge.rest.query_ast import Field, JsonArrow, JsonStep

T = TypeVar("T")

END_OF_INPUT = "end of input"
DELIMITER = "delimiter (.)"
FIELD_NAME = "field name (* or [a..z0..9_$])"
JSON_KEY = "any non reserved character different from: .,>()"
LETTER_OR_DIGIT = ("letter", "digit")
MAX_NESTING = 100
"""Deepest embed or logic tree accepted: deep enough for any real query, shallow for the stack."""


class QueryParseError(InvalidInput):
    """A query parameter or header outside the PostgREST grammar, with PostgREST's code and text.

    `http_status` is the status PostgREST answers with: 400, 406 (PGRST107) or 416 (PGRST103).
    """

    code = "PGRST100"

    def __init__(
        self,
        message: str,
        *,
        code: str = "PGRST100",
        details: Any = None,
        hint: str | None = None,
        http_status: int = 400,
    ) -> None:
        super().__init__(message, code=code, details=details, hint=hint)
        self.http_status = http_status


class Failure(Exception):
    """A parse failure at `pos`, before it becomes a QueryParseError; never leaves this package.

    `char` is the offending character (None at the end of input); `explicit` marks a failure
    from an end-of-input check, which Parsec shows as `'c'` rather than `"c"`.
    """

    def __init__(
        self,
        pos: int,
        char: str | None,
        expected: Sequence[str],
        *,
        explicit: bool = False,
        reason: str | None = None,
    ) -> None:
        super().__init__(pos, char, expected)
        self.pos = pos
        self.char = char
        self.expected = tuple(dict.fromkeys(e for e in expected if e))
        self.explicit = explicit
        self.reason = reason

    def merge(self, other: Failure) -> Failure:
        """Parsec's rule for failed alternatives: the furthest wins, equals pool expectations."""
        if self.pos != other.pos:
            return self if self.pos > other.pos else other
        first = self if self.explicit or not other.explicit else other
        return Failure(
            self.pos,
            first.char,
            self.expected + other.expected,
            explicit=self.explicit or other.explicit,
        )

    def describe(self) -> str:
        """`unexpected "q" expecting "(" or delimiter (.)`, as Parsec's showErrorMessages."""
        if self.reason is not None:
            return self.reason
        if self.char is None:
            found = END_OF_INPUT
        else:
            found = show_char(self.char) if self.explicit else show_string(self.char)
        text = f"unexpected {found}"
        if self.expected:
            text += " expecting " + _commas_or(self.expected)
        return text


def _commas_or(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


# fmt: off
_ASCII_NAMES = (
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR",
    "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC",
    "FS", "GS", "RS", "US",
)
# fmt: on
_SHORT_ESCAPES = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}


def _show_literal(char: str, following: str) -> str:
    # Haskell's showLitChar: PostgREST's messages quote the input with `show`, escapes and all.
    code = ord(char)
    if code > 127:
        return f"\\{code}" + ("\\&" if "0" <= following <= "9" else "")
    if code == 127:
        return "\\DEL"
    if char == "\\":
        return "\\\\"
    if code >= 32:
        return char
    if char in _SHORT_ESCAPES:
        return "\\" + _SHORT_ESCAPES[char]
    if char == "\x0e":
        return "\\SO" + ("\\&" if following == "H" else "")
    return "\\" + _ASCII_NAMES[code]


def show_string(text: str) -> str:
    """Haskell `show` of a String: `"a\\"b"`."""
    shown = [
        '\\"' if c == '"' else _show_literal(c, text[i + 1 : i + 2]) for i, c in enumerate(text)
    ]
    return '"' + "".join(shown) + '"'


def show_char(char: str) -> str:
    """Haskell `show` of a Char: `'t'`."""
    return "'" + ("\\'" if char == "'" else _show_literal(char, "")) + "'"


def parsec_position(text: str, pos: int) -> tuple[int, int]:
    """Line and column of `text[pos]` counted as Parsec does (tabs stop every 8 columns)."""
    line, column = 1, 1
    for char in text[:pos]:
        if char == "\n":
            line, column = line + 1, 1
        elif char == "\t":
            column += 8 - (column - 1) % 8
        else:
            column += 1
    return line, column


class Cursor:
    """A position in one parameter's text; readers advance it or raise a Failure."""

    __slots__ = ("depth", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> str:
        """The character `offset` ahead, or "" past the end."""
        return self.text[self.pos + offset : self.pos + offset + 1]

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def looking_at(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def take(self, literal: str) -> bool:
        """Consume `literal` if it comes next."""
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def skip_blanks(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def fail(self, *expected: str, at: int | None = None) -> Failure:
        """A failure at `at` (default: here) on the character found there."""
        pos = self.pos if at is None else at
        return Failure(pos, self.text[pos] if pos < len(self.text) else None, expected)

    def fail_unless_end(self, *expected: str) -> Failure:
        """A failure where the input should end (or continue with `expected`)."""
        char = self.text[self.pos] if self.pos < len(self.text) else None
        return Failure(self.pos, char, (*expected, END_OF_INPUT), explicit=True)

    def fail_word(self, word: str, *expected: str) -> Failure:
        """A failed match of `word` here; Parsec names the first character that differs."""
        for i, want in enumerate(word):
            found = self.peek(i)
            if found != want:
                return Failure(self.pos, found or None, expected)
        return self.fail(*expected)

    def require(self, literal: str) -> None:
        if not self.take(literal):
            raise self.fail(show_string(literal))

    def require_end(self, *expected: str) -> None:
        if not self.at_end():
            raise self.fail_unless_end(*expected)

    def enter(self) -> None:
        """Count one level of nesting (embeds, logic trees) and refuse absurd depths."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Failure(self.pos, None, (), reason=f"nested deeper than {MAX_NESTING} levels")

    def leave(self) -> None:
        self.depth -= 1


def run(parser: Callable[[Cursor], T], text: str, what: str, shown: str | None = None) -> T:
    """Parse all of `text`; a failure becomes PGRST100 `"failed to parse <what> (<shown>)"`.

    `shown` is the text named in the message when it differs from the text parsed (a logic
    tree is parsed as `or` + value but PostgREST names only the value).
    """
    cursor = Cursor(text)
    try:
        return parser(cursor)
    except Failure as failure:
        line, column = parsec_position(text, failure.pos)
        source = f"failed to parse {what} ({text if shown is None else shown})"
        raise QueryParseError(
            f"{show_string(source)} (line {line}, column {column})", details=failure.describe()
        ) from None


# --- lexemes shared by select, filters, order and columns ----------------------------------------


def is_identifier_char(char: str) -> bool:
    return char.isalpha() or "0" <= char <= "9" or char in ("_", " ", "$")


def read_quoted(cursor: Cursor) -> str:
    """`"…"` with `\\x` standing for x; the cursor is on the opening quote."""
    cursor.pos += 1
    chars: list[str] = []
    while True:
        char = cursor.peek()
        if not char:
            raise cursor.fail(show_string("\\"), show_string('"'))
        cursor.pos += 1
        if char == '"':
            return "".join(chars)
        if char == "\\":
            if cursor.at_end():
                raise cursor.fail()
            char = cursor.peek()
            cursor.pos += 1
        chars.append(char)


def read_identifier(cursor: Cursor) -> str:
    """Letters, digits, `_`, `$` and inner spaces; surrounding spaces are dropped."""
    start = cursor.pos
    while is_identifier_char(cursor.peek()):
        cursor.pos += 1
    identifier = cursor.text[start : cursor.pos].strip(" ")
    if not identifier:
        raise cursor.fail(*LETTER_OR_DIGIT, at=start)
    return identifier


def _at_dash(cursor: Cursor) -> bool:
    # A `-` joins identifier parts unless it starts a JSON arrow.
    return cursor.peek() == "-" and cursor.peek(1) != ">"


def read_field_name(cursor: Cursor) -> str:
    """A quoted name, or identifiers joined by dashes: `"my col"`, `first-name`, `_id`."""
    if cursor.peek() == '"':
        return read_quoted(cursor)
    if not is_identifier_char(cursor.peek()):
        raise cursor.fail(FIELD_NAME)
    parts = [read_identifier(cursor)]
    while _at_dash(cursor):
        cursor.pos += 1
        parts.append(read_identifier(cursor))
    return "-".join(parts)


def _is_json_key_char(char: str) -> bool:
    return bool(char) and char not in "(-:.,>)"


def _read_json_key(cursor: Cursor) -> str:
    parts: list[str] = []
    while True:
        start = cursor.pos
        while _is_json_key_char(cursor.peek()):
            cursor.pos += 1
        if cursor.pos == start:
            raise cursor.fail(JSON_KEY)
        parts.append(cursor.text[start : cursor.pos].strip())
        if not _at_dash(cursor):
            return "-".join(parts)
        cursor.pos += 1


_INDEX_ENDS = ("->", "::", ".", ",", ")")


def _read_json_operand(cursor: Cursor) -> str | int:
    """`0`, `-1` (array indexes), `key`, `"quoted key"`."""
    if cursor.peek() == '"':
        return read_quoted(cursor)
    start = cursor.pos
    digits = start + 1 if cursor.peek() == "-" else start
    end = digits
    while end < len(cursor.text) and "0" <= cursor.text[end] <= "9":
        end += 1
    ends_here = end == len(cursor.text) or cursor.text.startswith(_INDEX_ENDS, end)
    if end > digits and ends_here:
        cursor.pos = end
        return int(cursor.text[start:end])
    if _is_json_key_char(cursor.peek()):
        return _read_json_key(cursor)
    if digits == start:
        raise cursor.fail('"-"', "digit", JSON_KEY)
    if end == digits:
        raise cursor.fail("digit", at=digits)
    cursor.pos = end
    raise cursor.fail_unless_end("digit", '"->"', '"::"', '"."', '","', '")"')


def read_json_path(cursor: Cursor) -> tuple[JsonStep, ...]:
    steps: list[JsonStep] = []
    while cursor.looking_at("->"):
        arrow: JsonArrow = "->>" if cursor.looking_at("->>") else "->"
        cursor.pos += len(arrow)
        steps.append(JsonStep(arrow, _read_json_operand(cursor)))
    return tuple(steps)


def read_field(cursor: Cursor) -> Field:
    """`name->json->>path` after optional blanks; the cursor stops right after it."""
    cursor.skip_blanks()
    name = read_field_name(cursor)
    return Field(name, read_json_path(cursor))


def field_continuations(cursor: Cursor, field: Field) -> tuple[str, ...]:
    """What could have extended the field the cursor just passed, for error messages."""
    arrows = ('"->>"', '"->"')
    if cursor.text[cursor.pos - 1 : cursor.pos] == '"':
        return arrows
    if not field.json_path:
        return (*LETTER_OR_DIGIT, '"-"', *arrows)
    if isinstance(field.json_path[-1].operand, int):
        return ("digit", *arrows)
    return ('"-"', *arrows)


def read_names(cursor: Cursor) -> list[str]:
    """`a.b.c`: the dotted names that prefix keys like `rel.col`, `rel.order`."""
    names = [read_field_name(cursor)]
    while cursor.take("."):
        names.append(read_field_name(cursor))
    return names
