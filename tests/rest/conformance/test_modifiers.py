"""supabase-wire.md §1.2 ordering/paging and §1.3 read responses: order with Postgres null
placement, limit/offset/range (repeated `limit`: last wins), counts, Content-Range with
200/206/416, HEAD, single/maybe_single, csv and strip_nulls — through supabase-py."""

from __future__ import annotations

from typing import Any

import pytest
from supabase import Client

from .wire import Wire, api_error

pytestmark = pytest.mark.network

CITY_COUNT = 7


def ids(data: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in data]


# -- order -----------------------------------------------------------------------------------------

ORDERS: list[tuple[str, dict[str, Any], list[int]]] = [
    ("asc puts nulls last", {}, [7, 2, 1, 4, 3, 5, 6]),
    ("desc puts nulls first", {"desc": True}, [6, 5, 3, 4, 1, 2, 7]),
    ("asc.nullsfirst", {"nullsfirst": True}, [6, 7, 2, 1, 4, 3, 5]),
    ("desc.nullslast", {"desc": True, "nullsfirst": False}, [5, 3, 4, 1, 2, 7, 6]),
]


@pytest.mark.parametrize(("row", "options", "expected"), ORDERS, ids=[o[0] for o in ORDERS])
def test_order_null_placement(
    client: Client, row: str, options: dict[str, Any], expected: list[int]
) -> None:
    query = client.table("cities").select("id").order("population", **options)
    assert ids(query.execute().data) == expected


def test_several_orders_append(wire: Wire) -> None:
    query = wire.client.table("cities").select("id").order("country_id", desc=True)
    assert ids(query.order("name").execute().data) == [7, 6, 5, 3, 4, 2, 1]
    assert wire.last.request.url.params["order"] == "country_id.desc,name.asc"


def test_order_on_text_and_on_a_json_path(client: Client) -> None:
    assert ids(client.table("countries").select("id").order("name").execute().data) == [1, 2, 4, 3]
    films = client.table("films").select("id").order("info->>director", desc=True)
    assert ids(films.execute().data) == [4, 1, 3, 2]


def test_raw_order_without_direction(wire: Wire) -> None:
    response = wire.request("GET", "countries", params={"select": "id", "order": "iso2"})
    assert ids(response.json()) == [1, 4, 2, 3]


# -- paging, counts, Content-Range and statuses ----------------------------------------------------


def test_limit_and_offset(wire: Wire) -> None:
    data = wire.client.table("cities").select("id").order("id").limit(2).offset(3).execute().data
    assert ids(data) == [4, 5]
    assert wire.last.status_code == 200
    assert wire.last.headers["Content-Range"] == "3-4/*"


def test_range_sends_offset_and_limit(wire: Wire) -> None:
    data = wire.client.table("cities").select("id").order("id").range(1, 3).execute().data
    assert ids(data) == [2, 3, 4]
    assert wire.last.headers["Content-Range"] == "1-3/*"


def test_repeated_limit_keeps_the_last(wire: Wire) -> None:
    query = wire.client.table("cities").select("id").order("id").limit(5).range(2, 3)
    assert ids(query.execute().data) == [3, 4]
    assert wire.last.request.url.params.get_list("limit") == ["5", "2"]


def test_exact_count_on_a_partial_page_is_206(wire: Wire) -> None:
    query = wire.client.table("cities").select("id", count="exact").order("id").limit(2)
    response = query.execute()
    assert ids(response.data) == [1, 2]
    assert response.count == CITY_COUNT
    assert wire.last.status_code == 206
    assert wire.last.headers["Content-Range"] == "0-1/7"


def test_exact_count_on_every_row_is_200(wire: Wire) -> None:
    response = wire.client.table("cities").select("id", count="exact").execute()
    assert response.count == CITY_COUNT
    assert wire.last.status_code == 200
    assert wire.last.headers["Content-Range"] == "0-6/7"


def test_count_counts_the_filtered_rows(wire: Wire) -> None:
    query = wire.client.table("cities").select("id", count="exact").eq("country_id", 2)
    assert query.execute().count == 2
    assert wire.last.headers["Content-Range"] == "0-1/2"


def test_no_rows_with_a_count_is_star_over_zero(wire: Wire) -> None:
    response = wire.client.table("cities").select("id", count="exact").eq("id", 99).execute()
    assert (response.data, response.count) == ([], 0)
    assert wire.last.status_code == 200
    assert wire.last.headers["Content-Range"] == "*/0"


def test_no_rows_without_a_count_is_star_over_star(wire: Wire) -> None:
    assert wire.client.table("cities").select("id").eq("id", 99).execute().data == []
    assert wire.last.headers["Content-Range"] == "*/*"


def test_offset_at_the_total_is_an_empty_206(wire: Wire) -> None:
    response = wire.client.table("cities").select("id", count="exact").offset(7).execute()
    assert response.data == []
    assert wire.last.status_code == 206
    assert wire.last.headers["Content-Range"] == "*/7"


def test_offset_past_the_total_is_416(wire: Wire) -> None:
    query = wire.client.table("cities").select("id", count="exact").range(8, 9)
    error = api_error(query.execute)
    assert error.code == "PGRST103"
    assert error.message == "Requested range not satisfiable"
    assert error.details == "An offset of 8 was requested, but there are only 7 rows."
    assert wire.last.status_code == 416
    assert wire.last.headers["Content-Range"] == "*/7"


def test_offset_past_the_end_without_a_count_is_empty(wire: Wire) -> None:
    assert wire.client.table("cities").select("id").offset(20).execute().data == []
    assert wire.last.status_code == 200


