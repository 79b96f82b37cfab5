"""Postgres time: now(), current_date, `± interval`, extract, date_trunc → SQLite strftime.

Pure; part of `migrate_expr`'s tree walk through `HANDLERS`. Results have the stored shapes of
`catalog` (fixed-width ISO-8601, UTC), so comparing them as text compares times.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from performer_edge.rest.migrate_calls import Visitor, call, unsupported

# Fixed-width text matching the stored shapes in `catalog` (SQLite %f gives milliseconds).
NOW_FORMATS = {
    "timestamptz": "%Y-%m-%dT%H:%M:%f000+00:00",
    "timestamp": "%Y-%m-%dT%H:%M:%f000",
    "time": "%H:%M:%f000",
    "date": "%Y-%m-%d",
}

_INTERVAL_PART = re.compile(r"(-?\d+(?:\.\d+)?)\s*([a-z]+)")
_INTERVAL_UNITS = {
    "year": "years",
    "mon": "months",
    "month": "months",
    "day": "days",
    "hour": "hours",
}
_INTERVAL_UNITS |= {"min": "minutes", "minute": "minutes", "sec": "seconds", "second": "seconds"}
_EXTRACT_FORMATS = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M"}
_EXTRACT_FORMATS |= {"dow": "%w", "doy": "%j"}
_TRUNC_FORMATS = {
    "year": "%Y-01-01T00:00:00.000000+00:00",
    "month": "%Y-%m-01T00:00:00.000000+00:00",
    "day": "%Y-%m-%dT00:00:00.000000+00:00",
    "hour": "%Y-%m-%dT%H:00:00.000000+00:00",
    "minute": "%Y-%m-%dT%H:%M:00.000000+00:00",
}


def now_expression(pg_type: str = "timestamptz", *modifiers: str) -> exp.Expr:
    if pg_type == "date":
        return call("date", exp.Literal.string("now"), *map(exp.Literal.string, modifiers))
    fmt = NOW_FORMATS.get(pg_type, NOW_FORMATS["timestamptz"])
    return call(
        "strftime",
        exp.Literal.string(fmt),
        exp.Literal.string("now"),
        *map(exp.Literal.string, modifiers),
    )


def visit_add_sub(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    """`ts ± interval '1 day'` → strftime(<stored shape>, ts, '±1 days')."""
    left, right = node.this, node.expression
    if isinstance(left, exp.Interval) and isinstance(node, exp.Add):
        left, right = right, left
    if not isinstance(right, exp.Interval):
        if any(isinstance(side, exp.CurrentTimestamp | exp.CurrentDate) for side in (left, right)):
            raise unsupported(node, "timestamps only support ± interval arithmetic")
        return visitor.visit_children(node)
    modifiers = _interval_modifiers(right, negate=isinstance(node, exp.Sub))
    column = visitor.column_of(left)
    pg_type = (
        "date"
        if isinstance(left, exp.CurrentDate)
        else column.base_type
        if column
        else "timestamptz"
    )
    if isinstance(left, exp.CurrentTimestamp | exp.CurrentDate):
        return now_expression(pg_type, *modifiers)
    fmt = NOW_FORMATS.get(pg_type, NOW_FORMATS["timestamptz"])
    return call(
        "strftime",
        exp.Literal.string(fmt),
        visitor.visit(left),
        *map(exp.Literal.string, modifiers),
    )


def _interval_modifiers(interval: exp.Expr, *, negate: bool) -> list[str]:
    unit = interval.args.get("unit")
    text = f"{interval.this.name} {unit.name if unit else ''}".lower()
    modifiers = []
    for amount, word in _INTERVAL_PART.findall(text):
        singular = word.rstrip("s")
        number = float(amount) * (7 if singular == "week" else 1) * (-1 if negate else 1)
        sqlite_unit = "days" if singular == "week" else _INTERVAL_UNITS.get(singular)
        if sqlite_unit is None:
            raise unsupported(interval, f"unknown interval unit {word}")
        modifiers.append(f"{number:+g} {sqlite_unit}")
    if not modifiers:
        raise unsupported(interval)
    return modifiers


def visit_extract(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    field, value = node.this.name.lower(), visitor.visit(node.expression)
    if field == "epoch":
        return call("unixepoch", value, exp.Literal.string("subsec"))
    if field == "second":
        return exp.Cast(
            this=call("strftime", exp.Literal.string("%f"), value), to=exp.DataType.build("REAL")
        )
    if field not in _EXTRACT_FORMATS:
        raise unsupported(node)
    fmt = exp.Literal.string(_EXTRACT_FORMATS[field])
    return exp.Cast(this=call("strftime", fmt, value), to=exp.DataType.build("INTEGER"))


def visit_date_trunc(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    unit = node.args["unit"].name.lower()
    if unit not in _TRUNC_FORMATS:
        raise unsupported(node)
    return call("strftime", exp.Literal.string(_TRUNC_FORMATS[unit]), visitor.visit(node.this))


def _now(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    return now_expression("date" if isinstance(node, exp.CurrentDate) else "timestamptz")


def _at_time_zone(visitor: Visitor, node: exp.Expr) -> exp.Expr:
    zone = node.args.get("zone")
    if not (isinstance(zone, exp.Literal) and zone.name.lower() == "utc"):
        raise unsupported(node, "only at time zone 'utc' is supported")
    return visitor.visit(node.this)


HANDLERS: dict[type[exp.Expr], Callable[[Any, exp.Expr], exp.Expr]] = {
    exp.Add: visit_add_sub,
    exp.Sub: visit_add_sub,
    exp.Extract: visit_extract,
    exp.TimestampTrunc: visit_date_trunc,
    exp.CurrentTimestamp: _now,
    exp.CurrentDate: _now,
    exp.AtTimeZone: _at_time_zone,
}
