"""PostgREST's error responses (supabase-wire.md §1.4) through the official supabase-py client
against a real node: HTTP status, `Proxy-Status`, the body's four keys, and the APIError the
client builds from them (for HEAD too, where the client only has the status and the header).

Every case names the §1.4 row it covers. Raw httpx is used only where the client cannot emit
the request (invalid JSON, a junk Accept, `Prefer` tokens it has no method for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import RunningNode, start_serving
from postgrest.exceptions import APIError
from postgrest.types import CountMethod
from supabase import Client, create_client

pytestmark = pytest.mark.network

MIGRATIONS = Path(__file__).parent / "error_migrations"
PASSWORD = "correct-horse-1"
BODY_KEYS = {"code", "details", "hint", "message"}


class Clients:
    """One node seen as service_role, anon and a signed-up user; `last` is the latest REST
    response any of them received (an httpx response hook), for the status and headers."""

    def __init__(self, node: RunningNode) -> None:
        self.node = node
        self.last: httpx.Response | None = None
        self.service = self._client(node.key("service_role"))
        self.anon = self._client(node.key("anon"))
        self.user = self._client(node.key("anon"))
        signed = self.user.auth.sign_up({"email": "errors@example.com", "password": PASSWORD})
        assert signed.user is not None
        self.user_id = signed.user.id

    def _client(self, key: str) -> Client:
        return create_client(self.node.url, key)

    def listen(self) -> None:
        """Record the next responses; a client builds a new REST session after a sign-in."""
        self.last = None
        for client in (self.service, self.anon, self.user):
            hooks = client.postgrest.session.event_hooks["response"]
            if self._record not in hooks:
                hooks.append(self._record)

    def _record(self, response: httpx.Response) -> None:
        self.last = response

    def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        key = self.node.key("service_role")
        headers = {"apikey": key, "Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.node.url}/rest/v1/{path}", headers=headers, **kwargs)


@contextmanager
def error_schema_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """A node serving `error_migrations/`; each test module starts its own."""
    node = start_serving(
        tmp_path_factory.mktemp("rest-errors") / "data", "--migrations", str(MIGRATIONS)
    )
    try:
        yield node
    finally:
        node.stop()
        if node.proc.stdout is not None:
            node.proc.stdout.close()


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    with error_schema_node(tmp_path_factory) as node:
        yield Clients(node)


@dataclass(frozen=True)
class Expected:
    status: int
    code: str
    message: str
    details: Any = None
    hint: str | None = None


def check_response(response: httpx.Response, expected: Expected, *, head: bool = False) -> None:
    """The wire shape of one PostgREST error."""
    assert response.status_code == expected.status, response.text
    assert response.headers["Proxy-Status"] == f"PostgREST; error={expected.code}"
    if head:
        assert response.content == b""
        return
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == BODY_KEYS
    assert isinstance(body["code"], str)
    assert body == {
        "code": expected.code,
        "message": expected.message,
        "details": expected.details,
        "hint": expected.hint,
    }


def check_client_error(clients: Clients, call: Callable[[], Any], expected: Expected) -> None:
    """The client raises APIError with PostgREST's fields, from the response checked above."""
    clients.listen()
    with pytest.raises(APIError) as caught:
        call()
    error = caught.value
    assert (error.code, error.message, error.details, error.hint) == (
        expected.code,
        expected.message,
        expected.details,
        expected.hint,
    )
    assert clients.last is not None
    check_response(clients.last, expected)


def check_head_error(clients: Clients, call: Callable[[], Any], expected: Expected) -> None:
    """HEAD has no body: the client takes the code from Proxy-Status, the message from the
    reason phrase."""
    clients.listen()
    with pytest.raises(APIError) as caught:
        call()
    assert caught.value.code == expected.code
    assert clients.last is not None
    assert caught.value.message == clients.last.reason_phrase
    check_response(clients.last, expected, head=True)


# -- PGRST100: the query grammar ------------------------------------------------------------------

PARSE_CASES: list[tuple[str, Callable[[Client], Any], Expected]] = [
    (
        "filter",
        lambda c: c.table("people").select("*").filter("id", "eqq", "1").execute(),
        Expected(
            400,
            "PGRST100",
            '"failed to parse filter (eqq.1)" (line 1, column 3)',
            'unexpected "q" expecting operator (eq, gt, ...)',
        ),
    ),
    (
        "select",
        lambda c: c.table("people").select("id,,name").execute(),
        Expected(
            400,
            "PGRST100",
            '"failed to parse select parameter (id,,name)" (line 1, column 4)',
            'unexpected "," expecting field name (* or [a..z0..9_$])',
        ),
    ),
    (
        "order",
        lambda c: c.table("people").select("*").order("id.upp").execute(),
        Expected(
            400,
            "PGRST100",
            '"failed to parse order (id.upp.asc)" (line 1, column 4)',
            'unexpected "u" expecting "asc", "desc", "nullsfirst" or "nullslast"',
        ),
    ),
    (
        "logic tree",
        lambda c: c.table("people").select("*").or_("id.eq.1,name.eqq.x").execute(),
        Expected(
            400,
            "PGRST100",
            # PostgREST parses `or(...)`: the column counts the key's two letters.
            '"failed to parse logic tree ((id.eq.1,name.eqq.x))" (line 1, column 19)',
            'unexpected "q" expecting operator (eq, gt, ...)',
        ),
    ),
    (
        "on_conflict",
        lambda c: c.table("people").upsert({"name": "x"}, on_conflict="(x").execute(),
        Expected(
            400,
            "PGRST100",
            '"failed to parse on_conflict parameter ((x)" (line 1, column 1)',
            'unexpected "(" expecting field name (* or [a..z0..9_$])',
        ),
    ),
]


