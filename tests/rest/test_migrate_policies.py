"""Policy expressions, translated, then run in a WHERE clause for two users and anon."""

from __future__ import annotations

import json

import apsw
import pytest

from performer_edge.rest import migrate_runtime as runtime
from performer_edge.rest.catalog import SYSTEM_TABLES, PolicyCommand
from performer_edge.rest.migrate_sql import MigrationError, translate
from performer_edge.rest.migrate_table import table_ddl

ALICE = "0a0a0a0a-0000-4000-8000-00000000000a"
BOB = "0b0b0b0b-0000-4000-8000-00000000000b"

SCHEMA = f"""
create table members (team_id int, user_id uuid, primary key (team_id, user_id));
create table docs (
  id int primary key,
  owner uuid,
  team_id int,
  is_public boolean not null default false,
  title text,
  path text,
  tags text[] default '{{}}',
  created_at timestamptz default now()
);
create function public.is_member(team int) returns boolean language sql stable security definer
  as $$ select exists (select 1 from members where team_id = team and user_id = auth.uid()) $$;
insert into members values (1, '{ALICE}'), (2, '{BOB}');
insert into docs (id, owner, team_id, is_public, title, path, tags, created_at) values
  (1, '{ALICE}', 1, false, 'Hello Alice', '{ALICE}/notes/a.png', array['x'],
   '2000-01-01T00:00:00Z'),
  (2, '{BOB}', 2, true, 'hello bob', '{BOB}/b.txt', array['y'], '2000-01-01T00:00:00Z'),
  (3, null, 1, false, null, 'c', '{{}}', now());
"""


def connect_as(uid: str | None, app_role: str = "") -> apsw.Connection:
    con = apsw.Connection(":memory:")
    con.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
    claims = {"sub": uid, "role": "authenticated" if uid else "anon", "email": f"{uid}@example.com"}
    claims["app_metadata"] = {"role": app_role}
    con.create_scalar_function(runtime.AUTH_UID, lambda: uid, 0)
    con.create_scalar_function(runtime.AUTH_ROLE, lambda: claims["role"], 0)
    con.create_scalar_function(runtime.AUTH_JWT, lambda: json.dumps(claims), 0)
    for name, (arity, implementation) in runtime.PURE_FUNCTIONS.items():
        con.create_scalar_function(name, implementation, arity, deterministic=True)
    for table in SYSTEM_TABLES.values():
        con.execute(table_ddl(table))
    for statement in translate(SCHEMA).sqlite:
        con.execute(statement)
    return con


def visible(policy_sql: str, uid: str | None, app_role: str = "") -> list[int]:
    plan = translate(SCHEMA + f"create policy p on docs for select using ({policy_sql});")
    (policy,) = plan.catalog.policies
    assert policy.using is not None
    con = connect_as(uid, app_role)
    return [row[0] for row in con.execute(f"SELECT id FROM docs WHERE {policy.using} ORDER BY id")]


@pytest.mark.parametrize(
    ("policy", "alice", "bob", "anon"),
    [
        ("true", [1, 2, 3], [1, 2, 3], [1, 2, 3]),
        ("false", [], [], []),
        ("auth.uid() = owner", [1], [2], []),
        ("owner = (select auth.uid())", [1], [2], []),
        ("auth.uid() is not null", [1, 2, 3], [1, 2, 3], []),
        ("auth.role() = 'authenticated'", [1, 2, 3], [1, 2, 3], []),
        ("is_public or owner = auth.uid()", [1, 2], [2], [2]),
        ("is_public = true", [2], [2], [2]),
        ("is_public is true", [2], [2], [2]),
        ("not is_public", [1, 3], [1, 3], [1, 3]),
        ("(auth.jwt() ->> 'email') = owner::text || '@example.com'", [1], [2], []),
        ("auth.jwt() -> 'app_metadata' ->> 'role' = 'admin'", [], [], []),
        ("current_setting('request.jwt.claims', true)::json->>'sub' = owner::text", [1], [2], []),
        ("current_setting('request.jwt.claim.sub', true) = owner::text", [1], [2], []),
        (
            "exists (select 1 from members m"
            " where m.team_id = docs.team_id and m.user_id = auth.uid())",
            [1, 3],
            [2],
            [],
        ),
        (
            "team_id in (select team_id from public.members where user_id = auth.uid())",
            [1, 3],
            [2],
            [],
        ),
        ("public.is_member(team_id)", [1, 3], [2], []),
        ("is_member(team_id) and title is not null", [1], [2], []),
        ("auth.uid()::text = (storage.foldername(path))[1]", [1], [2], []),
        ("storage.filename(path) = 'b.txt'", [2], [2], [2]),
        ("storage.extension(path) = 'png'", [1], [1], [1]),
        ("'x' = any(tags)", [1], [1], [1]),
        ("'x' <> all(tags)", [2, 3], [2, 3], [2, 3]),
        ("title ~* '^hello'", [1, 2], [1, 2], [1, 2]),
        ("title ilike 'HELLO%'", [1, 2], [1, 2], [1, 2]),
        ("coalesce(title, '') <> ''", [1, 2], [1, 2], [1, 2]),
        ("created_at > now() - interval '1 day'", [3], [3], [3]),
        ("created_at < '2001-01-01'::timestamptz", [1, 2], [1, 2], [1, 2]),
        ("owner = '0A0A0A0A-0000-4000-8000-00000000000A'", [1], [1], [1]),
        ("case when is_public then true else owner = auth.uid() end", [1, 2], [2], [2]),
        ("id between 2 and 3 and (title is null or length(title) > 3)", [2, 3], [2, 3], [2, 3]),
    ],
)
def test_policy_filters_rows_per_user(
    policy: str, alice: list[int], bob: list[int], anon: list[int]
) -> None:
    assert visible(policy, ALICE) == alice
    assert visible(policy, BOB) == bob
    assert visible(policy, None) == anon


