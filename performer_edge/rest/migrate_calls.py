"""Postgres function calls, casts, JSON operators and arrays → SQLite expressions.

Pure; used by `migrate_expr`'s tree walk through `HANDLERS`. Arrays and JSON are JSON text;
`auth.*` and `storage.*` become the functions named in `migrate_runtime`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from performer_edge.rest import migrate_runtime as runtime
from performer_edge.rest.catalog import Column, ReturnKind
from performer_edge.rest.migrate_source import StatementError, identifier_name, node_line
from performer_edge.rest.migrate_types import (
    InvalidValue,
    NotConstant,
    column_type,
    constant_value,
    parse_array_text,
    storage_value,
)

UUID_V4_SQL = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)"
    " || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'"
    " || hex(randomblob(6)))"
)
# SQLite built-ins that mean the same as the Postgres function of the same name.
# fmt: off
_SQLITE_FUNCTIONS = frozenset({
    "abs", "coalesce", "ifnull", "iif", "instr", "length", "lower", "upper", "ltrim", "rtrim",
    "trim", "nullif", "replace", "round", "substr", "hex", "unhex", "typeof", "printf", "format",
    "unicode", "char", "sign", "json", "json_array", "json_array_length", "json_extract",
    "json_object", "json_type", "json_valid", "json_quote", "json_group_array",
    "json_group_object", "min", "max", "sum", "avg", "count", "total", "group_concat", "date",
    "time", "datetime", "julianday", "unixepoch", "strftime", "ceil", "ceiling", "floor", "ln",
    "log", "log10", "log2", "exp", "pow", "power", "sqrt", "mod", "pi", "trunc", "concat",
    "concat_ws",
})
# fmt: on
_RENAMED_FUNCTIONS = {
    "btrim": "trim",
    "strpos": "instr",
    "char_length": "length",
    "character_length": "length",
    "json_build_object": "json_object",
    "jsonb_build_object": "json_object",
    "json_build_array": "json_array",
    "jsonb_build_array": "json_array",
    "jsonb_array_length": "json_array_length",
    "cardinality": "json_array_length",
    "uuid_generate_v4": "",  # "" means the UUID expression
    "gen_random_uuid": "",
}
_SCHEMA_FUNCTIONS: dict[tuple[str, str], str] = {
    ("auth", "uid"): runtime.AUTH_UID,
    ("auth", "role"): runtime.AUTH_ROLE,
    ("auth", "jwt"): runtime.AUTH_JWT,
    ("storage", "foldername"): runtime.STORAGE_FOLDERNAME,
    ("storage", "filename"): runtime.STORAGE_FILENAME,
    ("storage", "extension"): runtime.STORAGE_EXTENSION,
    ("realtime", "topic"): runtime.REALTIME_TOPIC,
}


class Visitor(Protocol):
    """What the handlers need from `migrate_expr`'s walk."""

    @property
    def scope(self) -> Any: ...

    def visit(self, node: exp.Expr) -> exp.Expr: ...

    def visit_children(self, node: exp.Expr) -> exp.Expr: ...

    def column_of(self, node: exp.Expr) -> Column | None: ...

    def qualify(self, node: exp.Expr) -> exp.Expr: ...


def call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


@cache
def _uuid_template() -> exp.Expr:
    return sqlglot.parse_one(UUID_V4_SQL, read="sqlite")


def uuid_expression() -> exp.Expr:
    return _uuid_template().copy()


def literal_node(value: object) -> exp.Expr:
    """A stored value (None, int, float, str, bytes) as a SQLite literal node."""
    if value is None:
        return exp.Null()
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, bytes):
        return exp.HexString(this=value.hex())
    if isinstance(value, int | float):
        number = exp.Literal.number(abs(value))
        return exp.Neg(this=number) if value < 0 else number
    raise TypeError(f"not a stored value: {value!r}")


def unsupported(node: exp.Expr, why: str = "") -> StatementError:
    text = " ".join(node.sql(dialect="postgres").split())
    text = text if len(text) <= 60 else text[:56] + " ..."
    return StatementError(
        f"not supported on SQLite: {text}" + (f" ({why})" if why else ""), line=node_line(node)
    )


