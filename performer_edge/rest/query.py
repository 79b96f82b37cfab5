"""The PostgREST request grammar, sans-IO: query pairs and header values in, frozen values out.

Entry point of `rest/query_*.py`; does no I/O and imports nothing that does.
"""

# Theory of operation. Each query parameter is parsed on its own by a recursive-descent parser
# over a Cursor (query_scan): select (query_select), filters and logic trees (query_filters),
# order (query_order), headers (query_headers). `parse_query` only sorts the parameters the way
# PostgREST does. Failures are positioned and worded as PostgREST's Parsec errors (PGRST100);
# query_render is the inverse, for round-trip tests and debugging.

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from performer_edge.rest.query_ast import (
    EmbedPath,
    Filter,
    Ordering,
    OrderTerm,
    Paging,
    SelectItem,
    SelectStar,
)
from performer_edge.rest.query_filters import LOGIC_KEYS, parse_filter, starts_with_operator
from performer_edge.rest.query_headers import (
    Preferences,
    ResponseFormat,
    parse_accept,
    parse_prefer,
    parse_range_header,
)
from performer_edge.rest.query_order import parse_order
from performer_edge.rest.query_scan import (
    FIELD_NAME,
    Cursor,
    QueryParseError,
    read_field_name,
    read_names,
    run,
)
from performer_edge.rest.query_select import parse_select
from performer_edge.rest.query_values import like_pattern, parse_array_literal

__all__ = [
    "Preferences",
    "Query",
    "QueryParseError",
    "ResponseFormat",
    "like_pattern",
    "parse_accept",
    "parse_array_literal",
    "parse_columns",
    "parse_filter",
    "parse_order",
    "parse_prefer",
    "parse_query",
    "parse_range_header",
    "parse_select",
]

# Whole keys with a meaning of their own; PostgREST reads the first occurrence of each.
RESERVED_KEYS = ("select", "columns", "on_conflict")


@dataclass(frozen=True, slots=True)
class Query:
    """A request's query string, parsed. Filters keep their order; repeated keys are ANDed."""

    select: tuple[SelectItem, ...] = (SelectStar(),)
    filters: tuple[Filter, ...] = ()
    orderings: tuple[Ordering, ...] = ()
    pagings: tuple[Paging, ...] = ()
    columns: tuple[str, ...] | None = None
    on_conflict: tuple[str, ...] | None = None
    rpc_arguments: tuple[tuple[str, str], ...] = ()
    """On GET/HEAD /rpc/fn, the parameters without an operator: the function's arguments."""

    def ordering(self, embed_path: EmbedPath = ()) -> tuple[OrderTerm, ...]:
        return next((o.terms for o in self.orderings if o.embed_path == embed_path), ())

    def paging(self, embed_path: EmbedPath = ()) -> Paging:
        default = Paging(embed_path=embed_path)
        return next((p for p in self.pagings if p.embed_path == embed_path), default)


