"""Hypothesis strategies for whole PostgREST requests against `error_migrations/`.

Each part is mostly well-formed (real tables, columns, operators, values that fit the column's
type, valid headers) so requests get past the parser into the compiler and the row layer, and
sometimes junk (bytes, unicode, huge numbers, wrong types, bad headers) so the edges are hit too.
"""

from __future__ import annotations

import json
import string
from functools import cache
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

COLUMNS = {
    "people": ["id", "name", "email"],
    "messages": ["id", "sender_id", "receiver_id", "body"],
    "kinds": [
        *("id", "i2", "i4", "i8", "f4", "f8", "num", "flag", "label", "short", "uid"),
        *("day", "clock", "stamp", "stamptz", "doc", "docb", "raw", "tags", "nums", "feeling"),
    ],
    "tasks": ["id", "title", "owner"],
}
TABLES = list(COLUMNS)
FUNCTIONS = {"add": ["a", "b"], "people_named": ["prefix"], "add_person": ["name"]}
OPERATORS = [
    *("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "is"),
    *("isdistinct", "in", "cs", "cd", "ov", "sl", "sr", "nxl", "nxr", "adj", "fts", "plfts"),
    *("phfts", "wfts", "wfts(english)", "like(any)", "eq(all)", "not.eq", "not.in", "not.is"),
]
MEDIA_TYPES = [
    "application/json",
    "application/vnd.pgrst.object+json",
    "application/vnd.pgrst.array+json;nulls=stripped",
    "application/vnd.pgrst.object+json;nulls=stripped",
    "text/csv",
    "*/*",
    "application/*;q=0.5, text/csv",
]
BAD_MEDIA_TYPES = [
    "application/vnd.pgrst.plan+text",
    'application/vnd.pgrst.plan+json; for="application/json"; options=analyze',
    "application/openapi+json",
    "application/geo+json",
    "text/plain",
    "application/json;q=0",
    "image/png",
    ";;;",
]
PREFER_TOKENS = [
    *("return=representation", "return=minimal", "return=headers-only", "count=exact"),
    *("count=planned", "count=estimated", "resolution=merge-duplicates", "missing=default"),
    *("resolution=ignore-duplicates", "handling=lenient", "tx=commit", "tx=rollback"),
    *("handling=strict", "max-affected=1", "max-affected=100"),
]
BAD_PREFER_TOKENS = [
    *("return=bogus", "count=", "max-affected=-5", "max-affected=99999999999999999999"),
    *("params=single-object", "timezone=Mars/Olympus", "="),
]

junk_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=24)
huge_number = st.sampled_from(
    ["9" * 40, "-" + "9" * 40, "1e999", "-1e-999", "NaN", "Infinity", "0x1F", "1_000", "00012"]
)
json_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        junk_text,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(junk_text, inner, max_size=3)
    ),
    max_leaves=8,
)
words = st.text(alphabet=string.ascii_letters + " '-_", max_size=12)
small_ids = st.integers(-1, 6)
uuids = st.sampled_from(
    ["00000000-0000-0000-0000-000000000001", "6f1c2b3a-9d8e-4f70-a1b2-c3d4e5f60718"]
)
# A value that fits each column, as JSON (bodies) — the filter text is derived from it.
FITTING: dict[str, st.SearchStrategy[Any]] = {
    "id": small_ids,
    "sender_id": small_ids,
    "receiver_id": st.one_of(st.none(), small_ids),
    "i2": st.integers(-(2**15), 2**15 - 1),
    "i4": st.integers(-(2**31), 2**31 - 1),
    "i8": st.integers(-(2**63), 2**63 - 1),
    "f4": st.floats(-1e30, 1e30),
    "f8": st.floats(allow_nan=False, allow_infinity=False),
    "num": st.one_of(st.integers(-(10**20), 10**20), st.floats(-1e15, 1e15)),
    "flag": st.booleans(),
    "label": words,
    "name": words,
    "title": words,
    "body": st.one_of(st.none(), words),
    "email": st.one_of(st.none(), words.map(lambda w: f"{w}@example.com")),
    "short": st.text(alphabet=string.ascii_letters, max_size=5),
    "uid": uuids,
    "owner": uuids,
    "day": st.dates().map(lambda d: d.isoformat()),
    "clock": st.times().map(lambda t: t.isoformat()),
    "stamp": st.datetimes().map(lambda d: d.isoformat()),
    "stamptz": st.datetimes().map(lambda d: d.isoformat() + "+02:00"),
    "doc": json_value,
    "docb": json_value,
    "raw": st.binary(max_size=8).map(lambda b: "\\x" + b.hex()),
    "tags": st.lists(words, max_size=3),
    "nums": st.lists(st.integers(-100, 100), max_size=3),
    "feeling": st.sampled_from(["sad", "ok", "happy"]),
}
ALL_COLUMNS = sorted(FITTING)
junk_value = st.one_of(
    huge_number,
    junk_text,
    json_value,
    st.sampled_from(["null", "not_null", "unknown", "{a,b}", '{"k":1}', "[1,2)", '(a,"b,c")']),
)


