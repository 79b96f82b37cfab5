"""supabase-wire.md §1.2 embedding: one-to-many, many-to-one, many-to-many, views, hints and
PGRST201 ambiguity, self references, `!inner`/`!left`, spread and nesting — through supabase-py."""

from __future__ import annotations

from typing import Any

import pytest
from supabase import Client

from .wire import Wire, api_error

pytestmark = pytest.mark.network


def rows(
    client: Client, table: str, columns: str, order: str = "id", **eq: Any
) -> list[dict[str, Any]]:
    query = client.table(table).select(columns)
    for column, value in eq.items():
        query = query.eq(column, value)
    result: list[dict[str, Any]] = query.order(order).execute().data
    return result


# -- cardinalities --------------------------------------------------------------------------------


def test_one_to_many_is_an_array_and_empty_when_nothing_matches(client: Client) -> None:
    assert rows(client, "countries", "name, cities(name)") == [
        {"name": "Albania", "cities": [{"name": "Tirana"}, {"name": "Durres"}]},
        {"name": "Algeria", "cities": [{"name": "Algiers"}, {"name": "Oran"}]},
        {"name": "Japan", "cities": [{"name": "Tokyo"}, {"name": "Osaka"}]},
        {"name": "Atlantis", "cities": []},
    ]


def test_many_to_one_is_an_object_or_null(client: Client) -> None:
    assert rows(client, "cities", "name, countries(iso2)", id=5) == [
        {"name": "Tokyo", "countries": {"iso2": "JP"}}
    ]
    assert rows(client, "cities", "name, countries(iso2)", name="Nowhere") == [
        {"name": "Nowhere", "countries": None}
    ]


def test_many_to_many_through_the_join_table(client: Client) -> None:
    assert rows(client, "films", "title, actors(name)") == [
        {"title": "Alien", "actors": [{"name": "Sigourney Weaver"}]},
        {"title": "Aliens", "actors": [{"name": "Sigourney Weaver"}, {"name": "Bill Paxton"}]},
        {"title": "Heat", "actors": [{"name": "Al Pacino"}, {"name": "Robert De Niro"}]},
        {"title": "Untitled", "actors": []},
    ]
    assert rows(client, "actors", "name, films(title)", id=1) == [
        {"name": "Sigourney Weaver", "films": [{"title": "Alien"}, {"title": "Aliens"}]}
    ]


def test_nested_embeds_at_depth(client: Client) -> None:
    assert rows(client, "films", "title, roles(character, actors(name))", id=3) == [
        {
            "title": "Heat",
            "roles": [
                {"character": "Hanna", "actors": {"name": "Al Pacino"}},
                {"character": "McCauley", "actors": {"name": "Robert De Niro"}},
            ],
        }
    ]
    assert rows(
        client, "roles", "character, films(title, roles(actors(name)))", "actor_id", film_id=1
    ) == [
        {
            "character": "Ripley",
            "films": {"title": "Alien", "roles": [{"actors": {"name": "Sigourney Weaver"}}]},
        }
    ]


def test_embedding_a_view_through_its_base_table_keys(client: Client) -> None:
    assert rows(client, "big_cities", "name, countries(name)") == [
        {"name": "Algiers", "countries": {"name": "Algeria"}},
        {"name": "Oran", "countries": {"name": "Algeria"}},
        {"name": "Tokyo", "countries": {"name": "Japan"}},
    ]
    assert rows(client, "countries", "iso2, big_cities(name)", id=2) == [
        {"iso2": "DZ", "big_cities": [{"name": "Algiers"}, {"name": "Oran"}]}
    ]


def test_view_embeds_take_inner_filters_and_spread(client: Client) -> None:
    query = client.table("countries").select("iso2, big_cities!inner(name)")
    assert query.lt("big_cities.population", 2000000).execute().data == [
        {"iso2": "DZ", "big_cities": [{"name": "Oran"}]}
    ]
    assert rows(client, "big_cities", "name, ...countries(iso2)", id=5) == [
        {"name": "Tokyo", "iso2": "JP"}
    ]


def test_alias_and_star_inside_an_embed(client: Client) -> None:
    assert rows(client, "cities", "name, country:countries(*)", id=1) == [
        {
            "name": "Tirana",
            "country": {"id": 1, "name": "Albania", "iso2": "AL", "continent": "Europe"},
        }
    ]