def visit_function(visitor: Visitor, node: exp.Expr, schema: str = "") -> exp.Expr:
    name = str(node.this).lower()
    args = list(node.expressions)
    special = _special_function(visitor, node, schema, name, args)
    if special is not None:
        return special
    if not schema and name in _RENAMED_FUNCTIONS:
        renamed = _RENAMED_FUNCTIONS[name]
        return call(renamed, *map(visitor.visit, args)) if renamed else uuid_expression()
    if not schema and name in _SQLITE_FUNCTIONS:
        return call(name, *map(visitor.visit, args))
    function = visitor.scope.catalog.functions.get(f"{schema or 'public'}.{name}")
    if function is not None:
        return _inline_function(visitor, node, function, args)
    qualified = f"{schema}.{name}" if schema else name
    raise StatementError(f"function {qualified}() is not supported on SQLite", line=node_line(node))


def _special_function(
    visitor: Visitor, node: exp.Expr, schema: str, name: str, args: list[exp.Expr]
) -> exp.Expr | None:
    if (schema, name) in _SCHEMA_FUNCTIONS:
        return call(_SCHEMA_FUNCTIONS[(schema, name)], *map(visitor.visit, args))
    if (schema, name) == ("auth", "email"):
        return call("json_extract", call(runtime.AUTH_JWT), exp.Literal.string("$.email"))
    if schema == "extensions" and name in ("uuid_generate_v4", "gen_random_uuid"):
        return uuid_expression()
    if schema in ("", "pg_catalog") and name == "to_tsvector":
        if len(args) not in (1, 2):
            raise unsupported(node, "to_tsvector takes a configuration and a text")
        config = exp.Literal.string(tsvector_config(node))
        return call(runtime.TO_TSVECTOR, config, visitor.visit(args[-1]))
    if schema or name not in ("current_setting", "timezone"):
        return None
    setting = args[0] if args else None
    if not (isinstance(setting, exp.Literal) and setting.is_string):
        raise unsupported(node, "the setting name must be a literal")
    if name == "timezone":
        if setting.name.lower() != "utc" or len(args) != 2:
            raise unsupported(node, "only timezone('utc', ...) is supported")
        return visitor.visit(args[1])
    if setting.name == "request.jwt.claims":
        return call(runtime.AUTH_JWT)
    if setting.name.startswith("request.jwt.claim."):
        path = json_path([setting.name.removeprefix("request.jwt.claim.")])
        return call("json_extract", call(runtime.AUTH_JWT), exp.Literal.string(path))
    raise unsupported(node, "only the request.jwt.claims settings exist here")


def _is_tsvector(visitor: Visitor, node: exp.Expr) -> bool:
    """Whether a Postgres expression is a tsvector: to_tsvector(), a tsvector column or cast,
    or a concatenation or coalesce of those."""
    if isinstance(node, exp.Paren | exp.Coalesce):
        return _is_tsvector(visitor, node.this)
    if isinstance(node, exp.DPipe):
        return _is_tsvector(visitor, node.this) or _is_tsvector(visitor, node.expression)
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower() == "to_tsvector"
    if isinstance(node, exp.Cast):
        return node.to.sql(dialect="postgres").lower() == "tsvector"
    column = visitor.column_of(node)
    return column is not None and column.pg_type == "tsvector" and not column.array_dims