@pytest.mark.parametrize(("name", "call", "expected"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_pgrst100_unparsable_query(
    clients: Clients, name: str, call: Callable[[Client], Any], expected: Expected
) -> None:
    check_client_error(clients, lambda: call(clients.service), expected)


def test_pgrst100_on_head(clients: Clients) -> None:
    expected = Expected(400, "PGRST100", "")
    check_head_error(
        clients,
        lambda: (
            clients.service.table("people")
            .select("*", head=True, count=CountMethod.exact)
            .filter("id", "eqq", "1")
            .execute()
        ),
        expected,
    )


# -- PGRST102, 103, 106, 107: body, range, schema, media type --------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "people", b'{"name":'),
        ("POST", "people", b""),
        ("PATCH", "people?id=eq.1", b"[1,"),
        ("POST", "people", b"42"),
        ("POST", "rpc/add", b'{"a":'),
    ],
)
def test_pgrst102_invalid_json_body(clients: Clients, method: str, path: str, body: bytes) -> None:
    response = clients.raw(method, path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["Proxy-Status"] == "PostgREST; error=PGRST102"
    found = response.json()
    assert set(found) == BODY_KEYS
    assert (found["code"], found["message"], found["hint"]) == (
        "PGRST102",
        "Empty or invalid json",
        None,
    )


def test_pgrst103_offset_past_the_end(clients: Clients) -> None:
    expected = Expected(
        416,
        "PGRST103",
        "Requested range not satisfiable",
        "An offset of 100 was requested, but there are only 3 rows.",
    )
    query = clients.service.table("people").select("*", count=CountMethod.exact).range(100, 109)
    check_client_error(clients, query.execute, expected)
    check_head_error(
        clients,
        clients.service.table("people")
        .select("*", count=CountMethod.exact, head=True)
        .range(100, 109)
        .execute,
        expected,
    )


def test_pgrst106_schema_not_exposed(clients: Clients) -> None:
    expected = Expected(
        406,
        "PGRST106",
        "Invalid schema: private",
        hint="Only the following schemas are exposed: public",
    )
    private = clients.service.schema("private")
    check_client_error(clients, private.table("people").select("*").execute, expected)
    check_client_error(clients, private.table("people").insert({"name": "x"}).execute, expected)
    check_client_error(clients, private.rpc("add", {"a": 1, "b": 2}).execute, expected)
    check_head_error(clients, private.table("people").select("*", head=True).execute, expected)


def test_pgrst107_media_type(clients: Clients) -> None:
    explain = clients.service.table("people").select("*").explain()
    check_client_error(
        clients,
        explain.execute,
        Expected(
            406,
            "PGRST107",
            "None of these media types are available: "
            'application/vnd.pgrst.plan+text; for="application/json"',
        ),
    )
    html = clients.raw("GET", "people", headers={"Accept": "text/html"})
    check_response(
        html, Expected(406, "PGRST107", "None of these media types are available: text/html")
    )


# -- PGRST116: one object asked for ---------------------------------------------------------------


def test_pgrst116_single_with_zero_or_many_rows(clients: Clients) -> None:
    people = clients.service.table("people")
    for query, count in ((people.select("*"), 3), (people.select("*").eq("name", "Zed"), 0)):
        check_client_error(
            clients,
            query.single().execute,
            Expected(
                406,
                "PGRST116",
                "Cannot coerce the result to a single JSON object",
                f"The result contains {count} rows",
            ),
        )
    rpc = clients.service.rpc("people_named", {"prefix": ""}).single()
    check_client_error(
        clients,
        rpc.execute,
        Expected(
            406,
            "PGRST116",
            "Cannot coerce the result to a single JSON object",
            "The result contains 3 rows",
        ),
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "people", [{"name": "Two-1"}, {"name": "Two-2"}]),
        ("PATCH", "people?id=in.(1,2)", {"name": "Renamed"}),
        ("DELETE", "kinds?id=in.(1,2)", None),
    ],
)
def test_pgrst116_mutation_of_two_rows_is_rolled_back(
    clients: Clients, method: str, path: str, body: Any
) -> None:
    before = {
        table: clients.service.table(table).select("*").order("id").execute().data
        for table in ("people", "kinds")
    }
    headers = {"Prefer": "return=representation", "Accept": "application/vnd.pgrst.object+json"}
    response = clients.raw(method, path, json=body, headers=headers)
    check_response(
        response,
        Expected(
            406,
            "PGRST116",
            "Cannot coerce the result to a single JSON object",
            "The result contains 2 rows",
        ),
    )
    for table, rows in before.items():
        assert clients.service.table(table).select("*").order("id").execute().data == rows


