"""Hypothesis fuzzing of whole `/rest/v1` HTTP requests against a real node.

Requests (fuzz_requests.py) mix PostgREST's real grammar with junk. Properties: never a 5xx;
every error has PostgREST's body (code and message strings, details and hint keys) and the
status PostgREST gives its code (supabase-wire.md §1.4); a 2xx body parses as its Content-Type
says. Derandomized and bounded, so CI sends the same ~1,000 requests every time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fuzz_requests import (
    FUNCTIONS,
    TABLES,
    body,
    encode,
    headers,
    json_value,
    junk_value,
    path,
    percent,
    query_pairs,
    query_string,
    selection,
    table_rows,
    valid_headers,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_api_errors import error_schema_node

pytestmark = pytest.mark.network

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BODY_KEYS = {"code", "details", "hint", "message"}

# PostgREST's own codes and the status it answers each with (docs: references/errors).
PGRST_STATUS = {
    "PGRST100": 400,
    "PGRST101": 405,
    "PGRST102": 400,
    "PGRST103": 416,
    "PGRST105": 405,
    "PGRST106": 406,
    "PGRST107": 406,
    "PGRST108": 400,
    "PGRST114": 400,
    "PGRST115": 400,
    "PGRST116": 406,
    "PGRST117": 405,
    "PGRST118": 400,
    "PGRST120": 400,
    "PGRST121": 400,
    "PGRST122": 400,
    "PGRST123": 400,
    "PGRST124": 400,
    "PGRST125": 404,
    "PGRST126": 404,
    "PGRST127": 400,
    "PGRST128": 400,
    "PGRST200": 400,
    "PGRST201": 300,
    "PGRST202": 404,
    "PGRST203": 300,
    "PGRST204": 400,
    "PGRST205": 404,
    "PGRST301": 401,
    "PGRST302": 401,
    "PGRST303": 401,
}
# SQLSTATEs whose status is not PostgREST's default 400 (and that a request can cause here).
SQLSTATE_STATUS = {"23503": 409, "23505": 409, "42883": 404, "42P01": 404, "25006": 405}


@dataclass(frozen=True)
class Target:
    url: str
    keys: tuple[str, ...]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with error_schema_node(tmp_path_factory) as node:
        yield Target(node.url, (node.key("service_role"), node.key("anon")))


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def expected_status(code: str) -> set[int]:
    if code in PGRST_STATUS:
        return {PGRST_STATUS[code]}
    assert len(code) == 5 and code.isalnum(), f"not a PostgREST or Postgres code: {code!r}"
    if code == "42501":
        return {401, 403}
    return {SQLSTATE_STATUS.get(code, 400)}


def check(response: httpx.Response, method: str) -> None:
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:2000]}"
    if status >= 300 and status != 304:
        proxy = response.headers.get("Proxy-Status", "")
        assert proxy.startswith("PostgREST; error="), (status, response.text[:500])
        code = proxy.removeprefix("PostgREST; error=")
        assert status in expected_status(code), (status, code)
        if method == "HEAD":
            return
        found = response.json()
        assert isinstance(found, dict) and set(found) == BODY_KEYS, found
        assert found["code"] == code
        assert isinstance(found["message"], str)
        assert found["hint"] is None or isinstance(found["hint"], str)
        return
    if method == "HEAD" or not response.content:
        return
    content_type = response.headers["Content-Type"]
    if "json" in content_type:
        parsed = response.json()
        if "vnd.pgrst.object+json" in content_type:
            assert isinstance(parsed, dict)
    else:
        assert content_type.startswith(("text/csv", "application/vnd.pgrst.plan+text")), (
            content_type
        )
        response.content.decode()


@dataclass(frozen=True)
class Request:
    method: str
    where: str
    query: str
    headers: dict[str, str]
    content: bytes | None


def send(http: httpx.Client, target: Target, request: Request, key: int) -> None:
    apikey = target.keys[key]
    request_headers = {"apikey": apikey, "Authorization": f"Bearer {apikey}", **request.headers}
    query = f"?{request.query}" if request.query else ""
    url = f"{target.url}/rest/v1/{request.where}{query}"
    response = http.request(request.method, url, headers=request_headers, content=request.content)
    check(response, request.method)


any_request = st.builds(
    Request,
    st.sampled_from(["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"]),
    path,
    query_string,
    headers,
    body,
)


@st.composite
def table_request(draw: st.DrawFn) -> Request:
    """A read, update or delete of a real table: the query grammar at depth."""
    method = draw(st.sampled_from(["GET", "GET", "HEAD", "PATCH", "DELETE"]))
    table = draw(st.sampled_from(TABLES))
    query = encode(draw(query_pairs(table, max_size=6)))
    content = None
    if method == "PATCH":
        rows = draw(table_rows(table).filter(lambda found: isinstance(found, dict)))
        content = json.dumps(rows).encode()
    return Request(method, table, query, draw(headers), content)


@st.composite
def write_request(draw: st.DrawFn) -> Request:
    """An insert, upsert or update with rows whose values mostly fit their columns."""
    method = draw(st.sampled_from(["POST", "POST", "PATCH"]))
    table = draw(st.sampled_from(TABLES))
    rows = draw(table_rows(table))
    pairs = [("select", draw(selection(table)))] if draw(st.booleans()) else []
    if method == "PATCH":
        pairs.append(("id", f"eq.{draw(st.integers(1, 4))}"))
    elif draw(st.booleans()):
        pairs.append(("on_conflict", draw(st.sampled_from(["id", "email", "name", "nope"]))))
    extra = {**draw(valid_headers), "Content-Type": "application/json"}
    return Request(method, table, encode(pairs), extra, json.dumps(rows).encode())


@st.composite
def rpc_request(draw: st.DrawFn) -> Request:
    """A call by POST (JSON arguments) or GET (query-string arguments), names mostly real."""
    function = draw(st.sampled_from([*FUNCTIONS, "nope", "ad"]))
    arguments = draw(
        st.dictionaries(
            st.sampled_from(["a", "b", "a", "b", "prefix", "name", "x", ""]),
            st.one_of(st.integers(-(2**40), 2**40), st.text(max_size=8), json_value, junk_value),
            max_size=3,
        )
    )
    query = encode(draw(query_pairs("people", max_size=3)))
    extra = draw(headers)
    if draw(st.booleans()):
        pairs = [f"{percent(k)}={percent(str(v))}" for k, v in arguments.items()]
        full = "&".join(p for p in [*pairs, query] if p)
        return Request("GET", f"rpc/{function}", full, extra, None)
    return Request("POST", f"rpc/{function}", query, extra, json.dumps(arguments).encode())


@FUZZ
@given(request=any_request, key=st.integers(0, 1))
def test_any_request_gets_a_postgrest_answer(
    http: httpx.Client, target: Target, request: Request, key: int
) -> None:
    send(http, target, request, key)


@FUZZ
@given(request=table_request(), key=st.integers(0, 1))
def test_query_grammar_on_real_tables(
    http: httpx.Client, target: Target, request: Request, key: int
) -> None:
    send(http, target, request, key)


@FUZZ
@given(request=write_request(), key=st.integers(0, 1))
def test_bodies_of_every_type_on_real_tables(
    http: httpx.Client, target: Target, request: Request, key: int
) -> None:
    send(http, target, request, key)


@FUZZ
@given(request=rpc_request(), key=st.integers(0, 1))
def test_rpc_calls(http: httpx.Client, target: Target, request: Request, key: int) -> None:
    send(http, target, request, key)
