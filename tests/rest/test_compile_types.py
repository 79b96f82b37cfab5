"""Values in PostgREST's JSON shapes for every supported type, casts, typed filter values and
every operator on them, and request bodies converted to stored values."""

from __future__ import annotations

from typing import Any

import pytest
from test_compile_support import Database, error_of

from performer_edge.errors import InvalidInput
from performer_edge.rest.compile import body_row_to_storage

SCHEMA = r"""
create type mood as enum ('sad', 'ok', 'happy');
create table items (
  id int primary key,
  label text,
  code char(3),
  flag boolean,
  qty int,
  price numeric(8,2),
  ratio double precision,
  data jsonb,
  raw json,
  tags text[],
  scores int[],
  at timestamptz,
  local_at timestamp,
  day date,
  clock time,
  ref uuid,
  blob bytea,
  feeling mood,
  slug text generated always as (lower(label)) stored
);
insert into items (id, label, code, flag, qty, price, ratio, data, raw, tags, scores, at,
  local_at, day, clock, ref, blob, feeling) values
  (1, 'Alpha', 'ab', true, 1, 9.99, 0.5, '{"a": 1, "b": {"c": "x"}, "list": [1, 2]}',
   '{"k": "v"}', array['red', 'green'], array[3, 1], '2024-01-01 12:00:00+00',
   '2024-01-01 12:00:00', '2024-01-01', '08:30:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '\xdeadbeef', 'happy'),
  (2, 'beta', 'x', false, 2, 10, 1.25, '{"a": 2, "b": {"c": "y"}}', '[1, 2]', array['green'],
   array[10], '2024-06-01 08:15:30.123456+02', '2024-06-01 08:15:30.5', '2024-06-01',
   '23:59:59.999', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '\x00', 'sad'),
  (3, 'Gamma rays', null, null, 3, null, null, '{"a": "10"}', null, '{}', null, null, null,
   null, null, null, null, 'ok'),
  (4, 'Ωmega', null, null, null, null, null, null, null, null, null, null, null, null, null,
   null, null, null);
"""

ROW_1 = {
    "id": 1,
    "label": "Alpha",
    "code": "ab ",
    "flag": True,
    "qty": 1,
    "price": 9.99,
    "ratio": 0.5,
    "data": {"a": 1, "b": {"c": "x"}, "list": [1, 2]},
    "raw": {"k": "v"},
    "tags": ["red", "green"],
    "scores": [3, 1],
    "at": "2024-01-01T12:00:00+00:00",
    "local_at": "2024-01-01T12:00:00",
    "day": "2024-01-01",
    "clock": "08:30:00",
    "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "blob": "\\xdeadbeef",
    "feeling": "happy",
    "slug": "alpha",
}


@pytest.fixture(scope="module")
def db() -> Database:
    return Database(SCHEMA)


def test_every_type_in_postgrest_json_shape(db: Database) -> None:
    assert db.get("items", "id=eq.1").data == [ROW_1]
    second = db.get("items", "select=at,local_at,clock,price,blob&id=eq.2").data
    assert second == [
        {
            "at": "2024-06-01T06:15:30.123456+00:00",
            "local_at": "2024-06-01T08:15:30.5",
            "clock": "23:59:59.999",
            "price": 10,
            "blob": "\\x00",
        }
    ]


def ids(*values: int) -> list[dict[str, int]]:
    return [{"id": v} for v in values]


