"""Migration source text: statements with line numbers, parsing, and errors that point at lines.

Pure; imports sqlglot and `performer_edge.errors` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError

from performer_edge.errors import InvalidInput

HEAD_LENGTH = 80


class MigrationError(InvalidInput):
    """A statement cannot be translated. The message starts with `line N:` of the file."""

    code = "invalid_migration"

    def __init__(self, reason: str, *, line: int, statement: str = "") -> None:
        head = statement_head(statement)
        message = f"line {line}: {reason}" + (f": {head}" if head else "")
        super().__init__(message, details={"line": line, "statement": head, "reason": reason})
        self.line = line
        self.reason = reason


class StatementError(Exception):
    """Raised while translating one statement; `translate` turns it into a `MigrationError`
    with the file's line number. `line` counts from the statement's first line (1)."""

    def __init__(self, reason: str, *, line: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class SourceStatement:
    text: str  # from its first token up to, not including, the `;`
    line: int  # 1-based line of its first token in the file


def statement_head(text: str) -> str:
    """The statement's first line, shortened, for error messages and op notes."""
    first, *rest = text.strip().split("\n", 1) or [""]
    first = " ".join(first.split())
    if len(first) > HEAD_LENGTH:
        return first[: HEAD_LENGTH - 4] + " ..."
    return first + (" ..." if rest and rest[0].strip() else "")


def split_statements(sql_text: str) -> list[SourceStatement]:
    """Split on `;` outside strings, quoted names, dollar-quoted bodies and comments."""
    statements: list[SourceStatement] = []
    start: int | None = None
    i, length = 0, len(sql_text)
    while i < length:
        char = sql_text[i]
        if char in " \t\r\n\f":
            i += 1
            continue
        if sql_text.startswith("--", i):
            end = sql_text.find("\n", i)
            i = length if end < 0 else end
            continue
        if sql_text.startswith("/*", i):
            i = _skip_block_comment(sql_text, i)
            continue
        if char == ";":
            if start is not None:
                statements.append(_statement(sql_text, start, i))
            start = None
            i += 1
            continue
        if start is None:
            start = i
        i = _skip_token(sql_text, i)
    if start is not None:
        statements.append(_statement(sql_text, start, length))
    return statements


def _statement(sql_text: str, start: int, end: int) -> SourceStatement:
    return SourceStatement(sql_text[start:end].rstrip(), _line_at(sql_text, start))


def _line_at(sql_text: str, offset: int) -> int:
    return sql_text.count("\n", 0, offset) + 1


def _skip_block_comment(sql_text: str, i: int) -> int:
    depth, start = 0, i
    while i < len(sql_text):
        if sql_text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql_text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise MigrationError("unterminated /* comment", line=_line_at(sql_text, start))


def _skip_token(sql_text: str, i: int) -> int:
    """Skip one string, quoted name or dollar-quoted body starting at i, else one character."""
    char = sql_text[i]
    previous = sql_text[i - 1] if i else " "
    if char == "'":
        escapes = previous in "eE" and (i < 2 or not _is_name_char(sql_text[i - 2]))
        return _skip_quoted(sql_text, i, "'", backslash_escapes=escapes, what="string")
    if char == '"':
        return _skip_quoted(sql_text, i, '"', backslash_escapes=False, what="quoted name")
    if char == "$" and not _is_name_char(previous):
        tag_end = i + 1
        while tag_end < len(sql_text) and _is_name_char(sql_text[tag_end], dollar=False):
            tag_end += 1
        tag = sql_text[i : tag_end + 1]
        is_tag = tag.endswith("$") and not tag[1:2].isdigit()
        if is_tag:
            close = sql_text.find(tag, tag_end + 1)
            if close < 0:
                raise MigrationError(f"unterminated {tag} body", line=_line_at(sql_text, i))
            return close + len(tag)
    return i + 1


def _skip_quoted(sql_text: str, i: int, quote: str, *, backslash_escapes: bool, what: str) -> int:
    start, i = i, i + 1
    while i < len(sql_text):
        char = sql_text[i]
        if (backslash_escapes and char == "\\") or sql_text.startswith(quote * 2, i):
            i += 2
        elif char == quote:
            return i + 1
        else:
            i += 1
    raise MigrationError(f"unterminated {what}", line=_line_at(sql_text, start))


def _is_name_char(char: str, *, dollar: bool = True) -> bool:
    return char.isalnum() or char == "_" or (dollar and char == "$")


def tokenize(text: str) -> list[Token]:
    """sqlglot's Postgres tokens of one statement (offsets and lines relative to `text`)."""
    try:
        return list(Postgres().tokenize(text))
    except TokenError as error:
        raise StatementError(f"cannot read SQL ({error})") from error


