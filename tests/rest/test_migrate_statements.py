"""Statement forms a Supabase migration uses, translated and run on a real SQLite connection."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import apsw
import pytest

from performer_edge.rest import migrate_runtime as runtime
from performer_edge.rest.catalog import (
    SYSTEM_TABLES,
    Catalog,
    DefaultKind,
    IdentityKind,
    ReturnKind,
)
from performer_edge.rest.migrate_sql import MigrationPlan, OperationKind, translate
from performer_edge.rest.migrate_table import table_ddl

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMPTZ = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
USER_ID = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


def connect(uid: str | None = USER_ID) -> apsw.Connection:
    """SQLite set up as the node sets it up; the request functions are test stubs."""
    con = apsw.Connection(":memory:")
    con.execute("PRAGMA foreign_keys = ON")
    con.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
    con.config(apsw.SQLITE_DBCONFIG_DQS_DDL, 0)
    claims = json.dumps({"sub": uid, "role": "authenticated", "email": "a@example.com"})
    stubs = {runtime.AUTH_UID: lambda: uid, runtime.AUTH_ROLE: lambda: "authenticated"}
    stubs[runtime.AUTH_JWT] = lambda: claims
    for name, function in stubs.items():
        con.create_scalar_function(name, function, 0)
    for name, (arity, implementation) in runtime.PURE_FUNCTIONS.items():
        con.create_scalar_function(name, implementation, arity, deterministic=True)
    for table in SYSTEM_TABLES.values():
        con.execute(table_ddl(table))
    con.execute("INSERT INTO auth_users (id) VALUES (?)", (USER_ID,))
    return con


def apply(con: apsw.Connection, plan: MigrationPlan) -> None:
    for op in plan.operations:
        if op.foreign_keys_off:
            con.execute("PRAGMA foreign_keys = OFF")
        with con:
            for statement in op.sqlite:
                con.execute(statement)
        if op.foreign_keys_off:
            assert list(con.execute("PRAGMA foreign_key_check")) == []
            con.execute("PRAGMA foreign_keys = ON")


def rows(con: apsw.Connection, sql: str, *args: object) -> list[tuple[object, ...]]:
    return list(con.execute(sql, args))


BASE = """
create table public.teams (
  id bigint generated always as identity primary key,
  name text not null unique
);
create table public.notes (
  id uuid primary key default gen_random_uuid(),
  team_id bigint references public.teams (id) on delete cascade,
  author uuid not null default auth.uid() references auth.users (id),
  body text check (char_length(body) > 0),
  tags text[] not null default '{}',
  meta jsonb default '{}'::jsonb,
  pinned boolean default false,
  created_at timestamp with time zone default now()
);
"""

# (statement, kind of its operation) — each runs after BASE on a fresh connection.
STATEMENT_FORMS: list[tuple[str, OperationKind]] = [
    ("create table if not exists public.teams (id int)", OperationKind.NO_OP),
    ("create table x (a int, b text, primary key (a, b))", OperationKind.CREATE_TABLE),
    ("create table x (a bigserial primary key, b text)", OperationKind.CREATE_TABLE),
    (
        "create table x (id int primary key, n numeric, d decimal(5,2), f float, g float4)",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id int primary key, t time, ts timestamp, d date, b bytea, c char(2))",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id int primary key, a int[], b integer array, c varchar(3)[])",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id int primary key, j json default '[]', k jsonb default '{\"a\": 1}')",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id int primary key, s text default 'it''s', n int default -1)",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id uuid primary key default extensions.uuid_generate_v4())",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id int primary key, at timestamp default current_timestamp)",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id int primary key, a int, b int generated always as (a * 2) stored)",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id int constraint x_pk primary key, n int constraint pos check (n > 0))",
        OperationKind.CREATE_TABLE,
    ),
    (
        "create table x (id int primary key, parent int references x on delete set null)",
        OperationKind.CREATE_TABLE,
    ),
    ("create table x (a int, b int, unique (a, b), check (a < b))", OperationKind.CREATE_TABLE),
    (
        "create table x (a int check (a < b), b int, c int generated always as (a + b) stored)",
        OperationKind.CREATE_TABLE,
    ),
    ("create table private.secrets (id int primary key, v text)", OperationKind.CREATE_TABLE),
    (
        "create table x (id int primary key, note uuid references notes on delete restrict)",
        OperationKind.CREATE_TABLE,
    ),
    ("create index on notes (team_id)", OperationKind.CREATE_INDEX),
    (
        "create unique index if not exists notes_body on notes using btree (body desc)",
        OperationKind.CREATE_INDEX,
    ),
    ("create index notes_tags on notes using gin (tags)", OperationKind.CREATE_INDEX),
    ("create index notes_lower on notes (lower(body)) where pinned", OperationKind.CREATE_INDEX),
    ("create index concurrently notes_meta on notes (meta)", OperationKind.CREATE_INDEX),
    ("create view v as select id, body from notes", OperationKind.CREATE_VIEW),
    (
        "create or replace view v as select n.*, t.name from notes n join teams t"
        " on t.id = n.team_id",
        OperationKind.CREATE_VIEW,
    ),
    ("create view v (a, b) as select 1, 'x'", OperationKind.CREATE_VIEW),
    (
        "create view v with (security_invoker = on) as"
        " select * from notes where author = auth.uid()",
        OperationKind.CREATE_VIEW,
    ),
    ("create type status as enum ('open', 'closed')", OperationKind.CREATE_TYPE),
    ("alter table notes add column title text", OperationKind.ALTER_TABLE),
    ("alter table notes add column if not exists body text", OperationKind.NO_OP),
    (
        "alter table notes add column n int not null default 0, add column m text",
        OperationKind.ALTER_TABLE,
    ),
    ("alter table notes add column slug text unique", OperationKind.ALTER_TABLE),
    ("alter table notes add column edited_at timestamptz default now()", OperationKind.ALTER_TABLE),
    ("alter table notes drop column pinned", OperationKind.ALTER_TABLE),
    ("alter table notes drop column if exists nothing", OperationKind.NO_OP),
    ("alter table notes rename column body to content", OperationKind.ALTER_TABLE),
    ("alter table public.notes rename to posts", OperationKind.ALTER_TABLE),
    (
        "alter table notes add constraint body_short check (length(body) < 500)",
        OperationKind.ALTER_TABLE,
    ),
    (
        "alter table notes add constraint notes_team_body unique (team_id, body)",
        OperationKind.ALTER_TABLE,
    ),
    ("alter table notes drop constraint notes_body_check", OperationKind.ALTER_TABLE),
    ("alter table notes alter column body set not null", OperationKind.ALTER_TABLE),
    ("alter table notes alter column pinned set default true", OperationKind.ALTER_TABLE),
    ("alter table notes alter column meta drop default", OperationKind.ALTER_TABLE),
    ("alter table notes alter column team_id type integer", OperationKind.ALTER_TABLE),
    ("alter table notes enable row level security", OperationKind.ENABLE_RLS),
    ("alter table notes disable row level security", OperationKind.ENABLE_RLS),
    ("alter table notes force row level security", OperationKind.NO_OP),
    ("alter table if exists nothing add column a int", OperationKind.NO_OP),
    ("alter table notes owner to postgres", OperationKind.NO_OP),
    ("create policy p on notes for select using (true)", OperationKind.CREATE_POLICY),
    (
        "create policy p on notes as restrictive for update to authenticated"
        " using (author = auth.uid())",
        OperationKind.CREATE_POLICY,
    ),
    ("drop table if exists nothing", OperationKind.NO_OP),
    ("drop table notes", OperationKind.DROP_TABLE),
    ("drop index if exists nothing", OperationKind.NO_OP),
    ("drop policy if exists p on notes", OperationKind.NO_OP),
    ("drop function if exists f", OperationKind.NO_OP),
    ("drop type if exists t", OperationKind.NO_OP),
    ("drop view if exists v", OperationKind.NO_OP),
    ("comment on table notes is 'Notes'", OperationKind.NO_OP),
    ('create extension if not exists "uuid-ossp" with schema extensions', OperationKind.NO_OP),
    ("create schema if not exists private", OperationKind.NO_OP),
    ("grant select on notes to anon", OperationKind.NO_OP),
    ("revoke all on notes from anon", OperationKind.NO_OP),
    (
        "alter default privileges in schema public grant all on tables to postgres",
        OperationKind.NO_OP,
    ),
    ("alter publication supabase_realtime add table notes", OperationKind.NO_OP),
    ("set statement_timeout = 0", OperationKind.NO_OP),
    ("select pg_catalog.set_config('search_path', '', false)", OperationKind.NO_OP),
    ("begin", OperationKind.NO_OP),
    ("commit", OperationKind.NO_OP),
    ("insert into teams (name) values ('a'), ('b')", OperationKind.SEED),
    ("insert into teams (name) values ('a') on conflict do nothing", OperationKind.SEED),
    (
        "insert into teams (name) values ('a')"
        " on conflict (name) do update set name = excluded.name",
        OperationKind.SEED,
    ),
    ("insert into teams (name) select 'x' || 'y'", OperationKind.SEED),
    ("update notes set pinned = true, tags = array['x'] where body like 'a%'", OperationKind.SEED),
    ("delete from notes where created_at < now() - interval '30 days'", OperationKind.SEED),
    ("truncate notes", OperationKind.SEED),
    (
        "insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true)",
        OperationKind.SEED,
    ),
]


@pytest.mark.parametrize(
    ("statement", "kind"), STATEMENT_FORMS, ids=[s for s, _ in STATEMENT_FORMS]
)
def test_statement_forms_translate_and_run(statement: str, kind: OperationKind) -> None:
    con = connect()
    base = translate(BASE)
    apply(con, base)
    plan = translate(statement, base.catalog)
    assert [op.kind for op in plan.operations] == [kind]
    apply(con, plan)
    if kind is OperationKind.NO_OP:
        assert plan.operations[0].notes, "a no-op must say why"
        assert plan.catalog == base.catalog or statement.startswith("alter table notes force")


@pytest.mark.parametrize(
    ("declared", "pg_type", "dims", "sqlite_type"),
    [
        ("uuid", "uuid", 0, "TEXT"),
        ("text", "text", 0, "TEXT"),
        ("varchar(80)", "varchar(80)", 0, "TEXT"),
        ("character varying", "varchar", 0, "TEXT"),
        ("char(2)", "char(2)", 0, "TEXT"),
        ("smallint", "int2", 0, "INTEGER"),
        ("int", "int4", 0, "INTEGER"),
        ("integer", "int4", 0, "INTEGER"),
        ("int8", "int8", 0, "INTEGER"),
        ("bigint", "int8", 0, "INTEGER"),
        ("numeric", "numeric", 0, "NUMERIC"),
        ("numeric(10,2)", "numeric(10,2)", 0, "NUMERIC"),
        ("decimal(5)", "numeric(5)", 0, "NUMERIC"),
        ("real", "float4", 0, "REAL"),
        ("double precision", "float8", 0, "REAL"),
        ("float(10)", "float4", 0, "REAL"),
        ("boolean", "bool", 0, "INTEGER"),
        ("bool", "bool", 0, "INTEGER"),
        ("date", "date", 0, "TEXT"),
        ("time", "time", 0, "TEXT"),
        ("timestamp", "timestamp", 0, "TEXT"),
        ("timestamp without time zone", "timestamp", 0, "TEXT"),
        ("timestamptz", "timestamptz", 0, "TEXT"),
        ("timestamp with time zone", "timestamptz", 0, "TEXT"),
        ("json", "json", 0, "TEXT"),
        ("jsonb", "jsonb", 0, "TEXT"),
        ("bytea", "bytea", 0, "BLOB"),
        ("text[]", "text", 1, "TEXT"),
        ("int[]", "int4", 1, "TEXT"),
        ("integer array", "int4", 1, "TEXT"),
        ("uuid[]", "uuid", 1, "TEXT"),
    ],
)
def test_column_types(declared: str, pg_type: str, dims: int, sqlite_type: str) -> None:
    plan = translate(f"create table t (c {declared})")
    column = plan.catalog.tables["public.t"].columns[0]
    assert (column.pg_type, column.array_dims, column.sqlite_type) == (pg_type, dims, sqlite_type)
    assert f"c {sqlite_type}" in plan.sqlite[0]
    apply(connect(), plan)


@pytest.mark.parametrize(
    ("column", "kind", "value"),
    [
        ("id uuid default gen_random_uuid()", DefaultKind.RANDOM_UUID, None),
        ("id uuid default uuid_generate_v4()", DefaultKind.RANDOM_UUID, None),
        ("at timestamptz default now()", DefaultKind.NOW, None),
        ("at timestamptz default timezone('utc'::text, now())", DefaultKind.NOW, None),
        ("at timestamptz default (now() at time zone 'utc')", DefaultKind.NOW, None),
        ("at timestamptz default current_timestamp", DefaultKind.NOW, None),
        ("on_day date default current_date", DefaultKind.NOW, None),
        ("who uuid default auth.uid()", DefaultKind.AUTH_UID, None),
        ("n int default 42", DefaultKind.CONSTANT, 42),
        ("n numeric default -1.5", DefaultKind.CONSTANT, -1.5),
        ("b boolean default true", DefaultKind.CONSTANT, True),
        ("s text default 'x'::text", DefaultKind.CONSTANT, "x"),
        ("j jsonb default '{}'::jsonb", DefaultKind.CONSTANT, {}),
        ("a text[] default '{a,b}'", DefaultKind.CONSTANT, ["a", "b"]),
        ("a int[] default array[1, 2]", DefaultKind.CONSTANT, [1, 2]),
        ("n int default 1 + 2", DefaultKind.EXPRESSION, None),
        ("s text default lower('ABC')", DefaultKind.EXPRESSION, None),
    ],
)
def test_column_defaults(column: str, kind: DefaultKind, value: object) -> None:
    plan = translate(f"create table t (k int primary key, {column})")
    default = plan.catalog.tables["public.t"].columns[1].default
    assert default is not None and default.kind is kind and default.value == value
    con = connect()
    apply(con, plan)
    con.execute("INSERT INTO t (k) VALUES (1)")
    ((stored,),) = rows(con, f"SELECT {plan.catalog.tables['public.t'].columns[1].name} FROM t")
    if kind is DefaultKind.RANDOM_UUID:
        assert isinstance(stored, str) and UUID.match(stored)
    elif kind is DefaultKind.NOW and "date" in column:
        assert isinstance(stored, str) and re.match(r"^\d{4}-\d\d-\d\d$", stored)
    elif kind is DefaultKind.NOW:
        assert isinstance(stored, str) and TIMESTAMPTZ.match(stored)
    elif kind is DefaultKind.AUTH_UID:
        assert stored is None  # a migration has no user; the writer fills it from the principal


def test_identity_and_serial_become_the_rowid() -> None:
    plan = translate("create table t (id bigint generated always as identity primary key, v text)")
    column = plan.catalog.tables["public.t"].columns[0]
    assert column.identity is IdentityKind.ALWAYS and column.default is not None
    assert column.default.kind is DefaultKind.IDENTITY
    assert "id INTEGER PRIMARY KEY AUTOINCREMENT" in plan.sqlite[0]
    con = connect()
    apply(con, plan)
    con.execute("INSERT INTO t (v) VALUES ('a'), ('b')")
    assert rows(con, "SELECT id, v FROM t ORDER BY id") == [(1, "a"), (2, "b")]
    serial = translate("create table s (id serial primary key)").catalog.tables["public.s"]
    assert serial.columns[0].identity is IdentityKind.BY_DEFAULT


def test_constraints_are_named_like_postgres_and_enforced() -> None:
    con = connect()
    plan = translate(BASE)
    apply(con, plan)
    notes = plan.catalog.tables["public.notes"]
    assert [fk.name for fk in notes.foreign_keys] == ["notes_team_id_fkey", "notes_author_fkey"]
    assert notes.foreign_keys[1].ref_key == "auth.users"
    assert [c.name for c in notes.checks] == ["notes_body_check"]
    assert plan.catalog.tables["public.teams"].unique[0].name == "teams_name_key"
    assert notes.primary_key_name == "notes_pkey"
    con.execute("INSERT INTO teams (name) VALUES ('red')")
    with pytest.raises(apsw.ConstraintError):
        con.execute("INSERT INTO teams (name) VALUES ('red')")
    with pytest.raises(apsw.ConstraintError):
        con.execute("INSERT INTO notes (author, body) VALUES (?, '')", (USER_ID,))
    with pytest.raises(apsw.ConstraintError):
        con.execute("INSERT INTO notes (author, team_id) VALUES (?, 99)", (USER_ID,))
    con.execute("INSERT INTO notes (author, team_id, body) VALUES (?, 1, 'x')", (USER_ID,))
    con.execute("DELETE FROM teams")
    assert rows(con, "SELECT count(*) FROM notes") == [(0,)]  # on delete cascade


def test_enum_columns_store_text_and_reject_other_labels() -> None:
    plan = translate(
        "create type mood as enum ('sad', 'ok'); create table t (m mood default 'ok', ms mood[])"
    )
    column = plan.catalog.tables["public.t"].columns[0]
    assert (column.pg_type, column.enum_values, column.sqlite_type) == (
        "mood",
        ("sad", "ok"),
        "TEXT",
    )
    con = connect()
    apply(con, plan)
    con.execute("INSERT INTO t (m) VALUES ('sad')")
    with pytest.raises(apsw.ConstraintError):
        con.execute("INSERT INTO t (m) VALUES ('angry')")
    assert (
        translate("drop type mood", translate("create type mood as enum ('a')").catalog).catalog
        == Catalog()
    )


def test_seed_rows_are_values_in_api_shape_and_sql_in_storage_shape() -> None:
    con = connect()
    base = translate(BASE)
    apply(con, base)
    plan = translate(
        "insert into teams (name) values ('red');"
        "insert into notes (id, team_id, author, body, tags, meta, pinned, created_at) values"
        f" ('0E5E0B52-6F43-4A3A-9B4C-1D2E3F405162', 1, '{USER_ID}', 'hi', '{{a,\"b c\"}}',"
        " '{\"k\": [1, null]}', 't', '2024-01-01 10:00:00+02'),"
        f" ('7a1b6c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d', default, '{USER_ID}', 'yo', array['x'],"
        " default, false,"
        " '2024-06-01T00:00:00Z')",
        base.catalog,
    )
    seed = plan.operations[1].seed
    assert seed is not None and seed.rows is not None and seed.table == "public.notes"
    assert seed.rows[0] == {
        "id": "0e5e0b52-6f43-4a3a-9b4c-1d2e3f405162",
        "team_id": 1,
        "author": USER_ID,
        "body": "hi",
        "tags": ["a", "b c"],
        "meta": {"k": [1, None]},
        "pinned": True,
        "created_at": "2024-01-01T08:00:00.000000+00:00",
    }
    assert "team_id" not in seed.rows[1] and "meta" not in seed.rows[1]
    apply(con, plan)
    stored = rows(con, "SELECT tags, meta, pinned, created_at FROM notes ORDER BY body")
    assert stored == [
        ('["a","b c"]', '{"k":[1,null]}', 1, "2024-01-01T08:00:00.000000+00:00"),
        ('["x"]', "{}", 0, "2024-06-01T00:00:00.000000+00:00"),
    ]


def test_seed_with_expressions_has_sql_only() -> None:
    base = translate(BASE)
    plan = translate(
        f"insert into notes (author, body, created_at) values ('{USER_ID}', 'x', now())",
        base.catalog,
    )
    seed = plan.operations[0].seed
    assert seed is not None and seed.rows is None
    con = connect()
    apply(con, base)
    apply(con, plan)
    ((created,),) = rows(con, "SELECT created_at FROM notes")
    assert isinstance(created, str) and TIMESTAMPTZ.match(created)


def test_update_and_delete_seeds_convert_literals_to_stored_values() -> None:
    con = connect()
    base = translate(
        BASE + f"insert into notes (author, body) values ('{USER_ID}', 'a'), ('{USER_ID}', 'b');"
    )
    apply(con, base)
    plan = translate(
        "update notes set pinned = 'yes', tags = array['t'], meta = '{\"z\": 1}' where body = 'a';"
        "delete from notes where pinned = false",
        base.catalog,
    )
    assert [op.seed.command.value for op in plan.operations if op.seed] == ["update", "delete"]
    apply(con, plan)
    assert rows(con, "SELECT body, pinned, tags, meta FROM notes") == [("a", 1, '["t"]', '{"z":1}')]


def test_views_select_through_sqlite_and_know_their_column_types() -> None:
    con = connect()
    plan = translate(
        BASE
        + "insert into teams (name) values ('red');"
        + f"insert into notes (team_id, author, body, pinned) values (1, '{USER_ID}', 'x', true);"
        + "create view team_notes as select t.name as team, n.body, n.pinned, n.tags,"
        + " count(*) over () as total"
        + " from notes n join public.teams t on t.id = n.team_id where n.author = auth.uid();",
    )
    apply(con, plan)
    view = plan.catalog.views["public.team_notes"]
    assert [(c.name, c.pg_type, c.array_dims) for c in view.columns] == [
        ("team", "text", 0),
        ("body", "text", 0),
        ("pinned", "bool", 0),
        ("tags", "text", 1),
        ("total", "unknown", 0),
    ]
    assert view.depends_on == ("public.notes", "public.teams")
    assert rows(con, "SELECT * FROM team_notes") == [("red", "x", 1, "[]", 1)]


def test_sql_functions_bind_parameters_by_name_and_position() -> None:
    con = connect()
    plan = translate(
        BASE
        + "insert into teams (name) values ('red'), ('blue');"
        + """
        create or replace function public.teams_named(pattern text, max_rows int default 10)
          returns setof teams language sql stable as $$
            select * from teams where name ilike '%' || pattern || '%' order by id limit max_rows;
          $$;
        create function add(a int, b int) returns int immutable language sql as 'select $1 + b';
        create function team_names() returns table (id bigint, name text) language sql
          as $fn$ select id, name from teams $fn$;
        create function rename_team(team bigint, new_name text) returns void language sql
          as $$ update teams set name = new_name where id = team; $$;
        """
    )
    apply(con, plan)
    functions = plan.catalog.functions
    search = functions["public.teams_named"]
    assert search.returns.kind is ReturnKind.SETOF_ROW and search.returns.table == "public.teams"
    assert [(a.name, a.pg_type, a.default) for a in search.args] == [
        ("pattern", "text", None),
        ("max_rows", "int4", "10"),
    ]
    assert list(con.execute(search.body[-1], {"pattern": "RE", "max_rows": 10})) == [(1, "red")]
    assert list(con.execute(search.body[-1], {"pattern": "e", "max_rows": 10})) == [
        (1, "red"),
        (2, "blue"),
    ]
    assert list(con.execute(functions["public.add"].body[-1], {"a": 2, "b": 3})) == [(5,)]
    assert functions["public.team_names"].returns.columns[1].name == "name"
    rename = functions["public.rename_team"]
    assert rename.returns.kind is ReturnKind.VOID
    con.execute(rename.body[0], {"team": 2, "new_name": "green"})
    assert rows(con, "SELECT name FROM teams WHERE id = 2") == [("green",)]


def test_every_operation_carries_its_source_and_line() -> None:
    plan = translate(
        "-- header\n\ncreate table a (id int);\n\n  insert into a values (1);\n"
        "comment on table a is 'x'"
    )
    assert [(op.line, op.kind) for op in plan.operations] == [
        (3, OperationKind.CREATE_TABLE),
        (5, OperationKind.SEED),
        (6, OperationKind.NO_OP),
    ]
    assert plan.operations[1].source == "insert into a values (1)"
    assert MigrationPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


@pytest.fixture
def table_with_rows() -> Iterator[tuple[apsw.Connection, MigrationPlan]]:
    con = connect()
    plan = translate(BASE + f"insert into notes (author, body) values ('{USER_ID}', 'keep me');")
    apply(con, plan)
    yield con, plan
    con.close()


def test_index_notes_say_what_was_ignored(
    table_with_rows: tuple[apsw.Connection, MigrationPlan],
) -> None:
    con, base = table_with_rows
    plan = translate(
        "create index i on notes using gin (tags jsonb_path_ops) include (body)", base.catalog
    )
    notes = " ".join(plan.operations[0].notes)
    assert "gin ignored" in notes and "jsonb_path_ops" in notes and "include" in notes
    apply(con, plan)
    assert rows(con, "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'i'") == [
        ("i",)
    ]


def test_quoted_mixed_case_and_keyword_names() -> None:
    plan = translate(
        'create table public."Profiles" ("Id" uuid primary key, "Full Name" text, "order" int);'
        'create index "Profiles_order_idx" on "Profiles" ("order");'
        'create policy "by id" on "Profiles" using ("Id" = auth.uid() and "order" > 0);'
        'create view "Names" as select "Full Name", "order" from "Profiles";'
        f'insert into "Profiles" ("Id", "Full Name", "order") values (\'{USER_ID}\', \'A B\', 1);'
        'alter table "Profiles" rename column "Full Name" to full_name;'
        'alter table "Profiles" add column "Group" text unique;'
    )
    con = connect()
    apply(con, plan)
    assert list(plan.catalog.tables) == ["public.Profiles"]
    assert plan.catalog.policies[0].using == '"Id" = auth_uid() AND "order" > 0'
    assert rows(con, f"SELECT * FROM Profiles WHERE {plan.catalog.policies[0].using}") == [
        (USER_ID, "A B", 1, None)
    ]
    assert rows(con, 'SELECT "Full Name", "order" FROM "Names"') == [("A B", 1)]
