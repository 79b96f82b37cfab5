"""supabase-wire.md §1.1 insert/upsert/update/delete and §1.3 write responses: 201/200/204,
Content-Range, `return=`, `columns` with `missing=default`, counts, `on_conflict`,
max-affected, single — through supabase-py on the `items` scratch table."""

from __future__ import annotations

from typing import Any

import pytest
from supabase import Client

from .wire import Wire, api_error

pytestmark = pytest.mark.network


def item(id_: int, sku: str, qty: int = 1, note: str | None = "none") -> dict[str, Any]:
    return {"id": id_, "sku": sku, "qty": qty, "note": note, "created": "2024-01-01"}


def items(client: Client, *skus: str) -> list[dict[str, Any]]:
    query = client.table("items").select("*").in_("sku", list(skus)).order("id")
    result: list[dict[str, Any]] = query.execute().data
    return result


def test_insert_one_object_fills_defaults_and_is_201(wire: Wire) -> None:
    data = wire.client.table("items").insert({"sku": "d"}).execute().data
    assert data == [item(4, "d")]
    assert wire.last.status_code == 201
    assert wire.last.headers["Content-Range"] == "*/*"
    assert "columns" not in wire.last.request.url.params


def test_bulk_insert_sends_columns_and_missing_keys_are_null(wire: Wire) -> None:
    rows = [{"sku": "e1", "note": "first"}, {"sku": "e2"}]
    data = wire.client.table("items").insert(rows, count="exact").execute()
    assert data.data == [item(5, "e1", note="first"), item(6, "e2", note=None)]
    assert data.count == 2
    assert wire.last.status_code == 201
    assert wire.last.headers["Content-Range"] == "*/2"
    assert sorted(wire.last.request.url.params["columns"].split(",")) == ['"note"', '"sku"']


def test_bulk_insert_with_missing_default(wire: Wire) -> None:
    rows = [{"sku": "f1", "qty": 7}, {"sku": "f2", "note": "kept"}]
    data = wire.client.table("items").insert(rows, default_to_null=False).execute().data
    assert data == [item(7, "f1", qty=7), item(8, "f2", note="kept")]
    assert "missing=default" in wire.last.request.headers["Prefer"]


def test_insert_returning_minimal_is_201_without_a_body(wire: Wire) -> None:
    response = wire.client.table("items").insert({"sku": "g"}, returning="minimal").execute()
    assert response.data == []
    assert wire.last.status_code == 201
    assert wire.last.content == b""
    assert items(wire.client, "g") == [item(9, "g")]


def test_insert_with_select_and_an_embed(wire: Wire) -> None:
    query = wire.client.table("cities").insert({"name": "Kyoto", "population": 1, "country_id": 3})
    data = query.select("name, countries(iso2)").execute().data
    assert data == [{"name": "Kyoto", "countries": {"iso2": "JP"}}]
    assert wire.last.status_code == 201


def test_insert_single_returns_an_object(wire: Wire) -> None:
    query = wire.client.table("items").insert({"sku": "h", "qty": 2}).select("sku, qty")
    assert query.single().execute().data == {"sku": "h", "qty": 2}
    assert wire.last.status_code == 201


def test_upsert_merges_on_a_unique_column(wire: Wire) -> None:
    rows = [{"sku": "a", "qty": 10}, {"sku": "u1", "qty": 11}]
    data = wire.client.table("items").upsert(rows, on_conflict="sku").execute().data
    assert [(r["sku"], r["qty"]) for r in data] == [("a", 10), ("u1", 11)]
    assert wire.last.status_code == 201
    prefer = wire.last.request.headers["Prefer"]
    assert "resolution=merge-duplicates" in prefer
    assert items(wire.client, "a")[0]["qty"] == 10


def test_upsert_that_only_updates_is_200(wire: Wire) -> None:
    query = wire.client.table("items").upsert({"id": 2, "sku": "b", "qty": 20})
    assert query.execute().data == [item(2, "b", qty=20)]
    assert wire.last.status_code == 200


