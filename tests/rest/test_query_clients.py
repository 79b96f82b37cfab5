"""What the official clients really send parses to what they mean.

supabase-js requests were captured from @supabase/postgrest-js 2.119.0 with a fake `fetch`
(supabase-wire.md describes the method); supabase-py requests are built live by postgrest-py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from performer_edge.rest.query import (
    Preferences,
    Query,
    ResponseFormat,
    parse_accept,
    parse_prefer,
    parse_query,
)
from performer_edge.rest.query_ast import (
    Compare,
    Condition,
    Field,
    Filter,
    FullTextSearch,
    In,
    Is,
    LogicTree,
    OrderTerm,
    Paging,
    Quantified,
    SelectColumn,
    SelectEmbed,
)


def from_url(url: str) -> Query:
    # Form decoding as the server does it: `+` is a space, then percent-decoding.
    return parse_query(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def conditions(query: Query) -> dict[str, object]:
    return {
        f.predicate.field.name: f.predicate.operation
        for f in query.filters
        if isinstance(f.predicate, Condition)
    }


JS_FILTERS = (
    "http://h/rest/v1/t?select=id%2Cname%2Ccities%21inner%28name%29&a=in.%28a%2C%22b%2Cc%22%2Cq%22x"
    "%29&tags=cs.%7Bx+y%2C%7Bz%7D%7D&j=cs.%7B%22k%22%3A1%7D&during=sr.%5B2000-01-02+08%3A00%2C+2000"
    "-01-02+09%3A00%29&t=wfts%28english%29.the+cat&or=%28a.eq.1%2Cand%28b.gt.2%2Cc.lt.3%29%29&y=not"
    ".is.null&z=not.in.%281%2C2%29"
)
JS_PAGING = (
    "http://h/rest/v1/t?select=*&n=like%28any%29.%7Ba*%2C*b%7D&n=ilike%28all%29.%7Bx%7D&a=eq.1&b=e"
    "q.x&x=is.null&o=ov.%7Ba%2Cb%7D&order=name.desc.nullsfirst&cities.order=name.asc&cities.limit"
    "=2&offset=10&limit=10"
)
JS_EMBEDDED_OR = (
    "http://h/rest/v1/t?select=*&cities.or=%28name.eq.x%29&w=match.%5Ea&w=imatch.%5Ea&v=isdistinct"
    ".3&e=in.%28%29"
)


def test_js_filters() -> None:
    query = from_url(JS_FILTERS)
    name = SelectColumn(Field("name"))
    assert query.select == (
        SelectColumn(Field("id")),
        name,
        SelectEmbed("cities", (name,), join="inner"),
    )
    assert conditions(query) == {
        "a": In(("a", "b,c", 'q"x')),  # js quotes only values with , ( )
        "tags": Compare("cs", "{x y,{z}}"),
        "j": Compare("cs", '{"k":1}'),
        "during": Compare("sr", "[2000-01-02 08:00, 2000-01-02 09:00)"),
        "t": FullTextSearch("wfts", "the cat", "english"),
        "y": Is("null"),
        "z": In(("1", "2")),
    }
    assert [f.predicate.negated for f in query.filters if isinstance(f.predicate, Condition)] == [
        *[False] * 5,
        True,
        True,
    ]
    (tree,) = [f.predicate for f in query.filters if isinstance(f.predicate, LogicTree)]
    assert tree.operator == "or" and isinstance(tree.children[1], LogicTree)


def test_js_paging_and_quantifiers() -> None:
    query = from_url(JS_PAGING)
    assert [f.predicate.operation for f in query.filters[:2]] == [  # type: ignore[union-attr]
        Quantified("like", "any", ("a*", "*b")),
        Quantified("ilike", "all", ("x",)),
    ]
    assert query.ordering() == (OrderTerm(Field("name"), direction="desc", nulls="first"),)
    assert query.ordering(("cities",)) == (OrderTerm(Field("name"), direction="asc"),)
    assert query.paging() == Paging(10, 10)
    assert query.paging(("cities",)) == Paging(0, 2, ("cities",))


def test_js_embedded_logic_and_empty_in() -> None:
    query = from_url(JS_EMBEDDED_OR)
    assert query.filters[0] == Filter(
        LogicTree("or", (Condition(Field("name"), Compare("eq", "x")),)), ("cities",)
    )
    assert query.filters[-1] == Filter(Condition(Field("e"), In(())))


def test_js_headers() -> None:
    assert parse_prefer(["count=exact, missing=default, return=representation"]) == Preferences(
        returning="representation", count="exact", missing="default"
    )
    assert parse_prefer(["handling=strict, max-affected=5"]).max_affected == 5
    assert parse_prefer(["count=exact, tx=rollback"]).tx == "rollback"
    plan = 'application/vnd.pgrst.plan+text; for="application/json"; options=analyze;'
    assert parse_accept(plan) == ResponseFormat("plan", plan_options=("analyze",))
    assert from_url("http://h/rest/v1/t?columns=%22a%22%2C%22b%22&select=*").columns == ("a", "b")
    assert from_url("http://h/rest/v1/t?on_conflict=a%2Cb").on_conflict == ("a", "b")


postgrest = pytest.importorskip("postgrest")


@pytest.fixture
def client() -> Any:
    return postgrest.SyncPostgrestClient("http://127.0.0.1:1")


def sent(builder: Any) -> tuple[Query, dict[str, str]]:
    request = builder.request
    pairs = parse_qsl(str(request.params), keep_blank_values=True)
    return parse_query(pairs), dict(request.headers)


def test_py_filters(client: Any) -> None:
    builder = (
        client.from_("t")
        .select("id, name", "cities!inner(name)")
        .in_("a", ["a,b", "c d", 'q"x'])
        .cs("tags", ["x y", "{z}", None, "", "NULL"])
        .eq("n", None)
        .eq("b", True)
        .eq("j", {"k": [1, 2]})
        .eq("e:f", 1)
        .ilike_all_of("i", "a*,*b")
        .is_("x", None)
        .not_.is_("y", None)
        .not_.in_("z", [1, 2])
        .text_search("t", "the cat", options={"config": "english"})
        .or_("a.eq.1,and(b.gt.2,c.lt.3)")
        .or_("name.eq.x", reference_table="cities")
        .sl("r", (1, 2))
    )
    query, _ = sent(builder)
    found = conditions(query)
    assert found["a"] == In(("a,b", "c d", 'q"x'))
    assert found["tags"] == Compare("cs", '{"x y","{z}",NULL,"","NULL"}')
    assert (found["n"], found["b"], found["j"]) == (
        Compare("eq", "null"),
        Compare("eq", "true"),
        Compare("eq", '{"k":[1,2]}'),
    )
    assert found["e:f"] == Compare("eq", "1")  # py quotes the key: "e:f"
    assert found["i"] == Quantified("ilike", "all", ("a*", "*b"))
    assert (found["x"], found["y"], found["z"]) == (Is("null"), Is("null"), In(("1", "2")))
    assert found["t"] == FullTextSearch("fts", "the cat", "english")
    assert found["r"] == Compare("sl", "(1,2)")
    trees = [f for f in query.filters if isinstance(f.predicate, LogicTree)]
    assert [t.embed_path for t in trees] == [(), ("cities",)]


def test_py_paging_and_mutations(client: Any) -> None:
    query, _ = sent(
        client.from_("t")
        .select("*")
        .order("name", desc=True, nullsfirst=True)
        .limit(5)
        .range(10, 19)
    )
    assert query.paging() == Paging(10, 10)  # sent as limit=5&limit=10&offset=10
    assert query.ordering() == (OrderTerm(Field("name"), direction="desc", nulls="first"),)
    query, headers = sent(
        client.from_("t").upsert([{"a": 1, "b": 2}], on_conflict="a,b", ignore_duplicates=True)
    )
    assert set(query.columns or ()) == {"a", "b"}  # py sends a set: any order
    assert query.on_conflict == ("a", "b")
    assert parse_prefer([headers["prefer"]]) == Preferences(
        returning="representation", resolution="ignore-duplicates"
    )
    query, headers = sent(client.from_("t").update({"a": 1}).eq("id", 1).max_affected(5))
    assert parse_prefer([headers["prefer"]]) == Preferences(
        returning="representation", handling="strict", max_affected=5
    )


def test_py_rpc_get_arguments(client: Any) -> None:
    request = client.rpc("fn", {"a": [1, "b c"], "d": {"k": 1}, "n": 5}, get=True).request
    pairs = parse_qsl(str(request.params), keep_blank_values=True)
    assert parse_query(pairs, rpc_read=True).rpc_arguments == (
        ("a", '{1,"b c"}'),
        ("d", '{"k":1}'),
        ("n", "5"),
    )
