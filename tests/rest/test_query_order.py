"""`order=`, paging, `columns`, `on_conflict`, and how `parse_query` sorts parameters out."""

from __future__ import annotations

import pytest

from performer_edge.rest.query import (
    Query,
    QueryParseError,
    parse_columns,
    parse_order,
    parse_query,
)
from performer_edge.rest.query_ast import (
    Compare,
    Condition,
    Field,
    Filter,
    Is,
    JsonStep,
    LogicTree,
    OrderTerm,
    Paging,
    SelectColumn,
    SelectEmbed,
    SelectStar,
)

ORDERS = [
    ("name", [OrderTerm(Field("name"))]),
    ("name.desc", [OrderTerm(Field("name"), direction="desc")]),
    ("name.asc", [OrderTerm(Field("name"), direction="asc")]),
    ("name.nullsfirst", [OrderTerm(Field("name"), nulls="first")]),
    (
        "c1.desc.nullsfirst,c2.asc",
        [
            OrderTerm(Field("c1"), direction="desc", nulls="first"),
            OrderTerm(Field("c2"), direction="asc"),
        ],
    ),
    ("c.asc.nullslast", [OrderTerm(Field("c"), direction="asc", nulls="last")]),
    ("rel(col).desc", [OrderTerm(Field("col"), relation="rel", direction="desc")]),
    (
        "clients(json_col->key).desc.nullsfirst",
        [OrderTerm(Field("json_col", (JsonStep("->", "key"),)), "clients", "desc", "first")],
    ),
    (
        "json_col->key.asc.nullslast",
        [OrderTerm(Field("json_col", (JsonStep("->", "key"),)), direction="asc", nulls="last")],
    ),
    ("data->0.desc", [OrderTerm(Field("data", (JsonStep("->", 0),)), direction="desc")]),
    ("rel(data->0)", [OrderTerm(Field("data", (JsonStep("->", 0),)), relation="rel")]),
    (
        "name,clients(name),id",
        [
            OrderTerm(Field("name")),
            OrderTerm(Field("name"), relation="clients"),
            OrderTerm(Field("id")),
        ],
    ),
    (" a.desc , b ", [OrderTerm(Field("a"), direction="desc"), OrderTerm(Field("b"))]),
    ('"my col".desc', [OrderTerm(Field("my col"), direction="desc")]),
]


@pytest.mark.parametrize(("text", "expected"), ORDERS, ids=[t for t, _ in ORDERS])
def test_order_forms(text: str, expected: list[OrderTerm]) -> None:
    assert parse_order(text) == expected


# PostgREST's doctests for pOrder, message and details verbatim.
ORDER_ERRORS = [
    ("id.ac", 4, 'unexpected "c" expecting "asc", "desc", "nullsfirst" or "nullslast"'),
    ("id.descc", 8, "unexpected 'c' expecting delimiter (.), \",\" or end of input"),
    ("id.nulsfist", 4, 'unexpected "n" expecting "asc", "desc", "nullsfirst" or "nullslast"'),
    ("id.nullslasttt", 13, "unexpected 't' expecting \",\" or end of input"),
    ("id.smth34", 4, 'unexpected "s" expecting "asc", "desc", "nullsfirst" or "nullslast"'),
    ("id.asc.nlsfst", 8, 'unexpected "l" expecting "nullsfirst" or "nullslast"'),
    ("id.asc.nullslasttt", 17, "unexpected 't' expecting \",\" or end of input"),
    ("id.asc.smth34", 8, 'unexpected "s" expecting "nullsfirst" or "nullslast"'),
    (
        "clients(name,id)",
        8,
        'unexpected \'(\' expecting letter, digit, "-", "->>", "->", delimiter (.), "," or '
        "end of input",
    ),
    ("", 1, "unexpected end of input expecting field name (* or [a..z0..9_$])"),
]


@pytest.mark.parametrize(
    ("text", "column", "details"), ORDER_ERRORS, ids=[e[0] for e in ORDER_ERRORS]
)
def test_order_errors_read_like_postgrest(text: str, column: int, details: str) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_order(text)
    assert caught.value.error_code == "PGRST100"
    assert caught.value.message == f'"failed to parse order ({text})" (line 1, column {column})'
    assert caught.value.details == details


def test_columns_are_quoted_or_bare_names_in_order_without_repeats() -> None:
    assert parse_columns('"b","a"') == ("b", "a")
    assert parse_columns("a, b ,c") == ("a", "b", "c")
    assert parse_columns('"a","my col","a"') == ("a", "my col")
    with pytest.raises(QueryParseError) as caught:
        parse_columns("")
    assert caught.value.message == '"failed to parse columns parameter ()" (line 1, column 1)'
    assert caught.value.details == (
        "unexpected end of input expecting field name (* or [a..z0..9_$])"
    )


