"""Properties of the query parsers: total on any text, and the inverse of the renderers."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from performer_edge.rest.query import (
    Preferences,
    QueryParseError,
    parse_accept,
    parse_array_literal,
    parse_columns,
    parse_filter,
    parse_order,
    parse_prefer,
    parse_query,
    parse_range_header,
    parse_select,
)
from performer_edge.rest.query_ast import (
    Compare,
    Condition,
    Field,
    Filter,
    FullTextSearch,
    In,
    Is,
    JsonStep,
    LogicTree,
    OrderTerm,
    Predicate,
    Quantified,
    SelectColumn,
    SelectCount,
    SelectEmbed,
    SelectItem,
    SelectSpread,
    SelectStar,
)
from performer_edge.rest.query_render import (
    render_array_literal,
    render_filter,
    render_order,
    render_select,
)
from performer_edge.rest.query_select import AGGREGATES

# --- (a) any text: a QueryParseError or a result, never another exception -----------------------

# Pieces of the grammar, so random text reaches deep into the parsers rather than failing early.
TOKENS = [
    *"abcxyz019_$-.,:()!*\"\\{}[]> \t\n'é",
    *("eq.", "not.", "or(", "and(", "in.(", "is.", "->", "->>", "::", "...", "count()"),
    *(".sum()", ".asc", ".nullsfirst", "(any).", "fts(", "isdistinct.", "!inner", "null"),
]
grammarish = st.one_of(st.text(), st.lists(st.sampled_from(TOKENS), max_size=24).map("".join))


def assert_total(parse: Callable[[], object]) -> None:
    """`parse` returns, or raises a QueryParseError with one of our codes and PostgREST's shape."""
    try:
        parse()
    except QueryParseError as caught:
        error = caught
    else:
        return
    assert error.error_code in ("PGRST100", "PGRST103", "PGRST107", "PGRST122", "22P02")
    if error.error_code == "PGRST100":
        assert error.message.startswith('"failed to parse ')
        assert "(line " in error.message and isinstance(error.details, str)


@settings(max_examples=400)
@given(grammarish)
def test_select_order_columns_and_arrays_are_total(text: str) -> None:
    for parse in (parse_select, parse_order, parse_columns, parse_array_literal):
        assert_total(lambda parse=parse: parse(text))  # type: ignore[misc]


@settings(max_examples=400)
@given(st.one_of(grammarish, st.sampled_from(["or", "not.and", "a.b", "x.or"])), grammarish)
def test_filters_are_total(key: str, value: str) -> None:
    assert_total(lambda: parse_filter(key, value))
    assert_total(lambda: parse_query([(key, value)], rpc_read=True))


@given(st.lists(grammarish, max_size=3), grammarish)
def test_headers_are_total(lines: list[str], text: str) -> None:
    assert_total(lambda: parse_prefer(lines))
    assert_total(lambda: parse_prefer([*lines, "handling=strict"]))
    assert_total(lambda: parse_accept(text))
    assert_total(lambda: parse_range_header(text))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["select", "order", "a.limit", "offset", "columns", "x"]), grammarish
        ),
        max_size=4,
    )
)
def test_whole_queries_are_total(pairs: list[tuple[str, str]]) -> None:
    assert_total(lambda: parse_query(pairs))


# --- (b) render then parse gives the value back ---------------------------------------------------

names = st.one_of(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True), st.text(max_size=6))
identifiers = st.from_regex(r"[a-z_][a-z0-9_$]{0,6}( [a-z0-9_]{1,4})?", fullmatch=True)
json_steps = st.builds(
    JsonStep, st.sampled_from(["->", "->>"]), st.one_of(st.integers(-50, 50), names)
)
fields = st.builds(Field, names, st.lists(json_steps, max_size=3).map(tuple))
maybe = st.none().__or__


@st.composite
def select_columns(draw: st.DrawFn) -> SelectColumn:
    aggregate = draw(maybe(st.sampled_from(AGGREGATES)))
    return SelectColumn(
        draw(fields),
        alias=draw(maybe(names)),
        cast=draw(maybe(identifiers)),
        aggregate=aggregate,
        aggregate_cast=draw(maybe(identifiers)) if aggregate else None,
    )


def relations(items: st.SearchStrategy[SelectItem]) -> st.SearchStrategy[SelectItem]:
    children = st.lists(items, max_size=3).map(tuple)
    joins = maybe(st.sampled_from(["inner", "left"]))
    return st.one_of(
        st.builds(SelectEmbed, names, children, maybe(names), maybe(names), joins),
        st.builds(SelectSpread, names, children, maybe(names), joins),
    )