def visit_concat(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    """`||`: text concatenation, or tsvector concatenation (positions of the right move on)."""
    if _is_tsvector(visitor, node.this) or _is_tsvector(visitor, node.expression):
        left, right = visitor.visit(node.this), visitor.visit(node.expression)
        return call(runtime.TSVECTOR_CONCAT, left, right)
    return visitor.visit_children(node)


def tsvector_config(call_node: exp.Expr) -> str:
    """The configuration of `to_tsvector([config,] text)`: a literal, `::regconfig` allowed."""
    args = list(call_node.expressions)
    if len(args) < 2:
        return runtime.DEFAULT_TEXT_SEARCH_CONFIG
    named = args[0].this if isinstance(args[0], exp.Cast) else args[0]
    if not (isinstance(named, exp.Literal) and named.is_string):
        raise unsupported(call_node, "the text search configuration must be a literal")
    config = named.name.lower().removeprefix("pg_catalog.")
    if config not in runtime.TEXT_SEARCH_CONFIGS:
        raise StatementError(
            f'text search configuration "{named.name}" does not exist', line=node_line(call_node)
        )
    return config


def _inline_function(visitor: Visitor, node: exp.Expr, function: Any, args: list[Any]) -> exp.Expr:
    """A scalar `language sql` function called in an expression becomes a scalar subquery."""
    if function.returns.kind is not ReturnKind.SCALAR or len(function.body) != 1:
        raise unsupported(node, "only single-statement scalar SQL functions can be called here")
    if len(args) > len(function.args):
        raise unsupported(node, f"{function.name}() takes {len(function.args)} arguments")
    body = sqlglot.parse_one(function.body[0], read="sqlite")
    for position, argument in enumerate(function.args):
        if position < len(args):
            value = visitor.qualify(visitor.visit(args[position]))
        elif argument.default is not None:
            value = sqlglot.parse_one(argument.default, read="sqlite")
        else:
            raise unsupported(node, f"argument {argument.name or position + 1} has no default")
        for placeholder in list(body.find_all(exp.Placeholder)):
            if placeholder.name == argument.parameter:
                placeholder.replace(value.copy())
    return exp.Subquery(this=body)


def visit_dot(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    schema, function = node.this, node.expression
    if isinstance(schema, exp.Identifier) and isinstance(function, exp.Anonymous):
        return visit_function(visitor, function, identifier_name(schema))
    schema_name = identifier_name(schema) if isinstance(schema, exp.Identifier) else ""
    if isinstance(function, exp.Uuid) and schema_name in ("extensions", "public", "pg_catalog"):
        return uuid_expression()  # extensions.gen_random_uuid() parses as Uuid
    if isinstance(function, exp.Func) and schema_name == "pg_catalog":
        return visitor.visit(function)
    raise unsupported(node)


def visit_cast(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    target, _ = column_type(node.args["to"], visitor.scope.catalog)
    try:
        value = constant_value(node, target, visitor.scope.catalog)
        return literal_node(storage_value(value, target))
    except NotConstant:
        pass
    except InvalidValue as error:
        raise StatementError(error.message, line=node_line(node)) from error
    inner = visitor.visit(node.this)
    base = target.base_type
    if (
        target.array_dims
        or target.enum_values
        or base in ("uuid", "json", "jsonb", "timestamp", "timestamptz", "time")
    ):
        return inner  # already stored as the target stores it
    if base == "date":
        return call("date", inner)
    if base == "bool":  # JSON true and the Postgres spellings 't'/'true'
        return exp.Paren(
            this=exp.In(
                this=inner,
                expressions=[exp.Literal.number(1), *map(exp.Literal.string, ("t", "true"))],
            )
        )
    sqlite_type = {"bytea": "BLOB"}.get(base, target.sqlite_type)
    return exp.Cast(this=inner, to=exp.DataType.build(sqlite_type, dialect="sqlite"))


def json_path(segments: list[str | int]) -> str:
    """SQLite JSON path for Postgres `->` keys (strings) and array indexes (ints)."""
    path = "$"
    for segment in segments:
        if isinstance(segment, int):
            path += f"[#{segment}]" if segment < 0 else f"[{segment}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", segment):
            path += f".{segment}"
        else:
            path += '."' + segment.replace('"', '\\"') + '"'
    return path


def _path_segments(node: exp.Expr, operand: exp.Expr) -> list[str | int]:
    if isinstance(operand, exp.JSONPath):
        segments: list[str | int] = []
        for part in operand.expressions:
            if isinstance(part, exp.JSONPathKey):
                segments.append(str(part.this))
            elif isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int):
                segments.append(part.this)
            elif not isinstance(part, exp.JSONPathRoot):
                raise unsupported(node, "JSON keys must be literals")
        return segments
    if isinstance(operand, exp.Literal) and operand.is_string:  # #> '{a,0}'
        return [
            int(p) if p and p.lstrip("-").isdigit() else (p or "")
            for p in parse_array_text(operand.name)
        ]
    raise unsupported(node, "JSON keys must be literals")


def visit_json(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    """`a -> 'b' ->> 'c'` → json_extract(a, '$.b.c'); a trailing `->` keeps JSON text (`->`)."""
    segments = _path_segments(node, node.expression)
    base = node.this
    while isinstance(base, exp.JSONExtract | exp.JSONBExtract):
        segments = _path_segments(base, base.expression) + segments
        base = base.this
    path = exp.Literal.string(json_path(segments))
    if isinstance(node, exp.JSONExtractScalar | exp.JSONBExtractScalar):
        return call("json_extract", visitor.visit(base), path)
    return exp.JSONExtract(this=visitor.visit(base), expression=path)


def visit_bracket(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    """`arr[1]` (sqlglot already made it 0-based) → json_extract(arr, '$[0]')."""
    array = node.this.this if isinstance(node.this, exp.Paren) else node.this
    if len(node.expressions) != 1:
        raise unsupported(node, "array slices are not supported")
    index = node.expressions[0]
    if isinstance(index, exp.Literal) and not index.is_string:
        path: exp.Expr = exp.Literal.string(f"$[{int(index.name)}]")
    else:
        path = exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string("$["), expression=visitor.visit(index)),
            expression=exp.Literal.string("]"),
        )
    return call("json_extract", visitor.visit(array), path)


def quantifier(node: exp.Expr) -> tuple[str, exp.Expr] | None:
    """("any" | "all", the array or subquery) when `node` is `any(...)`, `some(...)`, `all(...)`."""
    if isinstance(node, exp.Any | exp.All):
        inner = node.this.this if isinstance(node.this, exp.Paren) else node.this
        return ("all" if isinstance(node, exp.All) else "any"), inner
    name = str(node.this).lower() if isinstance(node, exp.Anonymous) else ""
    if name in ("any", "some", "all") and len(node.expressions) == 1:
        return ("all" if name == "all" else "any"), node.expressions[0]
    return None


def any_comparison(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    """`x = any(arr)` → x IN (SELECT value FROM json_each(arr)); `x <> all(arr)` → NOT IN."""
    found_quantifier = quantifier(node.expression)
    assert found_quantifier is not None
    kind, source = found_quantifier
    negated = isinstance(node, exp.NEQ) and kind == "all"
    if not (negated or (isinstance(node, exp.EQ) and kind == "any")):
        raise unsupported(node, "only = any(...) and <> all(...) are supported")
    if isinstance(source, exp.Subquery | exp.Select):
        query = visitor.visit(source.this if isinstance(source, exp.Subquery) else source)
    else:
        query = exp.select("value").from_(call("json_each", visitor.visit(source)))
    found = exp.In(this=visitor.visit(node.this), query=exp.Subquery(this=query))
    return exp.Not(this=found) if negated else found


def visit_array(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    return call("json_array", *map(visitor.visit, node.expressions))


def _regexp_ilike(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    pattern = exp.DPipe(this=exp.Literal.string("(?i)"), expression=visitor.visit(node.expression))
    return exp.RegexpLike(this=visitor.visit(node.this), expression=exp.Paren(this=pattern))


def _left_right(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    text, count = visitor.visit(node.this), visitor.visit(node.expression)
    if isinstance(node, exp.Left):
        return call("substr", text, exp.Literal.number(1), count)
    return call("substr", text, exp.Neg(this=exp.Paren(this=count)))


def _array_size(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    return call("json_array_length", visitor.visit(node.this))


def _escape_string(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    return exp.Literal.string(str(node.this))  # E'...': sqlglot already applied the escapes


def _reject(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    raise unsupported(node)


HANDLERS: dict[type[exp.Expr], Callable[[Any, exp.Expr], exp.Expr]] = {
    exp.Anonymous: visit_function,
    exp.DPipe: visit_concat,
    exp.Dot: visit_dot,
    exp.Cast: visit_cast,
    exp.TryCast: visit_cast,
    exp.JSONExtract: visit_json,
    exp.JSONExtractScalar: visit_json,
    exp.JSONBExtract: visit_json,
    exp.JSONBExtractScalar: visit_json,
    exp.Bracket: visit_bracket,
    exp.Array: visit_array,
    exp.ArrayAgg: lambda v, n: call("json_group_array", v.visit(n.this)),
    exp.ArraySize: _array_size,
    exp.Uuid: lambda v, n: uuid_expression(),
    exp.RegexpILike: _regexp_ilike,
    exp.Left: _left_right,
    exp.Right: _left_right,
    exp.ByteString: _escape_string,
    exp.Any: _reject,
    exp.All: _reject,
}
