"""RPC over `language sql` functions: scalar, set-of-scalar, table, row and void results, with
arguments from a JSON body (POST) or the query string (GET), defaults, and PGRST202."""

from __future__ import annotations

from typing import Any

import pytest
from test_compile_support import SERVICE, Database

from performer_edge.errors import InvalidInput, NotFound
from performer_edge.rest.compile import compile_rpc
from performer_edge.rest.query import Query

SCHEMA = """
create table public.scores (id int primary key, player text not null, points int not null);
insert into public.scores values (1, 'ann', 5), (2, 'bob', 7), (3, 'ann', 4);
create function public.add(a int, b int default 10) returns int language sql immutable
  as $$ select a + b $$;
create function public.greet(name text) returns text language sql as $$ select 'hi ' || name $$;
create function public.top_points(lim int) returns setof int language sql
  as $$ select points from scores order by points desc limit lim $$;
create function public.leaders() returns table (who text, total bigint) language sql
  as $$ select player, sum(points) from scores group by player order by 2 desc $$;
create function public.best() returns scores language sql
  as $$ select * from scores order by points desc limit 1 $$;
create function public.reset_points(who text) returns void language sql
  as $$ update scores set points = 0 where player = who $$;
create function public.is_even(n int) returns boolean language sql as $$ select n % 2 = 0 $$;
create function public.echo_json(j jsonb) returns jsonb language sql as $$ select j $$;
create function public.echo_tags(t text[]) returns text[] language sql as $$ select t $$;
create function public.bump(who text) returns setof scores language sql
  as $$ update scores set points = points + 1 where player = who;
        select * from scores where player = who $$;
"""


@pytest.fixture
def db() -> Database:
    return Database(SCHEMA)


CALLS: list[tuple[str, dict[str, Any], str, dict[str, Any], Any]] = [
    ("add", {"a": 1, "b": 2}, "", {}, 3),
    ("add", {"a": 1}, "", {}, 11),
    ("add", {"a": "5"}, "", {"post": False}, 15),
    ("greet", {"name": "ann"}, "", {}, "hi ann"),
    ("is_even", {"n": 4}, "", {}, True),
    ("echo_json", {"j": {"x": [1, None]}}, "", {}, {"x": [1, None]}),
    ("echo_json", {"j": '{"x": 1}'}, "", {"post": False}, {"x": 1}),
    ("echo_tags", {"t": ["a", "b c"]}, "", {}, ["a", "b c"]),
    ("echo_tags", {"t": '{a,"b c"}'}, "", {"post": False}, ["a", "b c"]),
    ("top_points", {"lim": 2}, "", {}, [7, 5]),
    ("top_points", {"lim": 3}, "limit=1&offset=1", {}, [5]),
    ("leaders", {}, "", {}, [{"who": "ann", "total": 9}, {"who": "bob", "total": 7}]),
    ("leaders", {}, "select=who&total=lt.8", {}, [{"who": "bob"}]),
    ("best", {}, "select=player,points", {}, {"player": "bob", "points": 7}),
]  # fmt: skip


@pytest.mark.parametrize(("function", "args", "query_string", "options", "expected"), CALLS)
def test_call(
    db: Database,
    function: str,
    args: dict[str, Any],
    query_string: str,
    options: dict[str, Any],
    expected: Any,
) -> None:
    assert db.rpc(function, args, query_string, **options).data == expected


def test_void_function_runs_its_statements_and_has_no_body(db: Database) -> None:
    compiled = compile_rpc("reset_points", {"who": "ann"}, Query(), db.catalog, SERVICE)
    assert compiled.returns_void and compiled.writes
    assert db.rpc("reset_points", {"who": "ann"}).data is None
    assert db.rows("select points from scores order by id") == [(0,), (7,), (0,)]


def test_earlier_statements_run_before_the_result(db: Database) -> None:
    result = db.rpc("bump", {"who": "ann"}, "select=points")
    assert result.data == [{"points": 6}, {"points": 5}]
    compiled = compile_rpc("bump", {"who": "ann"}, Query(), db.catalog, SERVICE)
    assert compiled.returns_set and compiled.writes and len(compiled.setup) == 1


@pytest.mark.parametrize(
    ("function", "args", "post", "message", "details"),
    [
        ("nope", {}, True, "Could not find the function public.nope without parameters in the"
         " schema cache", "Searched for the function public.nope without parameters or with a"
         " single unnamed json/jsonb parameter, but no matches were found in the schema cache."),
        ("add", {"x": 1, "a": 2}, False, "Could not find the function public.add(a, x) in the"
         " schema cache", "Searched for the function public.add with parameters a, x, but no"
         " matches were found in the schema cache."),
        ("add", {"b": 1}, True, "Could not find the function public.add(b) in the schema cache",
         "Searched for the function public.add with parameter b or with a single unnamed"
         " json/jsonb parameter, but no matches were found in the schema cache."),
    ],
)  # fmt: skip
def test_function_not_found(
    db: Database, function: str, args: dict[str, Any], post: bool, message: str, details: str
) -> None:
    with pytest.raises(NotFound) as raised:
        compile_rpc(function, args, Query(), db.catalog, SERVICE, post=post)
    assert (raised.value.error_code, raised.value.message) == ("PGRST202", message)
    assert raised.value.details == details


def test_close_function_name_is_hinted(db: Database) -> None:
    with pytest.raises(NotFound) as raised:
        compile_rpc("greett", {"name": "x"}, Query(), db.catalog, SERVICE)
    assert raised.value.hint == "Perhaps you meant to call the function public.greet"


def test_argument_of_the_wrong_type_is_22p02(db: Database) -> None:
    with pytest.raises(InvalidInput) as raised:
        compile_rpc("add", {"a": "one"}, Query(), db.catalog, SERVICE)
    assert (raised.value.error_code, raised.value.message) == (
        "22P02",
        'invalid input syntax for type integer: "one"',
    )
