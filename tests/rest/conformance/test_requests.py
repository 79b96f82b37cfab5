"""supabase-wire.md §1.1 request forms beyond the query string: the headers supabase-py sends,
`schema()`, `explain()`, `Prefer` spread over lines or joined with `, `, `tx=rollback`, the
`Range` header and `columns` restricting the body."""

from __future__ import annotations

import pytest
from supabase import Client

from .wire import Wire, api_error

pytestmark = pytest.mark.network


def test_the_headers_supabase_py_sends_are_accepted(wire: Wire) -> None:
    data = wire.client.table("countries").select("iso2").eq("id", 1).execute().data
    assert data == [{"iso2": "AL"}]
    sent = wire.last.request.headers
    assert sent["apiKey"] == wire.key
    assert sent["Accept-Profile"] == sent["Content-Profile"] == "public"
    assert sent["Accept"] == "*/*"
    assert wire.last.headers["Content-Type"] == "application/json; charset=utf-8"


def test_schema_public_is_the_default_profile(client: Client) -> None:
    assert client.schema("public").table("countries").select("id").eq("id", 2).execute().data == [
        {"id": 2}
    ]


def test_an_unexposed_schema_is_406_pgrst106(wire: Wire) -> None:
    error = api_error(wire.client.schema("private").table("countries").select("id").execute)
    assert error.code == "PGRST106"
    assert wire.last.status_code == 406


def test_explain_without_db_plan_enabled_is_406_pgrst107(wire: Wire) -> None:
    error = api_error(wire.client.table("countries").select("id").explain(analyze=True).execute)
    assert error.code == "PGRST107"
    assert wire.last.status_code == 406


def test_prefer_on_several_lines_and_joined_with_a_space(wire: Wire) -> None:
    lines = wire.request(
        "POST",
        "items",
        params={"select": "sku"},
        json={"sku": "p1"},
        headers={"Prefer": "return=representation"},
    )
    assert (lines.status_code, lines.json(), lines.headers["Content-Range"]) == (
        201,
        [{"sku": "p1"}],
        "*/*",
    )
    joined = wire.request(
        "POST",
        "items",
        params={"select": "sku"},
        json={"sku": "p2"},
        headers={"Prefer": "return=representation, count=exact"},
    )
    assert (joined.status_code, joined.json(), joined.headers["Content-Range"]) == (
        201,
        [{"sku": "p2"}],
        "*/1",
    )


def test_tx_rollback_answers_but_keeps_nothing(wire: Wire) -> None:
    response = wire.request(
        "PATCH",
        "items",
        params={"sku": "eq.a", "select": "qty"},
        json={"qty": 500},
        headers={"Prefer": "return=representation,tx=rollback"},
    )
    assert (response.status_code, response.json()) == (200, [{"qty": 500}])
    kept = wire.client.table("items").select("qty").eq("sku", "a").execute().data
    assert kept == [{"qty": 1}]


def test_range_header_intersects_with_limit(wire: Wire) -> None:
    response = wire.request(
        "GET",
        "cities",
        params={"select": "id", "order": "id", "limit": "2"},
        headers={"Range": "1-4", "Prefer": "count=exact"},
    )
    assert response.status_code == 206
    assert response.json() == [{"id": 2}]  # rows 0-1 of limit=2 intersected with 1-4
    assert response.headers["Content-Range"] == "1-1/7"


def test_columns_restricts_the_body_keys_used(wire: Wire) -> None:
    response = wire.request(
        "POST",
        "items",
        params={"columns": '"sku"', "select": "sku,qty,note"},
        json=[{"sku": "c1", "qty": 9, "note": "ignored"}],
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 201
    assert response.json() == [{"sku": "c1", "qty": 1, "note": "none"}]


def test_delete_with_the_py_empty_json_body(wire: Wire) -> None:
    wire.client.table("items").insert({"sku": "del"}).execute()
    deleted = wire.client.table("items").delete().eq("sku", "del").execute().data
    assert [r["sku"] for r in deleted] == ["del"]
    assert wire.last.request.content == b"{}"
    assert wire.last.request.headers["Content-Type"] == "application/json"


def test_an_unsupported_accept_is_406_pgrst107(wire: Wire) -> None:
    response = wire.request("GET", "countries", headers={"Accept": "application/xml"})
    assert response.status_code == 406
    assert response.json()["code"] == "PGRST107"


def test_count_is_none_unless_asked_for(wire: Wire) -> None:
    response = wire.client.table("countries").select("id").execute()
    assert response.count is None
    assert wire.last.headers["Content-Range"] == "0-3/*"