@pytest.mark.parametrize("method", ["planned", "estimated"])
def test_planned_and_estimated_counts(wire: Wire, method: str) -> None:
    query = wire.client.table("cities").select("id", count=method).limit(1)  # type: ignore[arg-type]
    assert query.execute().count == CITY_COUNT
    assert wire.last.status_code == 206
    assert wire.last.headers["Content-Range"] == "0-0/7"


def test_head_with_count(wire: Wire) -> None:
    response = wire.client.table("cities").select("*", count="exact", head=True).execute()
    assert (response.data, response.count) == ([], CITY_COUNT)
    assert wire.last.request.method == "HEAD"
    assert wire.last.status_code == 200
    assert wire.last.content == b""
    assert wire.last.headers["Content-Range"] == "0-6/7"


def test_head_with_count_on_a_filtered_view(wire: Wire) -> None:
    query = wire.client.table("big_cities").select("*", count="exact", head=True).gt("id", 3)
    assert query.execute().count == 2


# -- single / maybe_single ------------------------------------------------------------------------


def test_single_returns_an_object(wire: Wire) -> None:
    one = wire.client.table("countries").select("iso2").eq("id", 3).single().execute()
    assert one.data == {"iso2": "JP"}
    assert wire.last.headers["Content-Type"] == "application/vnd.pgrst.object+json; charset=utf-8"


@pytest.mark.parametrize(("filter_id", "found"), [(99, 0), (None, 4)])
def test_single_of_not_one_row_is_406_pgrst116(
    wire: Wire, filter_id: int | None, found: int
) -> None:
    query = wire.client.table("countries").select("iso2")
    if filter_id is not None:
        query = query.eq("id", filter_id)
    error = api_error(query.single().execute)
    assert error.code == "PGRST116"
    assert error.message == "Cannot coerce the result to a single JSON object"
    assert error.details == f"The result contains {found} rows"
    assert wire.last.status_code == 406


def test_maybe_single(wire: Wire) -> None:
    table = wire.client.table("countries")
    one = table.select("iso2").eq("id", 1).maybe_single().execute()
    assert one is not None and one.data == {"iso2": "AL"}
    assert "vnd.pgrst.object" not in wire.last.request.headers.get("Accept", "")
    assert table.select("iso2").eq("id", 99).maybe_single().execute() is None
    error = api_error(table.select("iso2").maybe_single().execute)
    assert error.code == "406"


# -- csv and strip_nulls --------------------------------------------------------------------------


def test_csv_quotes_like_a_postgres_record(wire: Wire) -> None:
    query = wire.client.table("labels").select("id,label").in_("id", [1, 2, 3, 4, 5, 8, 9, 10])
    assert query.order("id").csv().execute().data == (
        'id,label\n1,plain\n2,"a,b"\n3,"c d"\n4,"q""x"\n5,"back\\\\slash"\n8,null\n9,""\n10,'
    )
    assert wire.last.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_csv_of_typed_values(client: Client) -> None:
    query = client.table("samples").select("id,flag,day,exact,label").order("id")
    assert (
        query.csv().execute().data
        == "id,flag,day,exact,label\n1,t,2024-01-31,12345.678,first\n2,f,,,"
    )


def test_csv_values_are_postgres_text(client: Client) -> None:
    query = client.table("samples").select("id,nums,words,at,at_tz,docb,raw").order("id")
    assert query.csv().execute().data == (
        "id,nums,words,at,at_tz,docb,raw\n"
        '1,"{1,2,3}","{""a b"",c,""d,e""}","2024-01-01 12:00:00","2024-01-01 10:00:00+00",'
        '"{""a"": [1, 2], ""b"": 1}","\\\\x0001ff"\n'
        "2,{},{},,,,"
    )


def test_csv_of_aggregates_and_embeds(client: Client) -> None:
    query = client.table("countries").select("iso2,cities(name),n:cities(count)").eq("id", 1)
    assert query.csv().execute().data == (
        'iso2,cities,n\nAL,"[{""name"":""Tirana""},{""name"":""Durres""}]","[{""count"":2}]"'
    )


def test_csv_of_no_rows_is_a_bare_newline(client: Client) -> None:
    assert client.table("labels").select("id").eq("id", 99).csv().execute().data == "\n"


def test_strip_nulls_drops_null_keys(wire: Wire) -> None:
    query = wire.client.table("countries").select("name, continent").in_("id", [3, 4])
    assert query.order("id").strip_nulls().execute().data == [
        {"name": "Japan", "continent": "Asia"},
        {"name": "Atlantis"},
    ]
    accept = wire.last.request.headers["Accept"]
    assert accept == "application/vnd.pgrst.array+json;nulls=stripped"
    assert wire.last.status_code == 200


def test_strip_nulls_with_single(client: Client) -> None:
    query = client.table("countries").select("name, continent").eq("id", 4)
    assert query.strip_nulls().single().execute().data == {"name": "Atlantis"}


def test_strip_nulls_applies_inside_embeds(client: Client) -> None:
    query = client.table("cities").select("name, population, countries(continent)")
    assert query.in_("id", [6, 7]).order("id").strip_nulls().execute().data == [
        {"name": "Osaka", "countries": {"continent": "Asia"}},
        {"name": "Nowhere", "population": 10},
    ]


def test_strip_nulls_is_recursive(client: Client) -> None:
    query = client.table("employees").select("name, boss:manager_id(name, boss:manager_id(name))")
    assert query.eq("id", 2).strip_nulls().execute().data == [
        {"name": "Brian", "boss": {"name": "Ada"}}
    ]
