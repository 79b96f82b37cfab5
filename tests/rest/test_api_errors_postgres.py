"""The Postgres errors PostgREST passes on (supabase-wire.md §1.4, the `PG ...` rows) through the
official supabase-py client against a real node: constraint violations (23505, 23503, 23502),
junk in every typed column kind (22P02 and its neighbours), unknown columns (42703), row-level
security (42501: 401 for anon, 403 for a user) and pg-safeupdate (21000).

Our SQL functions are `language sql` only, so nothing can RAISE: P0001 has no case here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_api_errors import (
    Clients,
    Expected,
    check_client_error,
    check_head_error,
    error_schema_node,
)

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    with error_schema_node(tmp_path_factory) as node:
        yield Clients(node)


# -- 23505, 23503, 23502: constraints -------------------------------------------------------------


def test_23505_unique_violation_on_insert_upsert_and_update(clients: Clients) -> None:
    people = clients.service.table("people")
    check_client_error(
        clients,
        people.insert({"id": 1, "name": "again"}).execute,
        Expected(
            409,
            "23505",
            'duplicate key value violates unique constraint "people_pkey"',
            "Key (id)=(1) already exists.",
        ),
    )
    email = Expected(
        409,
        "23505",
        'duplicate key value violates unique constraint "people_email_key"',
        "Key (email)=(ada@example.com) already exists.",
    )
    check_client_error(
        clients, people.insert({"name": "Ada 2", "email": "ada@example.com"}).execute, email
    )
    check_client_error(
        clients, people.update({"email": "ada@example.com"}).eq("id", 2).execute, email
    )
    check_client_error(
        clients,
        people.upsert({"id": 3, "name": "Cleo", "email": "ada@example.com"}).execute,
        email,
    )
    assert people.select("email").eq("id", 2).execute().data == [{"email": "brian@example.com"}]


def test_23503_foreign_key_violation(clients: Clients) -> None:
    messages = clients.service.table("messages")
    missing = Expected(
        409,
        "23503",
        'insert or update on table "messages" violates foreign key constraint'
        ' "messages_sender_id_fkey"',
        'Key (sender_id)=(99) is not present in table "people".',
    )
    check_client_error(clients, messages.insert({"sender_id": 99}).execute, missing)
    check_client_error(clients, messages.update({"sender_id": 99}).eq("id", 1).execute, missing)
    check_client_error(
        clients,
        clients.service.table("people").delete().eq("id", 1).execute,
        Expected(
            409,
            "23503",
            'update or delete on table "people" violates foreign key constraint'
            ' "messages_sender_id_fkey" on table "messages"',
            'Key (id)=(1) is still referenced from table "messages".',
        ),
    )


def test_23502_not_null_violation_shows_the_failing_row(clients: Clients) -> None:
    people = clients.service.table("people")
    message = 'null value in column "name" of relation "people" violates not-null constraint'
    check_client_error(
        clients,
        people.insert({"id": 50, "email": "nobody@example.com"}).execute,
        Expected(400, "23502", message, "Failing row contains (50, null, nobody@example.com)."),
    )
    check_client_error(
        clients,
        people.update({"name": None}).eq("id", 2).execute,
        Expected(400, "23502", message, "Failing row contains (2, null, brian@example.com)."),
    )


# -- 22P02 and friends: junk in each typed column -------------------------------------------------

JUNK_TEXT = [
    ("i2", "invalid input syntax for type smallint"),
    ("i4", "invalid input syntax for type integer"),
    ("i8", "invalid input syntax for type bigint"),
    ("f4", "invalid input syntax for type real"),
    ("f8", "invalid input syntax for type double precision"),
    ("num", "invalid input syntax for type numeric"),
    ("flag", "invalid input syntax for type boolean"),
    ("uid", "invalid input syntax for type uuid"),
    ("day", "invalid input syntax for type date"),
    ("clock", "invalid input syntax for type time"),
    ("stamp", "invalid input syntax for type timestamp"),
    ("stamptz", "invalid input syntax for type timestamp with time zone"),
    ("feeling", "invalid input value for enum mood"),
]


@pytest.mark.parametrize(("column", "message"), JUNK_TEXT, ids=[c for c, _ in JUNK_TEXT])
def test_22p02_junk_in_a_filter_and_in_a_body(clients: Clients, column: str, message: str) -> None:
    expected = Expected(400, "22P02", f'{message}: "junk"')
    kinds = clients.service.table("kinds")
    check_client_error(clients, kinds.select("*").eq(column, "junk").execute, expected)
    check_client_error(clients, kinds.insert({column: "junk"}).execute, expected)
    check_client_error(clients, kinds.update({column: "junk"}).eq("id", 1).execute, expected)
    check_head_error(clients, kinds.select("*", head=True).eq(column, "junk").execute, expected)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # PostgREST reads bodies with json_populate_recordset: a non-string value reaches the
        # column's input function as its JSON text.
        ({"i4": 1.5}, Expected(400, "22P02", 'invalid input syntax for type integer: "1.5"')),
        ({"i8": True}, Expected(400, "22P02", 'invalid input syntax for type bigint: "true"')),
        ({"uid": [1]}, Expected(400, "22P02", 'invalid input syntax for type uuid: "[1]"')),
        (
            {"tags": "junk"},
            Expected(
                400,
                "22P02",
                'malformed array literal: "junk"',
                'Array value must start with "{" or dimension information.',
            ),
        ),
        ({"raw": "\\xzz"}, Expected(400, "22023", 'invalid hexadecimal digit: "z"')),
        (
            {"raw": "\\xabc"},
            Expected(400, "22023", "invalid hexadecimal data: odd number of digits"),
        ),
        (
            {"i2": 40000},
            Expected(400, "22003", 'value "40000" is out of range for type smallint'),
        ),
        (
            {"short": "toolong"},
            Expected(400, "22001", "value too long for type character varying(5)"),
        ),
    ],
    ids=["float-int", "bool-int", "array-uuid", "text-array", "hex", "odd-hex", "range", "length"],
)
def test_values_that_do_not_fit_their_type(
    clients: Clients, body: dict[str, Any], expected: Expected
) -> None:
    check_client_error(clients, clients.service.table("kinds").insert(body).execute, expected)


def test_22p02_in_rpc_arguments(clients: Clients) -> None:
    expected = Expected(400, "22P02", 'invalid input syntax for type integer: "x"')
    check_client_error(clients, clients.service.rpc("add", {"a": "x", "b": 1}).execute, expected)
    check_client_error(
        clients, clients.service.rpc("add", {"a": "x", "b": 1}, get=True).execute, expected
    )


# -- 42703: unknown columns -----------------------------------------------------------------------


def test_42703_unknown_column_in_select_filter_order(clients: Clients) -> None:
    expected = Expected(400, "42703", "column people.nope does not exist")
    people = clients.service.table("people")
    check_client_error(clients, people.select("nope").execute, expected)
    check_client_error(clients, people.select("*").eq("nope", 1).execute, expected)
    check_client_error(clients, people.select("*").order("nope").execute, expected)
    check_client_error(clients, people.update({"name": "x"}).eq("nope", 1).execute, expected)
    check_client_error(
        clients,
        people.upsert({"name": "x"}, on_conflict="nope").execute,
        Expected(400, "42703", 'column "nope" does not exist'),
    )


# -- 42501: row-level security --------------------------------------------------------------------


def test_42501_is_401_for_anon_and_403_for_a_user(clients: Clients) -> None:
    message = 'new row violates row-level security policy for table "tasks"'
    check_client_error(
        clients,
        clients.anon.table("tasks").insert({"title": "anon's"}).execute,
        Expected(401, "42501", message),
    )
    other = "00000000-0000-0000-0000-000000000001"
    check_client_error(
        clients,
        clients.user.table("tasks").insert({"title": "stolen", "owner": other}).execute,
        Expected(403, "42501", message),
    )
    mine = clients.user.table("tasks").insert({"title": "mine"}).execute().data[0]
    assert mine["owner"] == clients.user_id
    check_client_error(
        clients,
        clients.user.table("tasks").update({"owner": other}).eq("id", mine["id"]).execute,
        Expected(403, "42501", message),
    )


# -- 21000: pg-safeupdate -------------------------------------------------------------------------


def test_21000_update_or_delete_without_a_filter(clients: Clients) -> None:
    people = clients.service.table("people")
    before = people.select("*").order("id").execute().data
    check_client_error(
        clients,
        people.delete().execute,
        Expected(400, "21000", "DELETE requires a WHERE clause"),
    )
    check_client_error(
        clients,
        people.update({"name": "everyone"}).execute,
        Expected(400, "21000", "UPDATE requires a WHERE clause"),
    )
    # A filter on an embedded resource is not a WHERE clause on the table.
    check_client_error(
        clients,
        clients.service.table("kinds").delete().eq("messages.id", 1).execute,
        Expected(400, "21000", "DELETE requires a WHERE clause"),
    )
    assert people.select("*").order("id").execute().data == before
    # Any filter will do, even one that matches every row.
    assert len(people.update({"email": None}).eq("id", 3).execute().data) == 1


# -- 22003: paging past a bigint (found by test_api_fuzz.py: it was a 500) -------------------------


def test_22003_limit_or_offset_past_a_bigint(clients: Clients) -> None:
    expected = Expected(400, "22003", "bigint out of range")
    people = clients.service.table("people")
    check_client_error(clients, people.select("*").limit(10**30).execute, expected)
    check_client_error(clients, people.select("*").range(10**30, 10**30 + 1).execute, expected)
    check_client_error(
        clients,
        people.select("*, messages!sender_id(*)").limit(10**20, foreign_table="messages").execute,
        expected,
    )