def parse_postgres(text: str) -> exp.Expr:
    """Parse one statement or expression in the Postgres dialect."""
    try:
        parsed = sqlglot.parse_one(text, read="postgres")
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        description = str(first.get("description") or error).split("\n", 1)[0]
        raise StatementError(
            f"syntax error: {description}", line=int(first.get("line") or 1)
        ) from error
    except TokenError as error:
        raise StatementError(f"cannot read SQL ({error})") from error
    if isinstance(parsed, exp.Command):
        raise StatementError("unsupported statement")
    return parsed


def node_line(node: exp.Expr) -> int:
    """The statement-relative line of the first name in `node`, for error locations."""
    for child in node.walk():
        if isinstance(child, exp.Identifier) and "line" in child.meta:
            return int(child.meta["line"])
    return 1


def identifier_name(node: exp.Expr | str | None) -> str:
    """A name as Postgres sees it: unquoted names fold to lower case, quoted ones are kept."""
    if isinstance(node, str):
        return node.lower()
    if isinstance(node, exp.Identifier):
        return str(node.this) if node.quoted else str(node.this).lower()
    if isinstance(node, exp.Expr) and node.args.get("this") is not None:
        return identifier_name(node.args["this"])
    raise StatementError("expected a name")


def table_ref(table: exp.Expr) -> tuple[str, str]:
    """(schema, name) of a table reference; the schema defaults to `public`."""
    if not isinstance(table, exp.Table) or table.args.get("catalog"):
        raise StatementError("expected a table name as [schema.]name")
    schema = table.args.get("db")
    return (identifier_name(schema) if schema else "public"), identifier_name(table.this)


_WORD_TYPES_EXCLUDED = {
    TokenType.STRING,
    TokenType.HEREDOC_STRING,
    TokenType.NUMBER,
    TokenType.IDENTIFIER,
}


class TokenReader:
    """A cursor over one statement's tokens, for the statements sqlglot does not parse
    (`create policy`, `create function`, `alter table ... row level security`)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.position = 0

    def at_end(self) -> bool:
        return self.position >= len(self.tokens)

    @property
    def current(self) -> Token | None:
        return None if self.at_end() else self.tokens[self.position]

    def line(self) -> int:
        token = self.current or (self.tokens[-1] if self.tokens else None)
        return token.line if token else 1

    def word(self, offset: int = 0) -> str:
        """The lower-cased keyword or bare name at the cursor; "" for quoted names, strings
        and symbols."""
        index = self.position + offset
        if index >= len(self.tokens):
            return ""
        token = self.tokens[index]
        if token.token_type in _WORD_TYPES_EXCLUDED or not _is_word(token.text):
            return ""
        return token.text.lower()

    def accept(self, *words: str) -> bool:
        if all(self.word(i) == w for i, w in enumerate(words)):
            self.position += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            found = self.current.text if self.current else "the end"
            raise StatementError(f"expected {' '.join(words)} but found {found}", line=self.line())

    def symbol(self, text: str) -> bool:
        if (
            self.current is not None
            and self.current.text == text
            and self.current.token_type != TokenType.STRING
        ):
            self.position += 1
            return True
        return False

    def name(self) -> str:
        token = self.current
        if token is not None and token.token_type == TokenType.IDENTIFIER:
            self.position += 1
            return str(token.text)
        word = self.word()
        if not word:
            raise StatementError(
                f"expected a name but found {token.text if token else 'the end'}", line=self.line()
            )
        self.position += 1
        return word

    def qualified_name(self) -> tuple[str, str]:
        first = self.name()
        if self.symbol("."):
            return first, self.name()
        return "public", first

    def parenthesized(self) -> tuple[str, int]:
        """The source text inside the parentheses at the cursor, and the line it starts on."""
        start = self.current
        if start is None or not self.symbol("("):
            raise StatementError("expected (", line=self.line())
        depth = 1
        while not self.at_end():
            token = self.tokens[self.position]
            self.position += 1
            if token.token_type in (TokenType.L_PAREN,):
                depth += 1
            elif token.token_type in (TokenType.R_PAREN,):
                depth -= 1
                if depth == 0:
                    return self.text[start.end + 1 : token.start], start.line
        raise StatementError("unbalanced parentheses", line=start.line)

    def source_until(self, *stop_words: str) -> str:
        """Source text from the cursor to the first stop word (or `,`/`)`) outside parentheses."""
        begin, depth = self.current, 0
        last = None
        while not self.at_end():
            token = self.tokens[self.position]
            if depth == 0 and (self.word() in stop_words or token.text in (",", ")")):
                break
            depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
            last = token
            self.position += 1
        if begin is None or last is None:
            return ""
        return self.text[begin.start : last.end + 1]


def _is_word(text: str) -> bool:
    return (
        bool(text)
        and (text[0].isalpha() or text[0] == "_")
        and all(c.isalnum() or c in "_$" for c in text)
    )