# -- hints and ambiguity ---------------------------------------------------------------------------


def test_two_foreign_keys_to_one_table_are_ambiguous_pgrst201(wire: Wire) -> None:
    error = api_error(lambda: wire.client.table("messages").select("body, people(name)").execute())
    assert error.code == "PGRST201"
    assert wire.last.status_code == 300
    assert error.message == (
        "Could not embed because more than one relationship was found for 'messages' and 'people'"
    )
    assert isinstance(error.details, list) and len(error.details) == 2
    assert {d["relationship"] for d in error.details} == {
        "messages_sender_fkey using messages(sender_id) and people(id)",
        "messages_receiver_fkey using messages(receiver_id) and people(id)",
    }


def test_hint_by_constraint_and_by_column(client: Client) -> None:
    columns = "body, from:people!messages_sender_fkey(name), to:people!receiver_id(name)"
    assert rows(client, "messages", columns) == [
        {"body": "hi Bo", "from": {"name": "Ann"}, "to": {"name": "Bo"}},
        {"body": "hi Ann", "from": {"name": "Bo"}, "to": {"name": "Ann"}},
        {"body": "hey Cy", "from": {"name": "Ann"}, "to": {"name": "Cy"}},
    ]


def test_foreign_key_column_as_the_embed_target(client: Client) -> None:
    assert rows(client, "messages", "body, sender_id(name)", id=2) == [
        {"body": "hi Ann", "sender_id": {"name": "Bo"}}
    ]


def test_hint_on_the_one_to_many_side(client: Client) -> None:
    assert rows(client, "people", "name, sent:messages!sender_id(body)", id=1) == [
        {"name": "Ann", "sent": [{"body": "hi Bo"}, {"body": "hey Cy"}]}
    ]
    assert rows(client, "people", "name, got:messages!messages_receiver_fkey(body)", id=1) == [
        {"name": "Ann", "got": [{"body": "hi Ann"}]}
    ]


def test_self_reference_table_name_is_one_to_many(client: Client) -> None:
    assert rows(client, "employees", "name, reports:employees(name)", id=1) == [
        {"name": "Ada", "reports": [{"name": "Brian"}, {"name": "Cleo"}]}
    ]
    assert rows(client, "employees", "name, employees!manager_id(name)", id=2) == [
        {"name": "Brian", "employees": [{"name": "Dan"}]}
    ]


def test_self_reference_column_is_many_to_one(client: Client) -> None:
    assert rows(client, "employees", "name, boss:manager_id(name, boss:manager_id(name))") == [
        {"name": "Ada", "boss": None},
        {"name": "Brian", "boss": {"name": "Ada", "boss": None}},
        {"name": "Cleo", "boss": {"name": "Ada", "boss": None}},
        {"name": "Dan", "boss": {"name": "Brian", "boss": {"name": "Ada"}}},
    ]


# -- join kinds, spread, embedded filters ---------------------------------------------------------


def test_inner_drops_parents_without_a_match(client: Client) -> None:
    countries = client.table("countries").select("name, cities!inner(name)")
    result = countries.gt("cities.population", 1000000).order("id").execute().data
    assert result == [
        {"name": "Algeria", "cities": [{"name": "Algiers"}, {"name": "Oran"}]},
        {"name": "Japan", "cities": [{"name": "Tokyo"}]},
    ]


def test_left_keeps_parents_and_filters_only_the_embed(client: Client) -> None:
    countries = client.table("countries").select("iso2, cities!left(name)")
    result = countries.gt("cities.population", 1000000).order("id").execute().data
    assert result == [
        {"iso2": "AL", "cities": []},
        {"iso2": "DZ", "cities": [{"name": "Algiers"}, {"name": "Oran"}]},
        {"iso2": "JP", "cities": [{"name": "Tokyo"}]},
        {"iso2": "AT", "cities": []},
    ]


def test_hint_with_inner(client: Client) -> None:
    query = client.table("people").select("name, messages!receiver_id!inner(body)")
    assert query.eq("messages.body", "hey Cy").execute().data == [
        {"name": "Cy", "messages": [{"body": "hey Cy"}]}
    ]


def test_empty_embed_filters_without_a_key(client: Client) -> None:
    query = client.table("countries").select("name, cities!inner()").eq("cities.name", "Oran")
    assert query.execute().data == [{"name": "Algeria"}]