FILTERS: list[tuple[str, list[dict[str, int]]]] = [
    ("flag=eq.true", ids(1)),
    ("flag=is.false", ids(2)),
    ("flag=is.unknown", ids(3, 4)),
    ("flag=not.is.true", ids(2, 3, 4)),
    ("qty=in.(1,3)", ids(1, 3)),
    ("qty=not.in.(1,3)", ids(2)),
    ("qty=in.()", []),
    ("qty=not.in.()", ids(1, 2, 3, 4)),  # NOT (NULL = ANY('{}')) is true
    ("qty=eq(any).{2,3}", ids(2, 3)),
    ("qty=gt(all).{0,1}", ids(2, 3)),
    ("qty=eq(any).{1,NULL}", ids(1)),
    ("price=gte.10", ids(2)),
    ("price=lt.9.995", ids(1)),
    ("ratio=eq.1.25", ids(2)),
    ("label=like.*a", ids(1, 2, 4)),
    ("label=like.A*", ids(1)),
    ("label=like.a*", []),
    ("label=ilike.A*", ids(1)),
    ("label=ilike.ωM*", ids(4)),
    ("label=like.Gamma_rays", ids(3)),
    ("label=like.*%5C*", []),
    ("label=match.^[A-Z]", ids(1, 3)),
    ("label=imatch.^b", ids(2)),
    ("label=not.match.a$", ids(3)),
    ("code=eq.ab", ids(1)),
    ("code=like.ab", ids(1)),
    ("code=in.(x,zz)", ids(2)),
    ("feeling=gt.sad", ids(1, 3)),
    ("feeling=lte.ok", ids(2, 3)),
    ("at=gt.2024-03-01", ids(2)),
    ("at=eq.2024-06-01T06:15:30.123456Z", ids(2)),
    ("at=eq.2024-01-01 13:00:00%2B01", ids(1)),
    ("local_at=lt.2024-06-01T08:15:31", ids(1, 2)),
    ("day=eq.2024-06-01", ids(2)),
    ("clock=gt.09:00", ids(2)),
    ("ref=eq.A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", ids(1)),
    ("blob=eq.\\xdeadbeef", ids(1)),
    ("qty=isdistinct.1", ids(2, 3, 4)),
    ("tags=cs.{green}", ids(1, 2)),
    ("tags=cd.{green,red,blue}", ids(1, 2, 3)),
    ("tags=ov.{red,blue}", ids(1)),
    ("tags=eq.{}", ids(3)),
    ("tags=eq.{red,green}", ids(1)),
    ("scores=cs.{1}", ids(1)),
    ("scores=gt.{3}", ids(1, 2)),  # {3,1} > {3}: equal prefix, longer
    ('data=cs.{"b":{"c":"x"}}', ids(1)),
    ('data=cd.{"a":2,"b":{"c":"y"},"z":0}', ids(2)),
    ("data->list=cs.[2]", ids(1)),
    ("data->a=eq.1", ids(1)),
    ('data->a=eq."10"', ids(3)),
    ("data->a=gt.1", ids(2)),
    ("data->>a=eq.10", ids(3)),
    ("data->b->>c=in.(x,y)", ids(1, 2)),
    ("data->b=is.null", ids(3, 4)),
    ("data->missing=is.null", ids(1, 2, 3, 4)),
    ('data=eq.{"b":{"c":"y"},"a":2}', ids(2)),
    ("or=(qty.eq.1,and(flag.is.false,label.eq.beta))", ids(1, 2)),
    ("not.or=(qty.eq.1,qty.is.null)", ids(2, 3)),
    ("and=(qty.gte.1,not.and(qty.lte.2,flag.is.true))", ids(2, 3)),
    ("label=fts.ray", ids(3)),
    ("label=fts(simple).ray", []),
    ("label=fts.gam:*", ids(3)),
    ("label=fts.alpha | !gamma", ids(1, 2, 4)),
    ("label=plfts.the gamma rays", ids(3)),
    ("label=phfts.rays gamma", []),
    ("label=wfts.alpha or beta -gamma", ids(1, 2)),
    ('label=wfts."gamma ray"', ids(3)),
    ("id=not.eq.1&id=not.eq.2", ids(3, 4)),
]


@pytest.mark.parametrize(("query_string", "expected"), FILTERS)
def test_filter(db: Database, query_string: str, expected: list[dict[str, int]]) -> None:
    assert db.get("items", f"select=id&{query_string}").data == expected


ORDERS = [
    ("order=data->a", [3, 1, 2, 4]),  # jsonb order: strings before numbers: "10" < 1 < 2
    ("order=data->>a", [1, 3, 2, 4]),  # as text: "1" < "10" < "2"
    ("order=scores.desc", [4, 3, 2, 1]),  # NULLs first (ties newest first), {10} > {3,1}
    ("order=flag.desc.nullslast,id.desc", [1, 2, 4, 3]),
    ("order=at.asc.nullsfirst,id", [3, 4, 1, 2]),
    ("order=label", [1, 3, 2, 4]),
    ("order=feeling,id", [2, 3, 1, 4]),  # enums in declaration order: sad < ok < happy
]


