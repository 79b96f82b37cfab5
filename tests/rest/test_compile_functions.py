"""The Postgres semantics compiled SQL calls as SQLite functions: full-text search, jsonb
containment and ordering, array operators, ILIKE beyond ASCII, casts; and the request context
the auth functions read."""

from __future__ import annotations

import json

import apsw
import pytest
from test_compile_support import USER_A, user

from performer_edge.errors import PerformerError
from performer_edge.rest.compile import RequestContext, install_functions, request_context
from performer_edge.rest.compile_fts import ts_match
from performer_edge.rest.compile_functions import (
    array_contains,
    array_order,
    array_overlaps,
    json_contains,
    jsonb_order,
    pg_cast,
    pg_ilike,
)
from performer_edge.rest.compile_stem import porter_stem

DOCUMENT = "The quick brown foxes jumped over the lazy dogs"


@pytest.mark.parametrize(
    ("config", "kind", "query", "expected"),
    [
        ("english", "fts", "fox", True),
        ("english", "fts", "foxes & dog", True),
        ("english", "fts", "fox & cat", False),
        ("english", "fts", "fox | cat", True),
        ("english", "fts", "!cat", True),
        ("english", "fts", "!fox", False),
        ("english", "fts", "quick <-> brown", True),
        ("english", "fts", "brown <-> quick", False),
        ("english", "fts", "quick <2> fox", True),
        ("english", "fts", "(cat | lazy) & jump", True),
        ("english", "fts", "jum:*", True),
        ("english", "fts", "'lazy dogs'", True),
        ("english", "fts", "the", False),  # only stop words: matches nothing
        ("simple", "fts", "foxes", True),
        ("simple", "fts", "fox", False),
        ("english", "plfts", "lazy dog and the fox", True),
        ("english", "plfts", "lazy cat", False),
        ("english", "phfts", "jumped over the lazy dog", True),
        ("english", "phfts", "lazy jumped", False),
        ("english", "wfts", '"brown foxes" -cat', True),
        ("english", "wfts", "cat or fox", True),
        ("english", "wfts", "fox -dog", False),
    ],
)
def test_full_text_search(config: str, kind: str, query: str, expected: bool) -> None:
    assert ts_match(config, kind, DOCUMENT, query) == int(expected)


def test_full_text_search_propagates_null() -> None:
    assert ts_match("english", "fts", None, "x") is None


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("caresses", "caress"),
        ("ponies", "poni"),
        ("cats", "cat"),
        ("agreed", "agre"),
        ("hopping", "hop"),
        ("filing", "file"),
        ("relational", "relat"),
        ("generalization", "gener"),
        ("running", "run"),
        ("happiness", "happi"),
        ("a", "a"),
    ],
)
def test_porter_stem(word: str, stem: str) -> None:
    assert porter_stem(word) == stem


@pytest.mark.parametrize(
    ("container", "contained", "expected"),
    [
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}}, True),
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": 1}, {"a": "1"}, False),
        ({"a": True}, {"a": 1}, False),
        ([1, 2, [1, 3]], [1, 3], False),
        ([1, 2, [1, 3]], [[1, 3]], True),
        (["foo", "bar"], "foo", True),
        ({"tags": ["a", "b"]}, {"tags": ["b"]}, True),
        ([{"a": 1, "b": 2}], [{"a": 1}], True),
        ("x", "x", True),
        ({}, {}, True),
    ],
)
def test_json_contains(container: object, contained: object, expected: bool) -> None:
    assert json_contains(json.dumps(container), json.dumps(contained)) == int(expected)


def test_jsonb_order_follows_postgres() -> None:
    values = [{"a": 1}, [1, 2], [3], True, 10, 2, "b", "a", None, {}]
    ordered = sorted(
        (json.dumps(v) for v in values),
        key=lambda text: _Key(text, jsonb_order),
    )
    assert [json.loads(v) for v in ordered] == [
        None, "a", "b", 2, 10, True, [3], [1, 2], {}, {"a": 1}
    ]  # fmt: skip


def test_array_operators() -> None:
    assert array_contains('["a","b"]', '["b"]') == 1
    assert array_contains('["a",null]', "[null]") == 0
    assert array_overlaps("[1,2]", "[2,3]") == 1
    assert array_overlaps("[1,null]", "[null]") == 0
    assert array_order("[1,2]", "[1,2,0]") < 0
    assert array_order("[2]", "[1,9]") > 0
    assert array_order("[null]", "[1]") > 0


def test_ilike_folds_unicode() -> None:
    assert pg_ilike("ÉCOLE", "éc%") == 1
    assert pg_ilike("école", "_cole") == 1
    assert pg_ilike("100%", "100\\%") == 1
    assert pg_ilike("100x", "100\\%") == 0


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (1.5, "numeric", "int4", 2),
        (-2.5, "float8", "int8", -3),
        (1, "bool", "text", "true"),
        (1, "bool", "int4", 1),
        (0, "int4", "bool", 0),
        ("2024-01-01T12:00:00.500000+00:00", "timestamptz", "text", "2024-01-01 12:00:00.5+00"),
        ("2024-01-01T23:00:00.000000+00:00", "timestamptz", "date", "2024-01-01"),
        ('{"b":1,"aa":[1,2]}', "jsonb", "text", '{"b": 1, "aa": [1, 2]}'),
        ('["a b",null]', "text[]", "text", '{"a b",NULL}'),
        ("42", "text", "int8", 42),
        ('{"x":1}', "text", "jsonb", '{"x":1}'),
        ("ab ", "char(3)", "text", "ab"),
        (b"\x01", "bytea", "text", "\\x01"),
    ],
)
def test_pg_cast(value: object, source: str, target: str, expected: object) -> None:
    assert pg_cast(value, source, target) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "source", "target", "code"),
    [
        ("x", "text", "int4", "22P02"),
        (1e10, "float8", "int4", "22003"),
        ("nope", "text", "jsonb", "22P02"),
    ],
)
def test_pg_cast_errors(value: object, source: str, target: str, code: str) -> None:
    with pytest.raises(PerformerError) as raised:
        pg_cast(value, source, target)  # type: ignore[arg-type]
    assert raised.value.error_code == code


def test_auth_functions_read_the_context_of_the_running_request() -> None:
    conn = apsw.Connection(":memory:")
    install_functions(conn)
    sql = "SELECT auth_uid(), auth_role(), json_extract(auth_jwt(), '$.email')"
    with request_context(user(USER_A)):
        assert list(conn.execute(sql)) == [(USER_A, "authenticated", "u@x.io")]
    with request_context(RequestContext("anon")):
        assert list(conn.execute(sql)) == [(None, "anon", None)]
    with pytest.raises(RuntimeError):
        list(conn.execute(sql))


def test_install_functions_accepts_a_custom_provider() -> None:
    conn = apsw.Connection(":memory:")
    holder = {"context": RequestContext("anon")}
    install_functions(conn, lambda: holder["context"])
    assert list(conn.execute("SELECT auth_role()")) == [("anon",)]
    holder["context"] = RequestContext.for_claims({"role": "service_role"})
    assert list(conn.execute("SELECT auth_role()")) == [("service_role",)]


class _Key:
    """Sort key from a comparison function (functools.cmp_to_key, typed)."""

    def __init__(self, text: str, compare: object) -> None:
        self.text = text
        self.compare = compare

    def __lt__(self, other: _Key) -> bool:
        return self.compare(self.text, other.text) < 0  # type: ignore[operator]