def test_upsert_ignoring_duplicates_returns_only_inserted_rows(wire: Wire) -> None:
    rows = [{"sku": "c", "qty": 99}, {"sku": "u2", "qty": 12}]
    table = wire.client.table("items")
    data = table.upsert(rows, on_conflict="sku", ignore_duplicates=True).execute().data
    assert [(r["sku"], r["qty"]) for r in data] == [("u2", 12)]
    assert items(wire.client, "c")[0]["qty"] == 3


def test_update_returns_the_changed_rows(wire: Wire) -> None:
    query = (
        wire.client.table("items").update({"note": "upd"}, count="exact").in_("sku", ["e1", "e2"])
    )
    response = query.execute()
    assert [(r["sku"], r["note"]) for r in response.data] == [("e1", "upd"), ("e2", "upd")]
    assert response.count == 2
    assert wire.last.status_code == 200
    assert wire.last.headers["Content-Range"] == "0-1/2"


def test_update_returning_minimal_is_204(wire: Wire) -> None:
    query = wire.client.table("items").update({"qty": 5}, returning="minimal").eq("sku", "d")
    assert query.execute().data == []
    assert wire.last.status_code == 204
    assert items(wire.client, "d")[0]["qty"] == 5


def test_update_matching_nothing(wire: Wire) -> None:
    query = wire.client.table("items").update({"qty": 5}, count="exact").eq("sku", "zzz")
    response = query.execute()
    assert (response.data, response.count) == ([], 0)
    assert wire.last.status_code == 200
    assert wire.last.headers["Content-Range"] == "*/0"


def test_update_with_a_select(wire: Wire) -> None:
    query = wire.client.table("items").update({"qty": 6}).eq("sku", "d").select("sku,qty")
    assert query.execute().data == [{"sku": "d", "qty": 6}]


def test_delete_returns_the_deleted_rows(wire: Wire) -> None:
    wire.client.table("items").insert([{"sku": "x1"}, {"sku": "x2"}, {"sku": "x3"}]).execute()
    query = wire.client.table("items").delete(count="exact").like("sku", "x*").neq("sku", "x3")
    response = query.execute()
    assert [r["sku"] for r in response.data] == ["x1", "x2"]
    assert response.count == 2
    assert wire.last.status_code == 200
    assert wire.last.request.content == b"{}"
    assert wire.last.headers["Content-Range"] == "*/2"
    assert items(wire.client, "x1", "x2", "x3") == [item(response.data[1]["id"] + 1, "x3")]


def test_delete_returning_minimal_is_204(wire: Wire) -> None:
    query = wire.client.table("items").delete(returning="minimal").eq("sku", "x3")
    assert query.execute().data == []
    assert wire.last.status_code == 204
    assert items(wire.client, "x3") == []


def test_max_affected_within_the_limit(wire: Wire) -> None:
    query = wire.client.table("items").update({"note": "one"}).eq("sku", "g").max_affected(1)
    assert [r["note"] for r in query.execute().data] == ["one"]
    assert "handling=strict" in wire.last.request.headers["Prefer"]


def test_max_affected_exceeded_is_pgrst124_and_rolls_back(wire: Wire) -> None:
    table = wire.client.table("items")
    error = api_error(table.delete().in_("sku", ["e1", "e2"]).max_affected(1).execute)
    assert error.code == "PGRST124"
    assert error.message == "Query result exceeds max-affected preference constraint"
    assert error.details == "The query affects 2 rows"
    assert wire.last.status_code == 400
    assert [r["sku"] for r in items(wire.client, "e1", "e2")] == ["e1", "e2"]


def test_single_on_a_write_of_two_rows_is_406_and_rolls_back(wire: Wire) -> None:
    query = wire.client.table("items").update({"qty": 0}).in_("sku", ["e1", "e2"]).single()
    error = api_error(query.execute)
    assert (error.code, error.details) == ("PGRST116", "The result contains 2 rows")
    assert wire.last.status_code == 406
    assert [r["qty"] for r in items(wire.client, "e1", "e2")] == [1, 1]
