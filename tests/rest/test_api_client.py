"""`/rest/v1` through the official supabase-py client against a real `performer serve` node
started with a migrations directory: reads, writes as row events, RLS, RPC and error codes."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import RunningNode, performer_command, serve_module, signed_up, start_serving
from postgrest.exceptions import APIError
from supabase import Client, create_client

pytestmark = pytest.mark.network

MIGRATIONS = Path(__file__).parent / "api_migrations"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    yield from serve_module(tmp_path_factory, "rest", "--migrations", str(MIGRATIONS))


@pytest.fixture(scope="module")
def alice(node: RunningNode) -> tuple[Client, str]:
    return signed_up(node)


@pytest.fixture(scope="module")
def bob(node: RunningNode) -> tuple[Client, str]:
    return signed_up(node)


def api_error(call: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


# -- reads ----------------------------------------------------------------------------------------


def test_select_with_filters_order_limit_and_count(service: Client) -> None:
    response = (
        service.table("cities")
        .select("name, population", count="exact")
        .gt("population", 100000)
        .order("population", desc=True)
        .limit(2)
        .execute()
    )
    assert response.data == [
        {"name": "Algiers", "population": 3000000},
        {"name": "Tirana", "population": 400000},
    ]
    assert response.count == 3


def test_head_count(service: Client) -> None:
    response = service.table("cities").select("*", count="exact", head=True).execute()
    assert response.count == 3
    assert response.data == []


def test_embed_one_to_many_and_many_to_one(service: Client) -> None:
    countries = (
        service.table("countries").select("name, cities(name)").eq("iso2", "AL").execute().data
    )
    assert countries == [{"name": "Albania", "cities": [{"name": "Tirana"}, {"name": "Durres"}]}]
    city = service.table("cities").select("name, countries(iso2)").eq("name", "Algiers")
    assert city.execute().data == [{"name": "Algiers", "countries": {"iso2": "DZ"}}]


def test_single_and_maybe_single(service: Client) -> None:
    one = service.table("countries").select("iso2").eq("name", "Algeria").single().execute()
    assert one.data == {"iso2": "DZ"}
    none = service.table("countries").select("iso2").eq("name", "Atlantis").maybe_single().execute()
    assert none is None or none.data is None
    error = api_error(lambda: service.table("countries").select("*").single().execute())
    assert error.code == "PGRST116"


def test_csv(service: Client) -> None:
    text = service.table("countries").select("name,iso2").in_("iso2", ["AL", "DZ"]).order("name")
    assert text.csv().execute().data == "name,iso2\nAlbania,AL\nAlgeria,DZ"


def test_range_header_gives_206_and_content_range(node: RunningNode) -> None:
    key = node.key("service_role")
    response = httpx.get(
        f"{node.url}/rest/v1/cities?select=name&order=id",
        headers={"apikey": key, "Range": "0-1", "Prefer": "count=exact"},
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "0-1/3"
    past = httpx.get(
        f"{node.url}/rest/v1/cities?offset=9",
        headers={"apikey": key, "Prefer": "count=exact"},
    )
    assert past.status_code == 416
    assert past.json()["code"] == "PGRST103"


def test_openapi_document(node: RunningNode) -> None:
    response = httpx.get(f"{node.url}/rest/v1/", headers={"apikey": node.key("anon")})
    assert response.status_code == 200
    document = response.json()
    assert document["swagger"] == "2.0"
    assert "/todos" in document["paths"]
    assert set(document["definitions"]["cities"]["properties"]) == {
        "id",
        "name",
        "population",
        "country_id",
    }


# -- writes ---------------------------------------------------------------------------------------


def test_insert_update_delete_with_returning(service: Client) -> None:
    inserted = service.table("countries").insert({"name": "Andorra", "iso2": "AD"}).execute()
    [row] = inserted.data
    assert row["name"] == "Andorra" and isinstance(row["id"], int)
    bulk = service.table("cities").insert(
        [{"name": "Andorra la Vella", "country_id": row["id"]}, {"name": "Encamp"}]
    )
    assert [c["name"] for c in bulk.execute().data] == ["Andorra la Vella", "Encamp"]
    updated = (
        service.table("cities").update({"country_id": row["id"]}).eq("name", "Encamp").execute()
    )
    assert updated.data[0]["country_id"] == row["id"]
    deleted = service.table("cities").delete().eq("country_id", row["id"]).execute()
    assert sorted(c["name"] for c in deleted.data) == ["Andorra la Vella", "Encamp"]
    gone = service.table("countries").delete().eq("id", row["id"]).execute()
    assert gone.data[0]["iso2"] == "AD"
    assert service.table("countries").select("id").eq("iso2", "AD").execute().data == []


def test_update_and_delete_seeded_rows(service: Client) -> None:
    added = service.table("cities").insert({"name": "Oran", "country_id": 2}).execute().data[0]
    renamed = service.table("cities").update({"population": 1}).eq("name", "Durres").execute()
    assert renamed.data[0]["population"] == 1
    service.table("cities").update({"population": 200000}).eq("name", "Durres").execute()
    service.table("cities").delete().eq("id", added["id"]).execute()


def test_upsert_merge_and_ignore(service: Client) -> None:
    first = service.table("countries").upsert({"name": "Bhutan", "iso2": "BT"}).execute().data[0]
    merged = service.table("countries").upsert({"id": first["id"], "name": "BHUTAN"}).execute().data
    assert merged == [{"id": first["id"], "name": "BHUTAN", "iso2": "BT"}]
    by_iso = (
        service.table("countries")
        .upsert({"name": "Kingdom of Bhutan", "iso2": "BT"}, on_conflict="iso2")
        .execute()
        .data
    )
    assert by_iso[0]["id"] == first["id"] and by_iso[0]["name"] == "Kingdom of Bhutan"
    ignored = (
        service.table("countries")
        .upsert({"id": first["id"], "name": "ignored"}, ignore_duplicates=True)
        .execute()
    )
    assert ignored.data == []
    assert service.table("countries").select("name").eq("id", first["id"]).execute().data == [
        {"name": "Kingdom of Bhutan"}
    ]
    service.table("countries").delete().eq("id", first["id"]).execute()


def test_returning_minimal_and_count(service: Client) -> None:
    from postgrest.types import CountMethod, ReturnMethod

    response = (
        service.table("countries")
        .insert(
            [{"name": "Chad", "iso2": "TD"}, {"name": "Chile", "iso2": "CL"}],
            returning=ReturnMethod.minimal,
            count=CountMethod.exact,
        )
        .execute()
    )
    assert response.data == [] and response.count == 2
    deleted = service.table("countries").delete(count=CountMethod.exact).in_("iso2", ["TD", "CL"])
    assert deleted.execute().count == 2


def test_tx_rollback_and_max_affected(node: RunningNode, service: Client) -> None:
    key = node.key("service_role")
    headers = {"apikey": key, "Prefer": "return=representation,tx=rollback"}
    response = httpx.post(
        f"{node.url}/rest/v1/countries", headers=headers, json={"name": "Ghost", "iso2": "GH"}
    )
    assert response.status_code == 201 and response.json()[0]["name"] == "Ghost"
    assert service.table("countries").select("id").eq("iso2", "GH").execute().data == []
    strict = {"apikey": key, "Prefer": "handling=strict,max-affected=1"}
    too_many = httpx.patch(f"{node.url}/rest/v1/cities?id=gt.0", headers=strict, json={})
    assert too_many.status_code in (204, 400)
    patched = httpx.patch(
        f"{node.url}/rest/v1/cities?id=gt.0", headers=strict, json={"population": 5}
    )
    assert patched.status_code == 400 and patched.json()["code"] == "PGRST124"
    assert service.table("cities").select("population").eq("name", "Tirana").execute().data == [
        {"population": 400000}
    ]


# -- RLS ------------------------------------------------------------------------------------------


def test_rls_isolates_users_and_anon(
    anon: Client, alice: tuple[Client, str], bob: tuple[Client, str]
) -> None:
    alice_client, alice_id = alice
    bob_client, bob_id = bob
    mine = alice_client.table("todos").insert({"task": "alice's"}).execute().data[0]
    assert mine["user_id"] == alice_id and mine["done"] is False
    assert mine["inserted_at"].endswith("+00:00")
    bob_client.table("todos").insert({"task": "bob's", "user_id": bob_id}).execute()
    assert [t["task"] for t in alice_client.table("todos").select("*").execute().data] == [
        "alice's"
    ]
    assert [t["task"] for t in bob_client.table("todos").select("*").execute().data] == ["bob's"]
    assert anon.table("todos").select("*").execute().data == []
    # Bob cannot see, change or delete Alice's row: the filters match nothing for him.
    assert (
        bob_client.table("todos").update({"done": True}).eq("id", mine["id"]).execute().data == []
    )
    assert bob_client.table("todos").delete().eq("id", mine["id"]).execute().data == []
    done = alice_client.table("todos").update({"done": True}).eq("id", mine["id"]).execute()
    assert done.data[0]["done"] is True


def test_rls_violations_are_42501(
    anon: Client, alice: tuple[Client, str], bob: tuple[Client, str]
) -> None:
    alice_client, alice_id = alice
    _, bob_id = bob
    error = api_error(
        lambda: alice_client.table("todos").insert({"task": "x", "user_id": bob_id}).execute()
    )
    assert error.code == "42501"
    anon_error = api_error(lambda: anon.table("todos").insert({"task": "x"}).execute())
    assert anon_error.code in ("42501", "23502")
    # The rejected bulk insert left nothing behind.
    bulk = [{"task": "ok", "user_id": alice_id}, {"task": "stolen", "user_id": bob_id}]
    assert api_error(lambda: alice_client.table("todos").insert(bulk).execute()).code == "42501"
    assert alice_client.table("todos").select("task").eq("task", "ok").execute().data == []


# -- RPC and errors -------------------------------------------------------------------------------


def test_rpc_post_and_get(service: Client) -> None:
    assert service.rpc("add", {"a": 2, "b": 3}).execute().data == 5
    assert service.rpc("add", {"a": 2, "b": 5}, get=True).execute().data == 7


def test_error_codes(service: Client) -> None:
    missing = api_error(lambda: service.table("countriez").select("*").execute())
    assert missing.code == "PGRST205"
    assert "countries" in (missing.hint or "")
    duplicate = api_error(
        lambda: service.table("countries").insert({"id": 1, "name": "again"}).execute()
    )
    assert duplicate.code == "23505"
    assert duplicate.details == "Key (id)=(1) already exists."
    unique = api_error(
        lambda: service.table("countries").insert({"name": "x", "iso2": "AL"}).execute()
    )
    assert unique.code == "23505"
    assert unique.details == "Key (iso2)=(AL) already exists."
    bad = api_error(lambda: service.table("cities").select("*").eq("id", "abc").execute())
    assert bad.code == "22P02"
    column = api_error(lambda: service.table("cities").insert({"nope": 1}).execute())
    assert column.code == "PGRST204"
    target = api_error(
        lambda: service.table("cities").upsert({"name": "x"}, on_conflict="name").execute()
    )
    assert target.code == "42P10"


def test_invalid_json_body_is_pgrst102(node: RunningNode) -> None:
    response = httpx.post(
        f"{node.url}/rest/v1/countries",
        headers={"apikey": node.key("service_role"), "Content-Type": "application/json"},
        content=b'{"name":',
    )
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST102"


def test_no_api_key_is_401(node: RunningNode) -> None:
    response = httpx.get(f"{node.url}/rest/v1/countries")
    assert response.status_code == 401


# -- row events -----------------------------------------------------------------------------------


def _events(node: RunningNode, scope: str) -> list[dict[str, Any]]:
    key = node.key("service_role")
    response = httpx.get(
        f"{node.url}/performer/v1/events",
        params={"scope": scope, "limit": "1000"},
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def test_writes_are_row_events(node: RunningNode, service: Client) -> None:
    before = len(_events(node, "table:countries"))
    row = service.table("countries").insert({"name": "Eritrea", "iso2": "ER"}).execute().data[0]
    service.table("countries").update({"name": "ERITREA"}).eq("id", row["id"]).execute()
    service.table("countries").delete().eq("id", row["id"]).execute()
    kinds = [e["kind"] for e in _events(node, "table:countries")[before:]]
    assert kinds == ["row.insert", "row.update", "row.delete"]


def test_columns_and_missing_default(node: RunningNode) -> None:
    key = node.key("service_role")
    headers = {"apikey": key, "Prefer": "return=representation,missing=default"}
    response = httpx.post(
        f"{node.url}/rest/v1/todos?columns=task,user_id",
        headers=headers,
        json=[{"task": "a", "user_id": str(uuid.uuid4())}, {"task": "b", "user_id": None}],
    )
    # missing=default only fills absent keys: an explicit null stays null (23502 here).
    assert response.status_code == 400 and response.json()["code"] == "23502"
    owner = str(uuid.uuid4())
    filled = httpx.post(
        f"{node.url}/rest/v1/todos?columns=task,user_id,done",
        headers=headers,
        json=[{"task": "a", "user_id": owner}, {"task": "b", "user_id": owner, "done": True}],
    )
    assert filled.status_code == 201, filled.text
    assert [(t["task"], t["done"]) for t in filled.json()] == [("a", False), ("b", True)]
    assert all(len(t["id"]) == 36 for t in filled.json())


def test_object_accept_on_write_rolls_back_unless_one_row(
    node: RunningNode, service: Client
) -> None:
    key = node.key("service_role")
    headers = {
        "apikey": key,
        "Prefer": "return=representation",
        "Accept": "application/vnd.pgrst.object+json",
    }
    two = [{"name": "Fiji", "iso2": "FJ"}, {"name": "Finland", "iso2": "FI"}]
    response = httpx.post(f"{node.url}/rest/v1/countries", headers=headers, json=two)
    assert response.status_code == 406 and response.json()["code"] == "PGRST116"
    assert service.table("countries").select("id").in_("iso2", ["FJ", "FI"]).execute().data == []
    one = httpx.post(f"{node.url}/rest/v1/countries", headers=headers, json=two[0])
    assert one.status_code == 201 and one.json()["iso2"] == "FJ"
    service.table("countries").delete().eq("iso2", "FJ").execute()


def test_data_survives_a_restart_and_a_replay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_serving(data, "--migrations", str(MIGRATIONS))
    try:
        client = create_client(first.url, first.key("service_role"))
        client.table("cities").insert({"name": "Shkoder", "country_id": 1}).execute()
        client.table("cities").delete().eq("name", "Durres").execute()
    finally:
        first.stop()
        if first.proc.stdout is not None:
            first.proc.stdout.close()
    # A replay rebuilds the tables from the log: seeds from the migration event (stamped with
    # its clock), then the row events on top of them.
    replayed = subprocess.run(
        performer_command("replay", "--data", str(data)),
        check=False,
        capture_output=True,
        text=True,
    )
    assert replayed.returncode == 0, replayed.stderr
    second = start_serving(data, "--migrations", str(MIGRATIONS))
    try:
        client = create_client(second.url, second.key("service_role"))
        names = client.table("cities").select("name").order("id").execute().data
        assert [n["name"] for n in names] == ["Tirana", "Algiers", "Shkoder"]
        # The tables are known to the row store after a restart: writes keep working.
        client.table("cities").update({"population": 1}).eq("name", "Shkoder").execute()
    finally:
        second.stop()
        if second.proc.stdout is not None:
            second.proc.stdout.close()


# -- foreign keys ---------------------------------------------------------------------------------


def test_foreign_keys_are_enforced_for_rest_writes(service: Client) -> None:
    missing = api_error(
        lambda: service.table("cities").insert({"name": "Nowhere", "country_id": 999}).execute()
    )
    assert missing.code == "23503"
    assert missing.details == 'Key (country_id)=(999) is not present in table "countries".'
    referenced = api_error(lambda: service.table("countries").delete().eq("iso2", "AL").execute())
    assert referenced.code == "23503"
    assert service.table("countries").select("iso2").eq("iso2", "AL").execute().data == [
        {"iso2": "AL"}
    ]


def test_on_delete_cascade_deletes_as_row_events(node: RunningNode, service: Client) -> None:
    city = service.table("cities").insert({"name": "Vlore", "country_id": 1}).execute().data[0]
    service.table("notes").insert([{"city_id": city["id"], "body": "port"}] * 2).execute()
    before = len(_events(node, "table:notes"))
    service.table("cities").delete().eq("id", city["id"]).execute()
    assert service.table("notes").select("id").eq("city_id", city["id"]).execute().data == []
    kinds = [e["kind"] for e in _events(node, "table:notes")[before:]]
    assert kinds == ["row.delete", "row.delete"]