def parse_query(pairs: Iterable[tuple[str, str]], *, rpc_read: bool = False) -> Query:
    """Parse form-decoded query pairs, in order.

    As PostgREST: `select`, `columns`, `on_conflict` take their first value; `limit` and
    `offset` their last; a repeated `order` for one level its first. Parameters are parsed in
    PostgREST's order (order, logic, columns, select, filters, on_conflict, then ranges) so the
    same error is reported first. `rpc_read` is for GET/HEAD /rpc/fn: a parameter whose value
    has no operator is an argument to the function, not a filter.
    """
    reserved: dict[str, str] = {}
    orders: list[tuple[str, str]] = []
    ranges: list[tuple[str, str]] = []
    logic: dict[int, tuple[str, str]] = {}
    others: dict[int, tuple[str, str]] = {}
    for index, (key, value) in enumerate(pairs):
        last_part = key.split(".")[-1]
        if key in RESERVED_KEYS:
            reserved.setdefault(key, value)
        elif last_part == "order":
            orders.append((key, value))
        elif last_part in ("limit", "offset"):
            ranges.append((key, value))
        else:
            (logic if last_part in LOGIC_KEYS else others)[index] = (key, value)

    orderings: dict[EmbedPath, Ordering] = {}
    for key, value in orders:
        path = _embed_path(key)
        orderings.setdefault(path, Ordering(tuple(parse_order(value)), path))
    filters = {index: parse_filter(key, value) for index, (key, value) in logic.items()}
    columns = _optional(parse_columns, reserved.get("columns"))
    select = tuple(parse_select(reserved["select"])) if "select" in reserved else (SelectStar(),)
    rpc_arguments: list[tuple[str, str]] = []
    for index, (key, value) in others.items():
        if rpc_read and not starts_with_operator(value):
            rpc_arguments.append((key, value))
        else:
            filters[index] = parse_filter(key, value)
    on_conflict = _optional(_parse_on_conflict, reserved.get("on_conflict"))
    return Query(
        select=select,
        filters=tuple(filters[index] for index in sorted(filters)),
        orderings=tuple(orderings.values()),
        pagings=_pagings(ranges),
        columns=columns,
        on_conflict=on_conflict,
        rpc_arguments=tuple(rpc_arguments),
    )


def parse_columns(text: str) -> tuple[str, ...]:
    """`columns=` for inserts: `"a","b"` or `a,b`, duplicates dropped, order kept."""
    return run(_read_columns, text, "columns parameter")


def _parse_on_conflict(text: str) -> tuple[str, ...]:
    return run(_read_columns, text, "on_conflict parameter")


def _read_columns(cursor: Cursor) -> tuple[str, ...]:
    if cursor.at_end():
        raise cursor.fail(FIELD_NAME)
    names = [read_field_name(cursor)]
    cursor.skip_blanks()
    while cursor.take(","):
        cursor.skip_blanks()
        names.append(read_field_name(cursor))
        cursor.skip_blanks()
    cursor.require_end('","')
    return tuple(dict.fromkeys(names))


def _optional(parser: Callable[[str], tuple[str, ...]], text: str | None) -> tuple[str, ...] | None:
    return None if text is None else parser(text)


def _embed_path(key: str) -> EmbedPath:
    """`rel.sub.order` → (rel, sub): the names before an embeddable key's last part."""
    return tuple(run(_read_dotted_key, key, "tree path")[:-1])


def _read_dotted_key(cursor: Cursor) -> list[str]:
    names = read_names(cursor)
    cursor.require_end('"."')
    return names


def _pagings(ranges: list[tuple[str, str]]) -> tuple[Paging, ...]:
    """limit/offset per level; a repeated key's last value wins (PostgREST's HashMap.fromList)."""
    limits: dict[EmbedPath, int] = {}
    offsets: dict[EmbedPath, int] = {}
    for key, value in ranges:
        parameter = key.split(".")[-1]
        path = _embed_path(key)
        number = run(_read_integer, value, f"{parameter} parameter")
        if parameter == "offset":
            offsets[path] = max(number, 0)  # a no-op in PostgREST, whose test suite pins it
            continue
        if number < 0:
            raise QueryParseError(
                "Requested range not satisfiable",
                code="PGRST103",
                details="Limit should be greater than or equal to zero.",
                http_status=416,
            )
        limits[path] = number
    paths = dict.fromkeys([*limits, *offsets])
    return tuple(Paging(offsets.get(path, 0), limits.get(path), path) for path in paths)


def _read_integer(cursor: Cursor) -> int:
    # PostgREST ignores a limit it cannot read (and returns every row); refuse it instead.
    cursor.skip_blanks()
    start = cursor.pos
    cursor.take("-")
    digits = cursor.pos
    while "0" <= cursor.peek() <= "9":
        cursor.pos += 1
    if cursor.pos == digits:
        raise cursor.fail("digit")
    number = int(cursor.text[start : cursor.pos])
    cursor.skip_blanks()
    cursor.require_end("digit")
    return number