def test_app_metadata_role_from_the_jwt() -> None:
    policy = "(auth.jwt() -> 'app_metadata' ->> 'role') = 'admin'"
    assert visible(policy, ALICE, app_role="admin") == [1, 2, 3]
    assert visible(policy, ALICE, app_role="user") == []


@pytest.mark.parametrize(
    ("policy_sql", "expected"),
    [
        ("auth.uid() = owner", "auth_uid() = owner"),
        ("auth.role() = 'anon'", "auth_role() = 'anon'"),
        ("auth.jwt() ->> 'email' = 'x'", "json_extract(auth_jwt(), '$.email') = 'x'"),
        (
            "auth.jwt() -> 'app_metadata' ->> 'role' = 'x'",
            "json_extract(auth_jwt(), '$.app_metadata.role') = 'x'",
        ),
        (
            "auth.uid()::text = (storage.foldername(path))[1]",
            "json_extract(storage_foldername(path), '$[0]')",
        ),
        ("is_public", "is_public"),
        ("is_public = 't'", "is_public = 1"),
    ],
)
def test_translations_read_as_documented(policy_sql: str, expected: str) -> None:
    plan = translate(SCHEMA + f"create policy p on docs using ({policy_sql});")
    assert expected in (plan.catalog.policies[0].using or "")


def test_commands_roles_and_check_expressions() -> None:
    plan = translate(
        SCHEMA
        + """
        alter table docs enable row level security;
        create policy "insert own" on public.docs for insert to authenticated
          with check (owner = auth.uid());
        create policy "edit own" on docs as restrictive for update to anon, authenticated
          using (owner = auth.uid()) with check (owner = auth.uid() and title is not null);
        create policy "all" on docs using (is_public);
        alter policy "all" on docs rename to "everything";
        alter policy "edit own" on docs to authenticated;
        drop policy "insert own" on docs;
        """
    )
    assert plan.catalog.tables["public.docs"].rls_enabled
    policies = {p.name: p for p in plan.catalog.policies}
    assert set(policies) == {"edit own", "everything"}
    edit = policies["edit own"]
    assert (edit.command, edit.roles, edit.permissive) == (
        PolicyCommand.UPDATE,
        ("authenticated",),
        False,
    )
    assert edit.with_check == "owner = auth_uid() AND title IS NOT NULL"
    assert policies["everything"].command is PolicyCommand.ALL and policies["everything"].roles == (
        "public",
    )
    con = connect_as(ALICE)
    assert [r[0] for r in con.execute(f"SELECT id FROM docs WHERE {edit.with_check}")] == [1]


def test_storage_policies_attach_to_storage_objects() -> None:
    plan = translate(
        "insert into storage.buckets (id, name) values ('avatars', 'avatars');"
        'create policy "Avatar upload" on storage.objects for insert to authenticated'
        " with check (bucket_id = 'avatars'"
        " and (select auth.uid()::text) = (storage.foldername(name))[1]);"
        'create policy "Avatar read" on storage.objects for select'
        " using (objects.bucket_id = 'avatars');"
    )
    upload, read = plan.catalog.policies
    assert (
        upload.table == "storage.objects" and read.using == "storage_objects.bucket_id = 'avatars'"
    )
    con = connect_as(ALICE)
    con.execute(
        "INSERT INTO storage_objects (id, bucket_id, name) VALUES ('1', 'avatars', ?)",
        (f"{ALICE}/me.png",),
    )
    con.execute(
        "INSERT INTO storage_objects (id, bucket_id, name) VALUES ('2', 'avatars', ?)",
        (f"{BOB}/me.png",),
    )
    assert list(con.execute(f"SELECT id FROM storage_objects WHERE {upload.with_check}")) == [
        ("1",)
    ]
    assert len(list(con.execute(f"SELECT id FROM storage_objects WHERE {read.using}"))) == 2


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("create policy p on nothing using (true)", 'relation "public.nothing" does not exist'),
        (
            "create policy p on docs using (owner_id = auth.uid())",
            'column "owner_id" of public.docs does not exist',
        ),
        (
            "create policy p on docs for select with check (true)",
            "WITH CHECK cannot be applied to SELECT",
        ),
        (
            "create policy p on docs for insert using (true)",
            "only WITH CHECK expression allowed for INSERT",
        ),
        (
            "create policy p on docs for truncate using (true)",
            "expected all, select, insert, update or delete",
        ),
        ("create policy p on docs using (auth.foo())", "function auth.foo() is not supported"),
        (
            "create policy p on docs using (owner = any(select 1 from nowhere))",
            'relation "public.nowhere"',
        ),
        ("create policy p on docs using (title similar to 'x')", "not supported on SQLite"),
        ("create policy p on auth.users using (true)", 'relation "auth.users" does not exist'),
        ("drop policy nope on docs", 'policy "nope" for table "public.docs" does not exist'),
    ],
)
def test_policy_errors(statement: str, message: str) -> None:
    with pytest.raises(
        MigrationError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as caught:
        translate(SCHEMA + statement)
    assert caught.value.line == SCHEMA.count("\n") + 1


def test_error_inside_a_multi_line_policy_points_at_its_line() -> None:
    text = (
        SCHEMA
        + "create policy p on docs\n  for select\n  using (\n    is_public and\n    nope = 1\n  );"
    )
    with pytest.raises(MigrationError) as caught:
        translate(text)
    assert caught.value.line == SCHEMA.count("\n") + 5