select_items = st.recursive(
    st.one_of(
        st.just(SelectStar()),
        st.builds(SelectCount, maybe(names), maybe(identifiers)),
        select_columns(),
    ),
    relations,
    max_leaves=8,
)


@given(st.lists(select_items, max_size=4))
def test_select_round_trips(items: list[SelectItem]) -> None:
    assert parse_select(render_select(items)) == items


values = st.text(max_size=8)
operations = st.one_of(
    st.builds(
        Compare,
        st.sampled_from(["eq", "neq", "gt", "lte", "like", "imatch", "isdistinct", "cs", "adj"]),
        values,
    ),
    st.builds(
        Quantified,
        st.sampled_from(["eq", "gte", "like", "ilike", "match"]),
        st.sampled_from(["any", "all"]),
        st.lists(maybe(values), max_size=3).map(tuple),
    ),
    st.builds(In, st.lists(values, max_size=3).map(tuple)),
    st.builds(Is, st.sampled_from(["null", "not_null", "true", "false", "unknown"])),
    st.builds(
        FullTextSearch,
        st.sampled_from(["fts", "plfts", "phfts", "wfts"]),
        values,
        maybe(identifiers),
    ),
)
conditions = st.builds(Condition, fields, operations, st.booleans())
predicates: st.SearchStrategy[Predicate] = st.recursive(
    conditions,
    lambda children: st.builds(
        LogicTree,
        st.sampled_from(["and", "or"]),
        st.lists(children, min_size=1, max_size=3).map(tuple),
        st.booleans(),
    ),
    max_leaves=8,
)
# PostgREST drops `not` from a logic key's path wherever it stands: no embed can be called that.
embed_paths = st.lists(names.filter(lambda name: name != "not"), max_size=2).map(tuple)


@given(st.builds(Filter, predicates, embed_paths))
def test_filter_round_trips(query_filter: Filter) -> None:
    key, value = render_filter(query_filter)
    assert parse_filter(key, value) == query_filter
    assert parse_query([(key, value)]).filters == (query_filter,)


order_terms = st.builds(
    OrderTerm,
    fields,
    maybe(names),
    maybe(st.sampled_from(["asc", "desc"])),
    maybe(st.sampled_from(["first", "last"])),
)


@given(st.lists(order_terms, min_size=1, max_size=4))
def test_order_round_trips(terms: list[OrderTerm]) -> None:
    assert parse_order(render_order(terms)) == terms


@given(st.lists(maybe(st.text(max_size=6)), max_size=5))
def test_array_literals_round_trip(elements: list[str | None]) -> None:
    assert parse_array_literal(render_array_literal(elements)) == tuple(elements)


@given(
    st.builds(
        Preferences,
        returning=maybe(st.sampled_from(["representation", "minimal", "headers-only"])),
        count=maybe(st.sampled_from(["exact", "planned", "estimated"])),
        resolution=maybe(st.sampled_from(["merge-duplicates", "ignore-duplicates"])),
        missing=maybe(st.sampled_from(["default", "null"])),
        handling=maybe(st.sampled_from(["strict", "lenient"])),
        max_affected=maybe(st.integers(0, 10**12)),
        tx=maybe(st.sampled_from(["commit", "rollback"])),
        params=maybe(st.just("single-object")),
        timezone=maybe(st.sampled_from(["UTC", "America/Los_Angeles"])),
    ),
    st.sampled_from([",", ", ", " ,  "]),
)
def test_preferences_round_trip(preferences: Preferences, separator: str) -> None:
    tokens = [
        f"{name}={value}"
        for name, value in [
            ("return", preferences.returning),
            ("count", preferences.count),
            ("resolution", preferences.resolution),
            ("missing", preferences.missing),
            ("handling", preferences.handling),
            ("max-affected", preferences.max_affected),
            ("tx", preferences.tx),
            ("params", preferences.params),
            ("timezone", preferences.timezone),
        ]
        if value is not None
    ]
    assert parse_prefer([separator.join(tokens)]) == preferences


# --- rendering is a normal form: whatever parses, renders to something that parses the same -----


@settings(max_examples=300)
@given(grammarish)
def test_rendered_select_and_order_reparse_identically(text: str) -> None:
    for parse, render in ((parse_select, render_select), (parse_order, render_order)):
        try:
            parsed = parse(text)
        except QueryParseError:
            continue
        assert parse(render(parsed)) == parsed  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.sampled_from(["a", "or", "not.and", "r.or", "r.a->b"]), grammarish)
def test_rendered_filters_reparse_identically(key: str, value: str) -> None:
    try:
        parsed = parse_filter(key, value)
    except QueryParseError:
        return
    assert parse_filter(*render_filter(parsed)) == parsed