# -- PGRST122 / PGRST124: handling=strict ---------------------------------------------------------


def test_pgrst124_max_affected(clients: Clients) -> None:
    expected = Expected(
        400,
        "PGRST124",
        "Query result exceeds max-affected preference constraint",
        "The query affects 3 rows",
    )
    update = clients.service.table("people").update({"name": "All"}).gt("id", 0).max_affected(2)
    check_client_error(clients, update.execute, expected)
    delete = clients.service.table("kinds").delete().gt("id", 0).max_affected(1)
    check_client_error(
        clients,
        delete.execute,
        Expected(
            400,
            "PGRST124",
            "Query result exceeds max-affected preference constraint",
            "The query affects 2 rows",
        ),
    )
    names = clients.service.table("people").select("name").order("id").execute().data
    assert names == [{"name": "Ada"}, {"name": "Brian"}, {"name": "Cleo"}]


def test_pgrst122_invalid_preferences_with_strict_handling(clients: Clients) -> None:
    response = clients.raw(
        "PATCH",
        "people?id=eq.1",
        json={"name": "Ada"},
        headers={"Prefer": "handling=strict, return=bogus"},
    )
    check_response(
        response,
        Expected(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            "Invalid preferences: return=bogus",
        ),
    )
    lenient = clients.raw(
        "PATCH", "people?id=eq.1", json={"name": "Ada"}, headers={"Prefer": "return=bogus"}
    )
    assert lenient.status_code == 204


# -- PGRST200-205: the schema cache ---------------------------------------------------------------


def test_pgrst200_no_relationship(clients: Clients) -> None:
    check_client_error(
        clients,
        clients.service.table("people").select("*, kinds(*)").execute,
        Expected(
            400,
            "PGRST200",
            "Could not find a relationship between 'people' and 'kinds' in the schema cache",
            "Searched for a foreign key relationship between 'people' and 'kinds' in the schema"
            " 'public', but no matches were found.",
        ),
    )


def test_pgrst201_ambiguous_embed_is_300_with_a_details_array(clients: Clients) -> None:
    details = [
        {
            "cardinality": "one-to-many",
            "embedding": "people with messages",
            "relationship": f"messages_{column}_fkey using people(id) and messages({column})",
        }
        for column in ("receiver_id", "sender_id")
    ]
    check_client_error(
        clients,
        clients.service.table("people").select("*, messages(*)").execute,
        Expected(
            300,
            "PGRST201",
            "Could not embed because more than one relationship was found for 'people' and"
            " 'messages'",
            details,
            "Try changing 'messages' to one of the following: 'messages!messages_receiver_id_fkey',"
            " 'messages!messages_sender_id_fkey'. Find the desired relationship in the 'details'"
            " key.",
        ),
    )


def test_pgrst202_function_not_found(clients: Clients) -> None:
    check_client_error(
        clients,
        clients.service.rpc("addd", {"a": 1, "b": 2}).execute,
        Expected(
            404,
            "PGRST202",
            "Could not find the function public.addd(a, b) in the schema cache",
            "Searched for the function public.addd with parameters a, b or with a single unnamed"
            " json/jsonb parameter, but no matches were found in the schema cache.",
            "Perhaps you meant to call the function public.add",
        ),
    )
    check_client_error(
        clients,
        clients.service.rpc("add", {"x": 1}, get=True).execute,
        Expected(
            404,
            "PGRST202",
            "Could not find the function public.add(x) in the schema cache",
            "Searched for the function public.add with parameter x, but no matches were found in"
            " the schema cache.",
        ),
    )


def test_pgrst204_unknown_body_column(clients: Clients) -> None:
    expected = Expected(
        400, "PGRST204", "Could not find the 'nope' column of 'people' in the schema cache"
    )
    people = clients.service.table("people")
    check_client_error(clients, people.insert({"name": "x", "nope": 1}).execute, expected)
    check_client_error(clients, people.update({"nope": 1}).eq("id", 1).execute, expected)


def test_pgrst205_table_not_found_with_a_hint(clients: Clients) -> None:
    close = Expected(
        404,
        "PGRST205",
        "Could not find the table 'public.peple' in the schema cache",
        hint="Perhaps you meant the table 'public.people'",
    )
    check_client_error(clients, clients.service.table("peple").select("*").execute, close)
    check_head_error(clients, clients.service.table("peple").select("*", head=True).execute, close)
    far = Expected(404, "PGRST205", "Could not find the table 'public.zzzzzz' in the schema cache")
    check_client_error(clients, clients.service.table("zzzzzz").delete().eq("id", 1).execute, far)