def as_text(value: Any) -> str:
    """A JSON value as PostgREST filter text (py's serialisation)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "{" + ",".join(as_text(v) for v in value) + "}"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


# Strategy builders are cached per argument: they run inside draws (flatmap, composite), and a
# fresh strategy object per draw cost Hypothesis more than the requests did. Same strategies.
@cache
def value_for(column: str) -> st.SearchStrategy[Any]:
    fitting = FITTING.get(column, junk_value)
    return st.one_of(fitting, fitting, fitting, junk_value)


def percent(text: str) -> str:
    return quote(text, safe="(),.:*!-_>")


def encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{percent(k)}={percent(v)}" for k, v in pairs)


@cache
@st.composite
def filter_value(draw: st.DrawFn, column: str) -> str:
    """`op.value` for `column`, the value usually fitting the column's type."""
    operator = draw(st.sampled_from(OPERATORS))
    if operator.endswith("in"):
        items = draw(st.lists(value_for(column), max_size=3))
        return f"{operator}.({','.join(json.dumps(as_text(v)) for v in items)})"
    if operator.endswith("is"):
        return f"{operator}.{draw(st.sampled_from(['null', 'true', 'FALSE', 'unknown', 'x']))}"
    return f"{operator}.{as_text(draw(value_for(column)))}"


@cache
@st.composite
def condition(draw: st.DrawFn, table: str) -> str:
    """`col.op.value` as written inside or=(...)."""
    column = draw(st.sampled_from([*COLUMNS[table], "nope", "doc->a", "docb->>k"]))
    return f"{column}.{draw(filter_value(column.split('-')[0]))}"


