"""Select-list values: a column, its JSON path (`->` keeps JSON, `->>` gives text), `::cast`, and
aggregates, each as a key and a JSON-ready SQL value for jsonb_object.

Pure; bound values go through the statement's Params.
"""

from __future__ import annotations

from dataclasses import dataclass

from performer_edge.rest.catalog import Column
from performer_edge.rest.compile_errors import cannot_cast, undefined_column, undefined_function
from performer_edge.rest.compile_filters import Operand
from performer_edge.rest.compile_functions import PG_CAST
from performer_edge.rest.compile_sql import Params, column_ref
from performer_edge.rest.compile_values import cast_target, json_output, kind_of, type_name
from performer_edge.rest.migrate_calls import json_path
from performer_edge.rest.query_ast import Aggregate, Field

JSONB = Column("", "jsonb")
TEXT = Column("", "text")
INT8 = Column("", "int8")
NUMERIC = Column("", "numeric")
FLOAT8 = Column("", "float8")
_SUM_TYPES = {"int2": INT8, "int4": INT8, "int8": NUMERIC, "numeric": NUMERIC}


@dataclass(frozen=True)
class Pair:
    """One key of a row's JSON object. `raw` is the value before aggregation (typed `column`);
    `ready`, when set, is already the final JSON-ready SQL (embeds, lifted spread columns)."""

    key: str
    raw: str = ""
    column: Column | None = None
    aggregate: Aggregate | None = None
    aggregate_cast: str | None = None
    ready: str | None = None

    def output_column(self) -> Column | None:
        """The Postgres type of the value; None when it is JSON built here (embeds, spreads)."""
        if self.ready is not None:
            return None
        column = self.column or INT8
        if self.aggregate is not None:
            column = aggregate_sql(self.aggregate, self.raw, self.column)[1]
        if self.aggregate_cast is not None:
            column = cast_target(self.aggregate_cast)
        return column

    def json(self, params: Params) -> str:
        if self.ready is not None:
            return self.ready
        value, column = self.raw, self.column or INT8
        if self.aggregate is not None:
            value, column = aggregate_sql(self.aggregate, value, self.column)
        if self.aggregate_cast is not None:
            value, column = cast_sql(value, column, self.aggregate_cast, params)
        return json_output(value, column)


def field_operand(
    alias: str, label: str, columns: dict[str, Column], field: Field, params: Params
) -> Operand:
    """A column reference with its JSON path applied; an unknown column is 42703."""
    column = columns.get(field.name)
    if column is None:
        raise undefined_column(label, field.name)
    ref = column_ref(alias, column.name)
    if not field.json_path:
        return Operand(ref, column, column.nullable)
    keeps_json = field.json_path[-1].arrow == "->"
    result = JSONB if keeps_json else TEXT
    kind = kind_of(column)
    if kind not in ("json", "array", "unknown"):
        return Operand("NULL", result)  # PostgREST applies the path to to_jsonb(scalar): NULL
    path = params.add(json_path([step.operand for step in field.json_path]))
    value = f"({ref} -> {path})" if keeps_json else _text_form(ref, path)
    if kind == "unknown":
        value = f"CASE WHEN json_valid({ref}) THEN {value} END"
    return Operand(value, result)


def _text_form(ref: str, path: str) -> str:
    """`->>`: strings unquoted, JSON null as NULL, everything else as its JSON text (`'' ||`
    drops the JSON subtype `->` returns, so jsonb_object takes it as a string)."""
    return (
        f"CASE json_type({ref}, {path}) WHEN 'text' THEN {ref} ->> {path}"
        f" WHEN 'null' THEN NULL ELSE '' || ({ref} -> {path}) END"
    )


def aggregate_sql(aggregate: Aggregate, raw: str, column: Column | None) -> tuple[str, Column]:
    """`sum(x)` etc. with the type Postgres gives the result; no such aggregate is 42883."""
    if aggregate == "count" or column is None:
        return f"count({raw})", INT8
    kind = kind_of(column)
    signature = f"{aggregate}({type_name(column)})"
    if aggregate in ("sum", "avg"):
        if kind not in ("number", "unknown"):
            raise undefined_function(signature)
        if column.base_type in ("float4", "float8"):
            return f"{aggregate}({raw})", column
        result = NUMERIC if aggregate == "avg" else _SUM_TYPES.get(column.base_type, NUMERIC)
        return f"{aggregate}({raw})", result
    if kind in ("json", "bool"):
        raise undefined_function(signature)
    return f"{aggregate}({raw})", column


def type_spec(column: Column) -> str:
    """The type as `pg_cast` receives it: `int8`, `text[]`."""
    return column.pg_type + "[]" * column.array_dims


def cast_sql(raw: str, column: Column, target_name: str, params: Params) -> tuple[str, Column]:
    """`raw::target_name`: 42704 for an unknown type, 42846 where Postgres has no cast."""
    target = cast_target(target_name)
    if type_spec(column) == type_spec(target):
        return raw, target
    if kind_of(target) == "json" and kind_of(column) not in ("json", "text", "array", "unknown"):
        raise cannot_cast(type_name(column), type_name(target))
    source_type, target_type = params.add(type_spec(column)), params.add(type_spec(target))
    return f"{PG_CAST}({raw}, {source_type}, {target_type})", target