@pytest.mark.parametrize(("query_string", "expected"), ORDERS)
def test_order(db: Database, query_string: str, expected: list[int]) -> None:
    rows = db.get("items", f"select=id&{query_string}").data
    assert [row["id"] for row in rows] == expected


CASTS: list[tuple[str, dict[str, Any]]] = [
    ("qty::text,flag::text,price::int,ratio::text", {"qty": "1", "flag": "true", "price": 10,
     "ratio": "0.5"}),
    ("at::text,local_at::date,d:at::date,day::text", {"at": "2024-01-01 12:00:00+00",
     "local_at": "2024-01-01", "d": "2024-01-01", "day": "2024-01-01"}),
    ("data::text,tags::text,raw::jsonb", {"data": '{"a": 1, "b": {"c": "x"}, "list": [1, 2]}',
     "tags": "{red,green}", "raw": {"k": "v"}}),
    ("label::json,qty::bool,code::text", {"label": None, "qty": True, "code": "ab"}),
    ("n:qty.sum()::text,m:price.max()", {"n": "1", "m": 9.99}),
    ("a:data->a::int,b:data->b->>c::text", {"a": 1, "b": "x"}),
]  # fmt: skip


def test_casts(db: Database) -> None:
    for select, expected in CASTS:
        if select.startswith("label::json"):
            assert error_of(lambda s=select: db.get("items", f"select={s}&id=eq.1")) == (
                "22P02",
                'invalid input syntax for type json: "Alpha"',
            )
            continue
        assert db.get("items", f"select={select}&id=eq.1").data == [expected], select


TYPE_ERRORS = [
    ("ref=eq.nope", "22P02", 'invalid input syntax for type uuid: "nope"'),
    ("flag=eq.maybe", "22P02", 'invalid input syntax for type boolean: "maybe"'),
    ("day=eq.yesterday", "22P02", 'invalid input syntax for type date: "yesterday"'),
    ("tags=cs.red", "22P02", 'malformed array literal: "red"'),
    ("qty=eq.99999999999", "22003", 'value "99999999999" is out of range for type integer'),
    ("feeling=eq.angry", "22P02", 'invalid input value for enum mood: "angry"'),
    ("data=ov.{}", "42883", "operator does not exist: jsonb && unknown"),
    ("feeling=like.h*", "42883", "operator does not exist: mood ~~ unknown"),
    ("qty=fts.x", "42883", "function to_tsvector(unknown, integer) does not exist"),
    ("label=is.true", "42804", "argument of IS TRUE must be type boolean, not type text"),
    ("label=fts(klingon).x", "42704", 'text search configuration "klingon" does not exist'),
    ("select=qty::json", "42846", "cannot cast type integer to json"),
    ("select=data.sum()", "42883", "function sum(jsonb) does not exist"),
]


@pytest.mark.parametrize(("query_string", "code", "message"), TYPE_ERRORS)
def test_type_errors(db: Database, query_string: str, code: str, message: str) -> None:
    assert error_of(lambda: db.get("items", query_string)) == (code, message)


def test_body_values_to_storage(db: Database) -> None:
    stored = body_row_to_storage(
        "items",
        {
            "id": 9,
            "flag": True,
            "data": {"z": [1]},
            "tags": ["a b"],
            "at": "2024-01-01T00:00:00+02:00",
            "blob": "\\x0102",
            "ref": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
        },
        db.catalog,
    )
    assert stored == {
        "id": 9,
        "flag": 1,
        "data": '{"z":[1]}',
        "tags": '["a b"]',
        "at": "2023-12-31T22:00:00.000000+00:00",
        "blob": b"\x01\x02",
        "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    }


@pytest.mark.parametrize(
    ("row", "code", "message"),
    [
        (
            {"nope": 1},
            "PGRST204",
            "Could not find the 'nope' column of 'items' in the schema cache",
        ),
        ({"qty": "many"}, "22P02", 'invalid input syntax for type integer: "many"'),
        ({"qty": 1.5}, "22P02", 'invalid input syntax for type integer: "1.5"'),
        ({"slug": "x"}, "428C9", 'cannot insert a non-DEFAULT value into column "slug"'),
    ],
)
def test_body_errors(db: Database, row: dict[str, Any], code: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        body_row_to_storage("items", row, db.catalog)
    assert (raised.value.error_code, raised.value.message) == (code, message)