@cache
def logic_tree(table: str) -> st.SearchStrategy[str]:
    return st.recursive(
        condition(table),
        lambda inner: st.builds(
            lambda op, children: f"{op}({','.join(children)})",
            st.sampled_from(["and", "or", "not.and", "not.or"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
        max_leaves=6,
    )


@cache
def select_item(table: str) -> st.SearchStrategy[str]:
    columns = st.sampled_from(COLUMNS[table])
    return st.one_of(
        columns,
        columns,
        columns.map(lambda c: f"alias_{c}:{c}"),
        columns.map(lambda c: f"{c}::text"),
        st.sampled_from(
            [
                *("*", "count()", "id.sum()", "messages(*)", "messages!sender_id(*)"),
                *("messages!messages_receiver_id_fkey(id,body)", "people(*)"),
                *("sender:people!sender_id(name)", "people!inner(*)", "...people!sender_id(name)"),
                *("doc->a", "docb->>k", "tags->0"),
            ]
        ),
        st.sampled_from(["nope", "i4::junk", "kinds(*)", "a(b(c(d)))", ",", "(("]),
    )


@cache
def selection(table: str) -> st.SearchStrategy[str]:
    return st.lists(select_item(table), min_size=1, max_size=4).map(",".join)


@cache
def query_pairs(table: str, *, max_size: int = 5) -> st.SearchStrategy[list[tuple[str, str]]]:
    columns = [*COLUMNS[table], "nope"]
    pair = st.one_of(
        st.tuples(st.just("select"), selection(table)),
        st.tuples(
            st.just("order"),
            st.builds(
                lambda c, d, n: f"{c}{d}{n}",
                st.sampled_from([*columns, "people(name)"]),
                st.sampled_from(["", ".asc", ".desc", ".up"]),
                st.sampled_from(["", ".nullsfirst", ".nullslast"]),
            ),
        ),
        st.tuples(
            st.sampled_from(["limit", "offset"]),
            st.one_of(st.integers(0, 10).map(str), huge_number, junk_text),
        ),
        st.tuples(
            st.sampled_from(["on_conflict", "columns"]),
            st.lists(st.sampled_from([*columns, '"name"', "(x"]), max_size=3).map(",".join),
        ),
        st.tuples(
            st.sampled_from(["or", "and", "not.or", "not.and", "messages.or"]),
            logic_tree(table).map(lambda tree: "(" + tree + ")"),
        ),
        st.sampled_from(columns).flatmap(lambda c: st.tuples(st.just(c), filter_value(c))),
        st.sampled_from(columns).flatmap(lambda c: st.tuples(st.just(c), filter_value(c))),
        st.tuples(junk_text, junk_text),
    )
    return st.lists(pair, max_size=max_size)


query_string = st.one_of(
    st.sampled_from(TABLES).flatmap(query_pairs).map(encode),
    st.sampled_from(TABLES).flatmap(query_pairs).map(encode),
    # Raw bytes as they arrive, including escapes that decode to invalid UTF-8.
    st.text(alphabet=string.printable.replace("#", ""), max_size=40).map(
        lambda raw: quote(raw, safe="=&%")
    ),
    st.sampled_from(["%ff%fe=%c3%28", "select=%00", "a=%zz", "&&==&", "id=eq.%e2%82"]),
)


@cache
@st.composite
def table_row(draw: st.DrawFn, table: str) -> dict[str, Any]:
    """An object keyed by the table's columns, values usually of the column's type."""
    names = draw(st.lists(st.sampled_from([*COLUMNS[table], "nope"]), max_size=5, unique=True))
    return {name: draw(value_for(name)) for name in names}


@cache
def table_rows(table: str) -> st.SearchStrategy[Any]:
    return st.one_of(table_row(table), st.lists(table_row(table), min_size=1, max_size=4))


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": [value]}
    return value


body = st.one_of(
    st.none(),
    st.sampled_from(TABLES).flatmap(table_rows).map(lambda rows: json.dumps(rows).encode()),
    json_value.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            *(b"", b"{", b"[1,", b'{"name": 1e999}', b'{"i4": 123456789012345678901234567890}'),
            *(b"\xff\xfe", b"name=x&id=1", b"name,id\nx,1"),
            json.dumps({"label": "x" * 200_000}).encode(),
            json.dumps(_deep(200)).encode(),
            json.dumps({"doc": _deep(60)}).encode(),
        ]
    ),
    st.binary(max_size=64),
)


def _printable(found: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in found.items() if v.isascii() and v.isprintable()}


valid_headers = st.fixed_dictionaries(
    {},
    optional={
        "Prefer": st.lists(st.sampled_from(PREFER_TOKENS), max_size=3).map(",".join),
        "Accept": st.sampled_from(MEDIA_TYPES),
        "Range": st.sampled_from(["0-1", "1-2", "0-", "2-10"]),
        "Accept-Profile": st.just("public"),
        "Content-Profile": st.just("public"),
    },
)
junk_headers = st.fixed_dictionaries(
    {},
    optional={
        "Prefer": st.lists(st.sampled_from(PREFER_TOKENS + BAD_PREFER_TOKENS), max_size=4).map(
            ",".join
        ),
        "Accept": st.one_of(st.sampled_from(BAD_MEDIA_TYPES), junk_text),
        "Content-Type": st.sampled_from(
            ["application/json", "text/csv", "text/plain", "application/x-www-form-urlencoded"]
        ),
        "Range": st.one_of(
            st.sampled_from(["5-2", "-", "abc", "1-99999999999999999999"]), junk_text
        ),
        "Accept-Profile": st.sampled_from(["public", "private", ""]),
        "Content-Profile": st.sampled_from(["public", "private"]),
    },
).map(_printable)
headers = st.one_of(st.just({}), valid_headers, valid_headers, junk_headers)
path = st.one_of(
    st.sampled_from(TABLES),
    st.sampled_from(TABLES),
    st.sampled_from(sorted(FUNCTIONS)).map(lambda name: f"rpc/{name}"),
    st.sampled_from(["", "rpc/", "rpc/nope", "peple", "people/1", "PEOPLE", "%00", "rpc/add/x"]),
    junk_text.map(lambda name: quote(name, safe="")),
)
