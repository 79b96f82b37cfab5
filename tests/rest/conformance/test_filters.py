"""supabase-wire.md §1.2 filters: every operator the clients emit (with quantifiers, quoting,
`not.`, nested `or`/`and`, JSON paths), each as a scenario row of the ids PostgREST returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from supabase import Client

from .wire import Wire

pytestmark = pytest.mark.network

Filter = Callable[[Any], Any]

# (spec row, table, filters applied to `select("id")`, ids returned in id order)
SCENARIOS: list[tuple[str, str, Filter, list[int]]] = [
    ("eq", "cities", lambda q: q.eq("name", "Oran"), [4]),
    ("eq with a space", "actors", lambda q: q.eq("name", "Al Pacino"), [2]),
    ("neq", "countries", lambda q: q.neq("iso2", "AL"), [2, 3, 4]),
    ("gt", "cities", lambda q: q.gt("population", 1500000), [3, 5]),
    ("gte", "cities", lambda q: q.gte("population", 1500000), [3, 4, 5]),
    ("lt", "cities", lambda q: q.lt("population", 200000), [7]),
    ("lte", "cities", lambda q: q.lte("population", 200000), [2, 7]),
    ("repeated keys are AND", "cities", lambda q: q.gt("id", 2).lt("id", 5), [3, 4]),
    ("gt on text", "countries", lambda q: q.gt("name", "Algeria"), [3, 4]),
    ("like with *", "cities", lambda q: q.like("name", "O*"), [4, 6]),
    ("like is case-sensitive", "cities", lambda q: q.like("name", "o*"), []),
    ("ilike", "cities", lambda q: q.ilike("name", "*KY*"), [5]),
    ("like with an encoded %", "labels", lambda q: q.like("label", "100%"), [13]),
    ("like(any)", "cities", lambda q: q.like_any_of("name", "T*,*an"), [1, 4, 5]),
    ("like(all)", "cities", lambda q: q.like_all_of("name", "T*,*a"), [1]),
    ("ilike(any)", "cities", lambda q: q.ilike_any_of("name", "t*,*AN"), [1, 4, 5]),
    ("ilike(all)", "cities", lambda q: q.ilike_all_of("name", "*A*,*R*"), [1, 3, 4]),
    ("eq(any)", "cities", lambda q: q.filter("id", "eq(any)", "{1,3,9}"), [1, 3]),
    (
        "gt(all)",
        "cities",
        lambda q: q.filter("population", "gt(all)", "{300000,1000000}"),
        [3, 4, 5],
    ),
    ("lt(any)", "cities", lambda q: q.filter("population", "lt(any)", "{100,300000}"), [2, 7]),
    ("match", "cities", lambda q: q.filter("name", "match", "^[AO]"), [3, 4, 6]),
    ("imatch", "cities", lambda q: q.filter("name", "imatch", "^t.*a$"), [1]),
    ("match(any)", "cities", lambda q: q.filter("name", "match(any)", "{^D,o$}"), [2, 5]),
    ("is null", "cities", lambda q: q.is_("population", "null"), [6]),
    ("is_ None", "cities", lambda q: q.is_("country_id", None), [7]),
    ("is NULL is case-insensitive", "cities", lambda q: q.filter("population", "is", "NULL"), [6]),
    ("is not_null", "countries", lambda q: q.filter("continent", "is", "not_null"), [1, 2, 3]),
    ("is true", "samples", lambda q: q.is_("flag", True), [1]),
    ("is false", "samples", lambda q: q.is_("flag", "false"), [2]),
    ("is unknown", "samples", lambda q: q.filter("flag", "is", "unknown"), []),
    ("isdistinct", "countries", lambda q: q.filter("continent", "isdistinct", "Asia"), [1, 2, 4]),
    ("in", "cities", lambda q: q.in_("name", ["Oran", "Osaka", "Paris"]), [4, 6]),
    ("in on numbers", "cities", lambda q: q.in_("id", [7, 2]), [2, 7]),
    ("in with a comma", "labels", lambda q: q.in_("label", ["a,b", "plain"]), [1, 2]),
    ("in with a space", "labels", lambda q: q.in_("label", ["c d"]), [3]),
    ("in with a quote", "labels", lambda q: q.in_("label", ['q"x']), [4]),
    ("in with a backslash", "labels", lambda q: q.in_("label", ["back\\slash"]), [5]),
    ("in with parentheses", "labels", lambda q: q.in_("label", ["(paren)", "x:y"]), [6, 7]),
    ("in with the string null", "labels", lambda q: q.in_("label", ["null"]), [8]),
    ("in with an empty string", "labels", lambda q: q.filter("label", "in", '("")'), [9]),
    ("eq with a plus", "labels", lambda q: q.eq("label", "1+1"), [11]),
    ("eq with unicode", "labels", lambda q: q.eq("label", "ünï"), [12]),
    ("eq with a comma", "labels", lambda q: q.eq("label", "a,b"), [2]),
    ("eq on the empty string", "labels", lambda q: q.eq("label", ""), [9]),
    ("cs on text[]", "films", lambda q: q.contains("tags", ["scifi"]), [1, 2]),
    ("cs on text[] needs all", "films", lambda q: q.cs("tags", ["scifi", "horror"]), [1]),
    ("cs with the empty array", "films", lambda q: q.contains("tags", []), [1, 2, 3, 4]),
    (
        "cd on text[]",
        "films",
        lambda q: q.contained_by("tags", ["scifi", "action", "crime"]),
        [2, 3, 4],
    ),
    ("ov on text[]", "films", lambda q: q.overlaps("tags", ["horror", "crime"]), [1, 3]),
    ("cs on int[]", "samples", lambda q: q.contains("nums", [3, 1]), [1]),
    ("cs on text[] with quoting", "samples", lambda q: q.contains("words", ["a b", "d,e"]), [1]),
    ("cs on jsonb", "films", lambda q: q.contains("info", {"director": "Scott"}), [1]),
    ("cs on jsonb nested", "films", lambda q: q.contains("info", {"awards": ["oscar"]}), [1]),
    ("cs on jsonb as a string", "films", lambda q: q.filter("info", "cs", '{"budget":18}'), [2]),
    (
        "cd on jsonb",
        "films",
        lambda q: q.contained_by("info", {"director": "Mann", "budget": 1}),
        [3],
    ),
    ("not.eq", "countries", lambda q: q.not_.eq("iso2", "DZ"), [1, 3, 4]),
    ("not.in", "cities", lambda q: q.not_.in_("id", [1, 2, 3, 4, 5]), [6, 7]),
    ("not.is null", "cities", lambda q: q.not_.is_("country_id", "null"), [1, 2, 3, 4, 5, 6]),
    ("not.like", "cities", lambda q: q.not_.like("name", "*o*"), [1, 2, 3, 4, 6]),
    ("not.cs", "films", lambda q: q.not_.contains("tags", ["scifi"]), [3, 4]),
    ("not with a quantifier", "cities", lambda q: q.not_.like_any_of("name", "T*,O*"), [2, 3, 7]),
    ("or", "cities", lambda q: q.or_("id.eq.2,population.gt.10000000"), [2, 5]),
    (
        "or with nested and",
        "cities",
        lambda q: q.or_("id.eq.1,and(population.gt.1,name.like.O*)"),
        [1, 4],
    ),
    ("or with not.and", "cities", lambda q: q.or_("not.and(id.gt.1,id.lt.7)"), [1, 7]),
    ("or with in and is", "cities", lambda q: q.or_("id.in.(1,2),population.is.null"), [1, 2, 6]),
    (
        "or with quoted values",
        "labels",
        lambda q: q.or_('label.eq."a,b",label.in.("(paren)",plain)'),
        [1, 2, 6],
    ),
    ("or with cs", "films", lambda q: q.or_("tags.cs.{crime},released.is.null"), [3, 4]),
    (
        "or with a quantifier",
        "cities",
        lambda q: q.or_("name.like(any).{T*,D*},id.eq.7"),
        [1, 2, 5, 7],
    ),
    ("or AND another filter", "cities", lambda q: q.or_("id.lt.3,id.gt.5").neq("id", 7), [1, 2, 6]),
    ("not.or", "cities", lambda q: q.not_.or_("id.lt.3,id.gt.5"), [3, 4, 5]),
    (
        "or on a JSON path",
        "films",
        lambda q: q.or_("info->>director.eq.Mann,info->budget.gt.15"),
        [2, 3],
    ),
    ("JSON path ->>", "films", lambda q: q.eq("info->>director", "Cameron"), [2]),
    ("JSON path -> compares json", "films", lambda q: q.gt("info->budget", 12), [2]),
    ("JSON path nested", "films", lambda q: q.eq("info->awards->>0", "oscar"), [1]),
    ("match(dict)", "cities", lambda q: q.match({"country_id": 2, "name": "Oran"}), [4]),
    ("eq on uuid", "samples", lambda q: q.eq("uid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), [1]),
    ("eq on boolean", "samples", lambda q: q.eq("flag", False), [2]),
    ("gte on date", "samples", lambda q: q.gte("day", "2024-01-01"), [1]),
    ("lt on timestamptz", "samples", lambda q: q.lt("at_tz", "2024-01-01T11:00:00Z"), [1]),
    ("gt on timestamp", "samples", lambda q: q.gt("at", "2024-01-01T11:59:59"), [1]),
    ("eq on numeric", "samples", lambda q: q.eq("exact", 12345.678), [1]),
    ("lt on bigint beyond 2^53", "samples", lambda q: q.lt("big", 9007199254740994), [1]),
    ("eq on varchar", "samples", lambda q: q.eq("code", "AB12"), [1]),
    ("filter on a view", "big_cities", lambda q: q.lt("population", 5000000), [3, 4]),
]


@pytest.mark.parametrize(("row", "table", "apply", "ids"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_filter(client: Client, row: str, table: str, apply: Filter, ids: list[int]) -> None:
    query = apply(client.table(table).select("id"))
    assert [r["id"] for r in query.order("id").execute().data] == ids


# Forms supabase-py has no builder for; sent as PostgREST reads them.
RAW: list[tuple[str, str, dict[str, str], list[int]]] = [
    ("and", "cities", {"and": "(id.gt.1,id.lt.4)"}, [2, 3]),
    ("and with nested or", "cities", {"and": "(id.lt.6,or(name.eq.Oran,name.eq.Tirana))"}, [1, 4]),
    ("not.and", "cities", {"not.and": "(id.gt.1,id.lt.7)"}, [1, 7]),
    ("whitespace inside or", "cities", {"or": "( id.eq.1 , id.eq.3 )"}, [1, 3]),
    ("like with %", "cities", {"name": "like.T%"}, [1, 5]),
    ("eq on a quoted column name", "cities", {'"name"': "eq.Oran"}, [4]),
]


@pytest.mark.parametrize(("row", "table", "params", "ids"), RAW, ids=[r[0] for r in RAW])
def test_raw_filter(
    wire: Wire, row: str, table: str, params: dict[str, str], ids: list[int]
) -> None:
    response = wire.request("GET", table, params={"select": "id", "order": "id", **params})
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()] == ids


def test_full_text_search_smoke(client: Client) -> None:
    query = client.table("films").select("id").text_search("title", "heat")
    assert [r["id"] for r in query.execute().data] == [3]
