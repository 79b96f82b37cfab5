"""supabase-wire.md §1.2 `select=`: every select form through supabase-py — columns, aliases,
casts, JSON paths and aggregates — asserting the rows and keys PostgREST returns."""

from __future__ import annotations

from typing import Any

import pytest
from supabase import Client

from .wire import Wire

pytestmark = pytest.mark.network

COUNTRIES = [
    {"id": 1, "name": "Albania", "iso2": "AL", "continent": "Europe"},
    {"id": 2, "name": "Algeria", "iso2": "DZ", "continent": "Africa"},
    {"id": 3, "name": "Japan", "iso2": "JP", "continent": "Asia"},
    {"id": 4, "name": "Atlantis", "iso2": "AT", "continent": None},
]

# (spec form, select as the caller writes it, rows of `cities` with id <= 2)
CITY_SELECTS: list[tuple[str, str, list[dict[str, Any]]]] = [
    ("col", "name", [{"name": "Tirana"}, {"name": "Durres"}]),
    (
        "cols with whitespace",
        "name,  population",
        [{"name": "Tirana", "population": 400000}, {"name": "Durres", "population": 200000}],
    ),
    ("alias:col", "city:name", [{"city": "Tirana"}, {"city": "Durres"}]),
    ("col::cast", "population::text", [{"population": "400000"}, {"population": "200000"}]),
    ("alias:col::cast", "pop:population::text", [{"pop": "400000"}, {"pop": "200000"}]),
    ("cast to numeric", "id::numeric", [{"id": 1}, {"id": 2}]),
    (
        "same column twice under aliases",
        "a:name,b:name",
        [{"a": "Tirana", "b": "Tirana"}, {"a": "Durres", "b": "Durres"}],
    ),
]


def test_select_star_returns_every_column_in_primary_key_order(client: Client) -> None:
    assert client.table("countries").select("*").execute().data == COUNTRIES


def test_select_without_arguments_is_star(client: Client) -> None:
    assert client.table("countries").select().execute().data == COUNTRIES


@pytest.mark.parametrize(
    ("form", "columns", "rows"), CITY_SELECTS, ids=[c[0] for c in CITY_SELECTS]
)
def test_select_forms(client: Client, form: str, columns: str, rows: list[dict[str, Any]]) -> None:
    assert client.table("cities").select(columns).lte("id", 2).order("id").execute().data == rows


def test_select_sends_cleaned_columns(wire: Wire) -> None:
    wire.client.table("cities").select("name, population").eq("id", 1).execute()
    assert wire.last.request.url.params["select"] == "name,population"
    assert wire.last.status_code == 200


# -- JSON paths: the output key is the last key of the path unless aliased ------------------------

JSON_SELECTS: list[tuple[str, str, list[dict[str, Any]]]] = [
    ("->key gives json", "info->director", [{"director": "Scott"}, {"director": "Cameron"}]),
    ("->>key gives text", "info->>budget", [{"budget": "11"}, {"budget": "18"}]),
    ("->key keeps numbers", "info->budget", [{"budget": 11}, {"budget": 18}]),
    ("alias on a path", "boss:info->>director", [{"boss": "Scott"}, {"boss": "Cameron"}]),
    (
        "->array index takes the last key",
        "info->awards->0",
        [{"awards": "oscar"}, {"awards": None}],
    ),
    ("->>array index", "info->awards->>0", [{"awards": "oscar"}, {"awards": None}]),
    ("missing key is null", "info->>nothing", [{"nothing": None}, {"nothing": None}]),
    ("whole object", "info->awards", [{"awards": ["oscar"]}, {"awards": None}]),
    (
        "path and cast",
        "info->>budget::int",
        [{"budget": 11}, {"budget": 18}],
    ),
]


@pytest.mark.parametrize(
    ("form", "columns", "rows"), JSON_SELECTS, ids=[c[0] for c in JSON_SELECTS]
)
def test_select_json_paths(
    client: Client, form: str, columns: str, rows: list[dict[str, Any]]
) -> None:
    films = client.table("films").select(columns).in_("id", [1, 2]).order("id")
    assert films.execute().data == rows


def test_json_path_on_a_null_document_is_null(client: Client) -> None:
    assert client.table("films").select("info->>director").eq("id", 4).execute().data == [
        {"director": None}
    ]


# -- aggregates (PostgREST with db-aggregates-enabled) --------------------------------------------


def test_count_of_all_rows(client: Client) -> None:
    assert client.table("cities").select("count()").execute().data == [{"count": 7}]


def test_aliased_count(client: Client) -> None:
    assert client.table("cities").select("total:count()").execute().data == [{"total": 7}]


def test_column_aggregates_group_by_the_plain_columns(client: Client) -> None:
    rows = (
        client.table("cities")
        .select("country_id, population.sum(), population.max(), id.count()")
        .not_.is_("country_id", "null")
        .order("country_id")
        .execute()
        .data
    )
    assert rows == [
        {"country_id": 1, "sum": 600000, "max": 400000, "count": 2},
        {"country_id": 2, "sum": 4500000, "max": 3000000, "count": 2},
        {"country_id": 3, "sum": 14000000, "max": 14000000, "count": 2},
    ]


def test_avg_min_and_aggregate_cast(client: Client) -> None:
    rows = (
        client.table("cities")
        .select("population.avg()::int, population.min(), lowest:population.min()::text")
        .eq("country_id", 1)
        .execute()
        .data
    )
    assert rows == [{"avg": 300000, "min": 200000, "lowest": "200000"}]


def test_count_inside_an_embed(client: Client) -> None:
    query = client.table("countries").select("name, cities(count)").order("id")
    assert query.execute().data == [
        {"name": "Albania", "cities": [{"count": 2}]},
        {"name": "Algeria", "cities": [{"count": 2}]},
        {"name": "Japan", "cities": [{"count": 2}]},
        {"name": "Atlantis", "cities": [{"count": 0}]},
    ]


def test_aggregates_inside_an_embed(client: Client) -> None:
    query = client.table("countries").select("iso2, cities(total:population.sum(), id.count())")
    assert query.in_("id", [2, 4]).order("id").execute().data == [
        {"iso2": "DZ", "cities": [{"total": 4500000, "count": 2}]},
        {"iso2": "AT", "cities": [{"total": None, "count": 0}]},
    ]
