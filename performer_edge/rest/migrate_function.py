"""`create function ... language sql` (the RPC functions) and `drop function`.

Pure. Bodies are translated statement by statement to SQLite with `:parameter` binds for the
arguments, whether the body names them or uses `$1`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from performer_edge.rest.catalog import (
    Catalog,
    Column,
    Function,
    FunctionArg,
    FunctionReturn,
    ReturnKind,
    Volatility,
    relation_key,
)
from performer_edge.rest.migrate_expr import Scope, expression_sql, sqlite_sql, translate_expression
from performer_edge.rest.migrate_plan import OperationKind, Step
from performer_edge.rest.migrate_seed import delete_sql, insert_sql_and_rows, update_sql
from performer_edge.rest.migrate_source import (
    StatementError,
    TokenReader,
    identifier_name,
    parse_postgres,
    split_statements,
    table_ref,
)
from performer_edge.rest.migrate_types import column_type

_PLAIN_PARAMETER = re.compile(r"[a-z_][a-z0-9_]*")
_TWO_WORD_TYPES = {
    "double",
    "character",
    "char",
    "timestamp",
    "time",
    "bit",
    "interval",
    "national",
}
_IGNORED_OPTIONS: tuple[tuple[str, ...], ...] = (
    ("leakproof",),
    ("not", "leakproof"),
    ("strict",),
    ("called", "on", "null", "input"),
    ("returns", "null", "on", "null", "input"),
    ("window",),
)


@dataclass
class _Header:
    language: str = ""
    volatility: Volatility = Volatility.VOLATILE
    security_definer: bool = False
    body: str = ""
    body_line: int = 1


def _data_type(text: str, line: int) -> exp.DataType:
    try:
        cast = parse_postgres(f"CAST(NULL AS {text})")
    except StatementError:
        raise StatementError(f"unknown type {text}", line=line) from None
    assert isinstance(cast, exp.Cast)
    return cast.to


def _return_type(reader: TokenReader, catalog: Catalog) -> FunctionReturn:
    line = reader.line()
    if reader.accept("table"):
        return FunctionReturn(
            ReturnKind.TABLE, columns=tuple(_argument_list(reader, catalog, named=True)[0])
        )
    setof = reader.accept("setof")
    text = reader.source_until(
        "language", "as", "immutable", "stable", "volatile", "security", "set", "strict", "cost"
    )
    lowered = text.strip().lower()
    if lowered == "void" and not setof:
        return FunctionReturn(ReturnKind.VOID)
    if lowered in ("trigger", "event_trigger"):
        raise StatementError(
            "trigger functions are not supported (create trigger is not supported)", line=line
        )
    if lowered == "record":
        raise StatementError("returns record is not supported; use returns table (...)", line=line)
    data_type = _data_type(text, line)
    if data_type.this == exp.DataType.Type.USERDEFINED:
        named = data_type.args.get("kind")
        parts = [
            identifier_name(p) for p in (named.flatten() if isinstance(named, exp.Dot) else [named])
        ]
        key = relation_key(*parts) if len(parts) == 2 else relation_key("public", parts[-1])
        if key in catalog.tables or key in catalog.views:
            return FunctionReturn(ReturnKind.SETOF_ROW if setof else ReturnKind.ROW, table=key)
    column, _ = column_type(data_type, catalog)
    kind = ReturnKind.SETOF_SCALAR if setof else ReturnKind.SCALAR
    return FunctionReturn(kind, column.pg_type, column.array_dims)


def _argument_list(
    reader: TokenReader, catalog: Catalog, *, named: bool
) -> tuple[list[Column], list[str | None]]:
    """`(a int, b text default 'x')` → columns and their defaults (SQLite text or None)."""
    if not reader.symbol("("):
        raise StatementError("expected (", line=reader.line())
    columns: list[Column] = []
    defaults: list[str | None] = []
    if reader.symbol(")"):
        return columns, defaults
    while True:
        line = reader.line()
        if reader.word() in ("out", "inout", "variadic"):
            raise StatementError(f"{reader.word()} arguments are not supported", line=line)
        reader.accept("in")
        words = reader.source_until("default").split(None, 1)
        if not words:
            raise StatementError("expected an argument", line=line)
        name, type_text = "", " ".join(words)
        two_word_type = words[0].lower() in _TWO_WORD_TYPES
        if len(words) == 2 and (named or not two_word_type or not _is_type(type_text)):
            name, type_text = identifier_name(_name_node(words[0])), words[1]
        column, serial = column_type(_data_type(type_text, line), catalog)
        if serial:
            raise StatementError("serial is not a type an argument can have", line=line)
        columns.append(
            Column(name, column.pg_type, column.array_dims, enum_values=column.enum_values)
        )
        default = None
        if reader.accept("default") or reader.symbol("="):
            text = reader.source_until()
            default = expression_sql(parse_postgres(text), Scope(catalog, columns_allowed=False))
        defaults.append(default)
        if reader.symbol(")"):
            return columns, defaults
        if not reader.symbol(","):
            raise StatementError("expected , or ) in the argument list", line=reader.line())


def _is_type(text: str) -> bool:
    try:
        _data_type(text, 1)
    except StatementError:
        return False
    return True


def _name_node(text: str) -> exp.Expr:
    if text.startswith('"') and text.endswith('"'):
        return exp.to_identifier(text[1:-1].replace('""', '"'), quoted=True)
    return exp.to_identifier(text)


def _options(reader: TokenReader) -> tuple[_Header, list[str]]:
    header, notes = _Header(), []
    while not reader.at_end():
        if reader.accept("language"):
            token = reader.current
            if token is not None and " ".join(token.text.lower().split()) == "sql security":
                # sqlglot reads `sql security` as one token (MySQL's SQL SECURITY clause).
                header.language = "sql"
                reader.position += 1
                header.security_definer = reader.accept("definer")
                if not header.security_definer:
                    reader.expect("invoker")
            else:
                header.language = reader.name().lower()
        elif reader.word() in Volatility.__members__.values():
            header.volatility = Volatility(reader.word())
            reader.position += 1
        elif reader.accept("security", "definer") or reader.accept(
            "external", "security", "definer"
        ):
            header.security_definer = True
        elif reader.accept("security", "invoker") or reader.accept(
            "external", "security", "invoker"
        ):
            header.security_definer = False
        elif ignored := next((words for words in _IGNORED_OPTIONS if reader.accept(*words)), None):
            notes.append(f"{' '.join(ignored)} ignored")
        elif reader.accept("parallel") or reader.accept("cost") or reader.accept("rows"):
            reader.position += 1
        elif reader.accept("set"):
            setting = reader.name()
            if not reader.accept("from", "current"):
                if not reader.accept("to"):
                    reader.symbol("=")
                reader.source_until(
                    "language", "as", "immutable", "stable", "volatile", "security", "set"
                )
                while reader.symbol(","):
                    reader.source_until(
                        "language", "as", "immutable", "stable", "volatile", "security", "set"
                    )
            notes.append(f"set {setting} ignored: functions run with the node's settings")
        elif reader.accept("as"):
            token = reader.current
            if token is None or token.token_type.name not in ("STRING", "HEREDOC_STRING"):
                raise StatementError(
                    "expected the function body as a string or $$ ... $$", line=reader.line()
                )
            header.body, header.body_line = (
                str(token.text),
                reader.text.count("\n", 0, token.start) + 1,
            )
            reader.position += 1
        else:
            found = reader.current.text if reader.current else ""
            raise StatementError(f"unsupported function option {found}", line=reader.line())
    return header, notes


def create_function(text: str, catalog: Catalog) -> Step:
    reader = TokenReader(text)
    reader.expect("create")
    replacing = reader.accept("or", "replace")
    reader.expect("function")
    schema, name = reader.qualified_name()
    arg_columns, defaults = _argument_list(reader, catalog, named=False)
    if not reader.accept("returns"):
        raise StatementError(
            "functions without returns (out arguments) are not supported", line=reader.line()
        )
    returns = _return_type(reader, catalog)
    header, notes = _options(reader)
    if header.language != "sql":
        shown = header.language or "(none)"
        raise StatementError(
            f"language {shown} is not supported; only language sql functions translate to SQLite"
        )
    if not header.body.strip():
        raise StatementError("the function has no body")
    args = tuple(
        FunctionArg(c.name, c.pg_type, _parameter(c.name, i), c.array_dims, default)
        for i, (c, default) in enumerate(zip(arg_columns, defaults, strict=True), start=1)
    )
    key = relation_key(schema, name)
    existing = catalog.functions.get(key)
    if existing is not None:
        if not replacing:
            raise StatementError(f'function "{key}" already exists')
        if [a.pg_type for a in existing.args] != [a.pg_type for a in args]:
            raise StatementError(
                f'function "{key}" exists with other argument types; overloads are not supported'
            )
    body = _translate_body(header, returns, args, name, catalog)
    function = Function(
        schema, name, args, returns, body, header.volatility, header.security_definer
    )
    notes.append(
        "row-level policies are not applied inside function bodies (as if security definer)"
    )
    return Step(
        OperationKind.CREATE_FUNCTION,
        catalog.with_function(function),
        notes=tuple(notes),
        subject=key,
    )


def _parameter(name: str, position: int) -> str:
    return name if _PLAIN_PARAMETER.fullmatch(name) else f"arg{position}"


def _translate_body(
    header: _Header,
    returns: FunctionReturn,
    args: tuple[FunctionArg, ...],
    name: str,
    catalog: Catalog,
) -> tuple[str, ...]:
    parameters = {f"${i}": a.parameter for i, a in enumerate(args, start=1)}
    parameters |= {a.name: a.parameter for a in args if a.name}
    scope = Scope(catalog, parameters=parameters, function_name=name)
    statements: list[str] = []
    last: exp.Expr | None = None
    for body_statement in split_statements(header.body):
        line = header.body_line + body_statement.line - 1
        try:
            last = parse_postgres(body_statement.text)
            statements += _body_statement(last, scope)
        except StatementError as error:
            raise StatementError(error.reason, line=line + error.line - 1) from error
    returns_rows = isinstance(last, exp.Query) or (
        last is not None and last.args.get("returning") is not None
    )
    if returns.kind is not ReturnKind.VOID and not returns_rows:
        raise StatementError(
            "the last statement of the body must return the result (select or returning)"
        )
    return tuple(statements)


def _body_statement(node: exp.Expr, scope: Scope) -> list[str]:
    if isinstance(node, exp.Query):
        return [sqlite_sql(translate_expression(node, scope))]
    if isinstance(node, exp.Insert):
        return list(insert_sql_and_rows(node, scope)[0])
    if isinstance(node, exp.Update):
        return [update_sql(node, scope)[0]]
    if isinstance(node, exp.Delete):
        return [delete_sql(node, scope)[0]]
    raise StatementError("a function body may hold select, insert, update and delete only")


def drop_function(drop: exp.Expr, catalog: Catalog) -> Step:
    updated, notes = catalog, []
    for target in drop.args.get("tables") or []:
        key = relation_key(*table_ref(target))
        if key not in updated.functions:
            if drop.args.get("exists"):
                notes.append(f'function "{key}" does not exist, skipped')
                continue
            raise StatementError(f'function "{key}" does not exist')
        updated = updated.without_function(key)
    kind = OperationKind.DROP_FUNCTION if updated != catalog else OperationKind.NO_OP
    return Step(kind, updated, notes=tuple(notes))
