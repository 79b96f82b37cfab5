"""supabase-wire.md §1.1 `rpc(...)` (POST, `get=True`, `head=True`) and §1.3 RPC responses:
set-returning, table-returning, scalar and void functions, with filters, modifiers and counts."""

from __future__ import annotations

import pytest
from supabase import Client

from .wire import Wire, api_error

pytestmark = pytest.mark.network

ALBANIA = [
    {"id": 1, "name": "Tirana", "population": 400000, "country_id": 1},
    {"id": 2, "name": "Durres", "population": 200000, "country_id": 1},
]


def test_post_set_returning_function(wire: Wire) -> None:
    assert wire.client.rpc("cities_of", {"code": "AL"}).execute().data == ALBANIA
    assert wire.last.request.method == "POST"
    assert wire.last.request.content == b'{"code":"AL"}'
    assert wire.last.status_code == 200
    assert wire.last.headers["Content-Range"] == "0-1/*"


def test_get_sends_arguments_in_the_query(wire: Wire) -> None:
    assert wire.client.rpc("cities_of", {"code": "AL"}, get=True).execute().data == ALBANIA
    assert wire.last.request.method == "GET"
    assert wire.last.request.url.params["code"] == "AL"
    assert wire.last.status_code == 200


def test_head_with_a_count(wire: Wire) -> None:
    response = wire.client.rpc("cities_of", {"code": "JP"}, head=True, count="exact").execute()
    assert (response.data, response.count) == ([], 2)
    assert wire.last.request.method == "HEAD"
    assert wire.last.headers["Content-Range"] == "0-1/2"


def test_scalar_function_returns_a_json_scalar(wire: Wire) -> None:
    assert wire.client.rpc("add", {"a": 2, "b": 40}).execute().data == 42
    assert wire.last.content == b"42"
    assert wire.client.rpc("add", {"a": -1, "b": 1}, get=True).execute().data == 0


def test_function_without_arguments(wire: Wire) -> None:
    assert wire.client.rpc("country_count", {}).execute().data == 4
    assert wire.last.request.content == b"{}"
    assert wire.client.rpc("country_count", {}, get=True).execute().data == 4


def test_table_returning_function(client: Client) -> None:
    assert client.rpc("film_titles", {}).execute().data == [
        {"title": "Alien", "released": 1979},
        {"title": "Aliens", "released": 1986},
        {"title": "Heat", "released": 1995},
        {"title": "Untitled", "released": None},
    ]


def test_array_argument_by_post_and_by_get(wire: Wire) -> None:
    titles = ["Alien", "Heat", "Nope"]
    posted = wire.client.rpc("tagged", {"wanted": titles}).select("id").execute().data
    assert posted == [{"id": 1}, {"id": 3}]
    got = wire.client.rpc("tagged", {"wanted": ["Aliens", "Heat"]}, get=True).select("id")
    assert got.execute().data == [{"id": 2}, {"id": 3}]
    assert wire.last.request.url.params["wanted"] == "{Aliens,Heat}"


def test_void_function_is_204_and_runs(wire: Wire) -> None:
    response = wire.client.rpc("rename_actor", {"actor": 4, "new_name": "William Paxton"}).execute()
    assert response.data == []
    assert wire.last.status_code == 204
    assert wire.last.content == b""
    name = wire.client.table("actors").select("name").eq("id", 4).single().execute().data
    assert name == {"name": "William Paxton"}


def test_select_filter_order_and_limit_on_the_result(client: Client) -> None:
    query = client.rpc("cities_of", {"code": "DZ"}).select("name, population")
    assert query.gt("population", 2000000).execute().data == [
        {"name": "Algiers", "population": 3000000}
    ]
    ordered = client.rpc("film_titles", {}).select("title").order("released", desc=True).limit(2)
    assert ordered.execute().data == [{"title": "Untitled"}, {"title": "Heat"}]


def test_embedding_from_a_function_result(client: Client) -> None:
    query = client.rpc("cities_of", {"code": "JP"}).select("name, countries(name)")
    assert query.execute().data == [
        {"name": "Tokyo", "countries": {"name": "Japan"}},
        {"name": "Osaka", "countries": {"name": "Japan"}},
    ]


def test_count_and_206_on_a_partial_page(wire: Wire) -> None:
    response = wire.client.rpc("cities_of", {"code": "DZ"}, count="exact").limit(1).execute()
    assert response.count == 2
    assert response.data == [{"id": 3, "name": "Algiers", "population": 3000000, "country_id": 2}]
    assert wire.last.status_code == 206
    assert wire.last.headers["Content-Range"] == "0-0/2"


def test_offset_past_the_end_is_416(wire: Wire) -> None:
    query = wire.client.rpc("cities_of", {"code": "DZ"}, count="exact").range(5, 6)
    assert api_error(query.execute).code == "PGRST103"
    assert wire.last.status_code == 416
    assert wire.last.headers["Content-Range"] == "*/2"


def test_single_on_a_function_result(wire: Wire) -> None:
    query = wire.client.rpc("cities_of", {"code": "AL"}).select("name").eq("id", 2)
    assert query.single().execute().data == {"name": "Durres"}
    error = api_error(wire.client.rpc("cities_of", {"code": "AL"}).single().execute)
    assert (error.code, error.details) == ("PGRST116", "The result contains 2 rows")


def test_csv_of_a_function_result(client: Client) -> None:
    query = client.rpc("film_titles", {}).select("title,released").lte("released", 1986)
    assert query.csv().execute().data == "title,released\nAlien,1979\nAliens,1986"
