"""What cannot be translated is a `MigrationError` naming the statement and its line — for any
input text whatsoever, never another exception and never a silent skip."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from performer_edge.errors import InvalidInput
from performer_edge.rest.migrate_source import split_statements
from performer_edge.rest.migrate_sql import MigrationError, translate

PRELUDE = "create table t (id int primary key, body text);\n"

UNSUPPORTED = [
    (
        "create trigger tr after insert on t for each row execute function f()",
        "unsupported statement",
    ),
    ("create sequence s", "unsupported statement"),
    ("create role editor", "unsupported statement"),
    ("create materialized view mv as select 1", "unsupported view option: materialized"),
    ("do $$ begin perform 1; end $$", "unsupported statement"),
    ("create table u as select * from t", "create table ... as select is not supported"),
    ("create temp table u (a int)", "unsupported table option: temporary"),
    ("create table u (a int) partition by range (a)", "unsupported table option"),
    ("create table u (a int[][])", "only one-dimensional arrays are supported"),
    ("create table u (a money)", "unsupported type money"),
    ("create table u (a interval)", "unsupported type interval"),
    ("create table u (a tstzrange)", "range types are out of scope"),
    ("create table u (a citext)", "unsupported type citext: not a built-in or enum type"),
    ("create table u (a int default nextval('s'))", "sequences are not supported"),
    ("create table u (id serial, b int)", "must be the integer primary key on SQLite"),
    ("create table u (a int references nowhere)", 'relation "public.nowhere" does not exist'),
    (
        "create table u (a text references t (body))",
        "there is no unique constraint matching given keys",
    ),
    ("create table t (a int)", 'relation "public.t" already exists'),
    ("create table auth.sessions (a int)", "schema auth belongs to Performer"),
    ("create table u (a int, a text)", 'column "a" specified more than once'),
    ("create table u (a int, exclude using gist (a with =))", "unsupported table constraint"),
    (
        "create or replace function f() returns trigger language plpgsql as $$ begin end $$",
        "trigger functions",
    ),
    (
        "create function f() returns int language plpgsql as $$ begin return 1; end $$",
        "language plpgsql",
    ),
    (
        "create function f() returns int language sql as $$ delete from t $$",
        "must return the result",
    ),
    ("create function f(out a int) returns int language sql as 'select 1'", "out arguments"),
    ("create function f() returns record language sql as 'select 1'", "returns record"),
    ("create view v as select * from nowhere", 'relation "public.nowhere" does not exist'),
    ("create view v as select distinct on (body) * from t", "distinct on"),
    ("create view v as select * from t for update", "row locks"),
    ("create view v as select to_char(now(), 'YYYY')", "not supported on SQLite"),
    ("create view v as select md5(body) from t", "not supported on SQLite"),
    ("create index on nowhere (a)", 'relation "public.nowhere" does not exist'),
    ("create index on t (nope)", 'column "nope" does not exist'),
    ("insert into t (nope) values (1)", 'column "nope" of relation "public.t" does not exist'),
    ("insert into t (id) values (1, 2)", "more expressions than target columns"),
    ("insert into t (id) values ('x')", 'invalid input syntax for type integer: "x"'),
    ("insert into t (id) values (99999999999)", "out of range for type integer"),
    ("insert into auth.users (id) values ('x')", "auth.users belongs to Performer"),
    ("update t set body = 1 from t as u", "update ... from is not supported"),
    ("alter type mood add value 'x'", "unsupported statement"),
    ("rollback", "rollback would undo the migration"),
    ("vacuum", "unsupported statement"),
    ("select 1", "unsupported statement"),
    ("create type pair as (a int, b int)", "only enum types are supported"),
    ("drop table nothing", 'table "public.nothing" does not exist'),
    ("drop table auth.users", "auth.users belongs to Performer"),
]


@pytest.mark.parametrize(("statement", "message"), UNSUPPORTED, ids=[s for s, _ in UNSUPPORTED])
def test_unsupported_statements_are_errors_naming_line_and_statement(
    statement: str, message: str
) -> None:
    with pytest.raises(MigrationError) as caught:
        translate(PRELUDE + "\n-- a comment\n" + statement + ";\nselect 'never reached'")
    error = caught.value
    assert isinstance(error, InvalidInput) and error.error_code == "invalid_migration"
    assert error.line == 4
    assert message in error.reason
    assert str(error).startswith(f"line 4: {error.reason}: ")
    assert statement[:30] in str(error)
    assert error.details["line"] == 4


def test_message_names_the_statement_first_line() -> None:
    text = "create table a (id int);" + "\n" * 11
    text += "create trigger t after insert on a\n  for each row execute function f();"
    with pytest.raises(
        MigrationError,
        match=r"^line 12: unsupported statement: create trigger t after insert on a \.\.\.$",
    ):
        translate(text)


def test_error_line_inside_a_long_statement() -> None:
    text = "create table a (\n  id int primary key,\n  b text,\n  c tsrange\n);"
    with pytest.raises(MigrationError) as caught:
        translate(text)
    assert caught.value.line == 4


def test_syntax_errors_point_at_the_line_in_the_statement() -> None:
    with pytest.raises(MigrationError, match="syntax error") as caught:
        translate("create table a (id int);\ninsert into a\n  values\n  (1 2);")
    assert caught.value.line == 4


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("create table a (id int);\ninsert into a values ('oops);", 2, "unterminated string"),
        ('create table "a (id int);', 1, "unterminated quoted name"),
        ("select 1;\n/* never closed", 2, "unterminated /* comment"),
        (
            "create function f() returns int language sql as $body$ select 1;",
            1,
            "unterminated $body$ body",
        ),
    ],
)
def test_unterminated_tokens(text: str, line: int, message: str) -> None:
    with pytest.raises(MigrationError, match=re.escape(message)) as caught:
        translate(text)
    assert caught.value.line == line


def test_splitting_respects_strings_comments_and_dollar_bodies() -> None:
    text = (
        "-- one; two\ncreate table a (s text default 'x;y');\n"
        "/* nested /* ; */ ; */ insert into a values (E'it\\'s;');\n"
        "create function f() returns int language sql as $fn$ select 1; $fn$;\n"
        'create table "b;c" (id int)'
    )
    statements = split_statements(text)
    assert [s.line for s in statements] == [2, 3, 4, 5]
    assert statements[1].text == "insert into a values (E'it\\'s;')"
    assert statements[2].text.endswith("$fn$ select 1; $fn$")
    assert [op.kind.value for op in translate(text).operations] == [
        "create_table",
        "seed",
        "create_function",
        "create_table",
    ]


def test_empty_and_comment_only_migrations_are_empty_plans() -> None:
    assert translate("").operations == ()
    assert translate("  -- nothing\n/* here */ ;;\n").operations == ()


# fmt: off
SQL_WORDS = st.sampled_from([
    "create", "table", "alter", "drop", "insert", "into", "values", "update", "set", "delete",
    "from", "where", "select", "policy", "on", "for", "to", "using", "with", "check",
    "function", "returns", "language", "sql", "as", "index", "unique", "view", "type", "enum",
    "references", "primary", "key", "default", "not", "null", "(", ")", ",", ";", "'", '"',
    "$$", "$a$", "--", "/*", "*/", "[]", "::", "->", "->>", "=", "<", ">", "and", "or",
    "auth.uid()", "now()", "t", "u", "a", "b", "int", "text", "uuid", "jsonb", "boolean",
    "bigint", "generated", "always", "identity", "serial", "array", "1", "'x'", "true", "row",
    "level", "security", "enable", "grant", "comment", "begin", "commit",
])
# fmt: on


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_migration_errors(text: str) -> None:
    with contextlib.suppress(MigrationError):
        translate(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SQL_WORDS, max_size=40).map(" ".join))
def test_sql_shaped_noise_raises_only_migration_errors(text: str) -> None:
    with contextlib.suppress(MigrationError):
        translate(PRELUDE + text)