def q(query_string: str, **kwargs: bool) -> Query:
    pairs = [tuple(part.split("=", 1)) for part in query_string.split("&")]
    return parse_query(pairs, **kwargs)  # type: ignore[arg-type]


def test_select_defaults_to_star_and_takes_the_first_value() -> None:
    assert q("id=eq.1").select == (SelectStar(),)
    assert q("select=").select == ()
    assert q("select=a&select=b").select == (SelectColumn(Field("a")),)


def test_repeated_limit_keeps_the_last_value_as_postgrest() -> None:
    # py `.limit(5).range(10, 19)` sends limit twice
    query = q("select=*&limit=5&limit=10&offset=10")
    assert query.paging() == Paging(offset=10, limit=10)
    assert query.pagings == (Paging(offset=10, limit=10),)


def test_paging_per_level() -> None:
    query = q("limit=2&cities.limit=3&cities.offset=1&a.b.offset=4")
    assert query.paging() == Paging(limit=2)
    assert query.paging(("cities",)) == Paging(1, 3, ("cities",))
    assert query.paging(("a", "b")) == Paging(4, None, ("a", "b"))
    assert query.paging(("other",)) == Paging(embed_path=("other",))
    assert q("limit=0").paging() == Paging(limit=0)
    assert q("offset=-4").paging() == Paging()  # a no-op in PostgREST


def test_bad_limits() -> None:
    with pytest.raises(QueryParseError) as caught:
        q("limit=-1")
    assert (caught.value.error_code, caught.value.http_status) == ("PGRST103", 416)
    assert caught.value.message == "Requested range not satisfiable"
    assert caught.value.details == "Limit should be greater than or equal to zero."
    for value in ("abc", "1.5", "", "1 2", "--1"):
        with pytest.raises(QueryParseError, match=r"failed to parse (limit|offset) parameter"):
            q(f"limit={value}")
        with pytest.raises(QueryParseError, match=r"failed to parse (limit|offset) parameter"):
            q(f"offset={value}")


def test_order_per_level_and_the_first_repeat_wins() -> None:
    query = q("order=a.desc&cities.order=name&order=b")
    assert query.ordering() == (OrderTerm(Field("a"), direction="desc"),)
    assert query.ordering(("cities",)) == (OrderTerm(Field("name")),)
    assert query.ordering(("x",)) == ()


def test_filters_keep_their_order_and_repeats() -> None:
    query = q("id=gt.1&or=(a.eq.1)&id=lt.9&cities.name=is.null&select=*,cities(name)")
    assert query.filters == (
        Filter(Condition(Field("id"), Compare("gt", "1"))),
        Filter(LogicTree("or", (Condition(Field("a"), Compare("eq", "1")),))),
        Filter(Condition(Field("id"), Compare("lt", "9"))),
        Filter(Condition(Field("name"), Is("null")), ("cities",)),
    )
    assert query.select == (SelectStar(), SelectEmbed("cities", (SelectColumn(Field("name")),)))


def test_reserved_names() -> None:
    query = q('columns="b","a"&on_conflict=a,b&select=id')
    assert query.columns == ("b", "a")
    assert query.on_conflict == ("a", "b")
    assert query.filters == ()
    # `rel.select` is a filter on a column called select; `"or"` a filter on a column called or
    query = q('rel.select=eq.1&"or"=eq.2')
    assert [f.embed_path for f in query.filters] == [("rel",), ()]
    assert q("id=eq.1").columns is None
    with pytest.raises(QueryParseError, match="failed to parse on_conflict parameter"):
        q("on_conflict=")


def test_rpc_reads_take_operatorless_parameters_as_arguments() -> None:
    query = q('a={1,"b c"}&d={"k":1}&n=5&id=gt.1&limit=2', rpc_read=True)
    assert query.rpc_arguments == (("a", '{1,"b c"}'), ("d", '{"k":1}'), ("n", "5"))
    assert query.filters == (Filter(Condition(Field("id"), Compare("gt", "1"))),)
    assert query.paging() == Paging(limit=2)
    with pytest.raises(QueryParseError, match="failed to parse filter"):
        q("n=5")


def test_errors_come_in_postgrest_order() -> None:
    # order is parsed before select, select before filters
    with pytest.raises(QueryParseError, match="order"):
        q("select=a(&id=bad&order=x.up")
    with pytest.raises(QueryParseError, match="select parameter"):
        q("id=bad&select=a(")