def test_null_filter_on_an_embed_keeps_parents_without_children(client: Client) -> None:
    query = client.table("countries").select("name, cities(name)").is_("cities", "null")
    assert query.execute().data == [{"name": "Atlantis", "cities": []}]
    with_cities = client.table("countries").select("iso2, cities()").not_.is_("cities", "null")
    assert with_cities.order("id").execute().data == [
        {"iso2": "AL"},
        {"iso2": "DZ"},
        {"iso2": "JP"},
    ]


def test_spread_of_a_to_one_embed_flattens_its_columns(client: Client) -> None:
    assert rows(client, "cities", "name, ...countries(country:name, iso2)", id=3) == [
        {"name": "Algiers", "country": "Algeria", "iso2": "DZ"}
    ]
    assert rows(
        client, "roles", "character, ...actors(name), ...films(title)", "actor_id", film_id=2
    ) == [
        {"character": "Ripley", "name": "Sigourney Weaver", "title": "Aliens"},
        {"character": "Hudson", "name": "Bill Paxton", "title": "Aliens"},
    ]


def test_or_on_an_embedded_resource(client: Client) -> None:
    query = client.table("countries").select("iso2, cities(name)").in_("id", [1, 2])
    query = query.or_("name.eq.Durres,population.gt.2000000", reference_table="cities")
    assert query.order("id").execute().data == [
        {"iso2": "AL", "cities": [{"name": "Durres"}]},
        {"iso2": "DZ", "cities": [{"name": "Algiers"}]},
    ]


def test_nested_and_inside_or_on_an_embedded_resource(client: Client) -> None:
    query = client.table("countries").select("iso2, cities(name)").eq("id", 3)
    query = query.or_("name.eq.Osaka,and(population.gt.1,name.like.T*)", reference_table="cities")
    assert query.execute().data == [
        {"iso2": "JP", "cities": [{"name": "Tokyo"}, {"name": "Osaka"}]}
    ]


def test_order_limit_and_offset_on_an_embedded_resource(client: Client) -> None:
    query = client.table("countries").select("iso2, cities(name)").in_("id", [1, 3])
    query = query.order("name", foreign_table="cities").limit(1, foreign_table="cities")
    assert query.order("id").execute().data == [
        {"iso2": "AL", "cities": [{"name": "Durres"}]},
        {"iso2": "JP", "cities": [{"name": "Osaka"}]},
    ]
    ranged = client.table("countries").select("iso2, cities(name)").eq("id", 2)
    ranged = ranged.order("population", desc=True, foreign_table="cities")
    assert ranged.range(1, 1, foreign_table="cities").execute().data == [
        {"iso2": "DZ", "cities": [{"name": "Oran"}]}
    ]


def test_embedded_order_puts_nulls_where_postgres_does(client: Client) -> None:
    query = client.table("countries").select("iso2, cities(name)").eq("id", 3)
    desc = query.order("population", desc=True, foreign_table="cities").execute().data
    assert desc == [{"iso2": "JP", "cities": [{"name": "Osaka"}, {"name": "Tokyo"}]}]
    query = client.table("countries").select("iso2, cities(name)").eq("id", 3)
    asc = query.order("population", foreign_table="cities").execute().data
    assert asc == [{"iso2": "JP", "cities": [{"name": "Tokyo"}, {"name": "Osaka"}]}]


def test_order_by_a_to_one_relation(client: Client) -> None:
    query = client.table("cities").select("name, countries(name)").lte("id", 4)
    result = query.order("countries(name)", desc=True).order("id").execute().data
    assert [r["name"] for r in result] == ["Algiers", "Oran", "Tirana", "Durres"]


def test_negated_logic_on_an_embedded_resource(wire: Wire) -> None:
    response = wire.request(
        "GET",
        "countries",
        params={
            "select": "iso2,cities(name)",
            "id": "in.(1,2)",
            "order": "id",
            "cities.not.and": "(population.gt.300000,population.lt.2000000)",
        },
    )
    assert response.status_code == 200
    assert response.json() == [
        {"iso2": "AL", "cities": [{"name": "Durres"}]},
        {"iso2": "DZ", "cities": [{"name": "Algiers"}]},
    ]
