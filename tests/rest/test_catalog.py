"""The catalog model: immutable updates, table-name mapping and the stored dict form."""

from __future__ import annotations

import dataclasses
import json

import cbor2
import pytest

from performer_edge.errors import InvalidInput
from performer_edge.rest.catalog import (
    SQLITE_TYPES,
    SYSTEM_TABLES,
    Catalog,
    Column,
    ColumnDefault,
    DefaultKind,
    Index,
    Policy,
    PolicyCommand,
    Table,
    sqlite_table_name,
)
from performer_edge.rest.migrate_sql import translate

SCHEMA = """
create type mood as enum ('sad', 'happy');
create table public.todos (
  id uuid primary key default gen_random_uuid(),
  owner uuid references auth.users on delete cascade default auth.uid(),
  title text not null check (char_length(title) > 0),
  done boolean default false,
  tags text[] default '{}',
  feeling mood,
  due timestamptz default now()
);
create index todos_owner_idx on todos (owner);
create view open_todos as select id, title from todos where not done;
create function todo_count(who uuid default null) returns bigint language sql stable
  as $$ select count(*) from todos where owner = coalesce(who, auth.uid()) $$;
alter table todos enable row level security;
create policy "own" on todos for all to authenticated
  using (owner = auth.uid()) with check (owner = auth.uid());
"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return translate(SCHEMA).catalog


@pytest.mark.parametrize(
    ("schema", "name", "expected"),
    [
        ("public", "todos", "todos"),
        ("auth", "users", "auth_users"),
        ("storage", "objects", "storage_objects"),
        ("storage", "buckets", "storage_buckets"),
        ("private", "notes", "private_notes"),
    ],
)
def test_sqlite_table_name_is_one_documented_mapping(schema: str, name: str, expected: str) -> None:
    assert sqlite_table_name(schema, name) == expected


def test_round_trip_through_json_and_cbor(catalog: Catalog) -> None:
    stored = catalog.to_dict()
    assert Catalog.from_dict(json.loads(json.dumps(stored))) == catalog
    assert Catalog.from_dict(cbor2.loads(cbor2.dumps(stored))) == catalog
    assert list(Catalog.from_dict(stored).tables) == list(catalog.tables)


def test_round_trip_keeps_every_kind_of_object(catalog: Catalog) -> None:
    restored = Catalog.from_dict(json.loads(json.dumps(catalog.to_dict())))
    table = restored.tables["public.todos"]
    assert table.column("owner") == catalog.tables["public.todos"].column("owner")
    default = table.column("done").default  # type: ignore[union-attr]
    assert default == ColumnDefault(DefaultKind.CONSTANT, "0", False, "FALSE")
    assert table.column("tags").array_dims == 1  # type: ignore[union-attr]
    assert table.column("feeling").enum_values == ("sad", "happy")  # type: ignore[union-attr]
    assert restored.policies[0].command is PolicyCommand.ALL
    assert restored.functions["public.todo_count"].args[0].default == "NULL"
    assert restored.views["public.open_todos"].columns[1] == Column("title", "text", nullable=True)
    assert restored.indexes["public.todos_owner_idx"].keys == ("owner",)


def test_from_dict_rejects_unknown_format_and_fields(catalog: Catalog) -> None:
    with pytest.raises(InvalidInput):
        Catalog.from_dict({**catalog.to_dict(), "format": 99})
    stored = catalog.to_dict()
    stored["tables"]["public.todos"]["surprise"] = 1
    with pytest.raises(InvalidInput, match="surprise"):
        Catalog.from_dict(stored)


def test_from_dict_rejects_bad_enum_values(catalog: Catalog) -> None:
    stored = catalog.to_dict()
    stored["policies"][0]["command"] = "truncate"
    with pytest.raises(InvalidInput):
        Catalog.from_dict(stored)


def test_updates_return_new_catalogs_and_leave_the_old_one_alone(catalog: Catalog) -> None:
    table = catalog.tables["public.todos"]
    renamed = dataclasses.replace(table, name="tasks")
    updated = catalog.with_table(renamed, replacing=table.key)
    assert list(updated.tables) == ["public.tasks"]
    assert list(catalog.tables) == ["public.todos"]
    with pytest.raises(TypeError):
        catalog.tables["public.x"] = table  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.name = "x"  # type: ignore[misc]


def test_without_table_drops_its_indexes_and_policies(catalog: Catalog) -> None:
    emptied = catalog.without_table("public.todos")
    assert not emptied.tables and not emptied.indexes and not emptied.policies
    assert emptied.views == catalog.views  # views are dropped explicitly, with their own SQL


def test_policy_and_index_helpers() -> None:
    table = Table("public", "t", (Column("id", "int8", nullable=False),), ("id",), "t_pkey")
    catalog = Catalog().with_table(table)
    catalog = catalog.with_index(Index("public", "t_id_idx", "public.t", ("id",)))
    catalog = catalog.with_policy(Policy("p", "public.t", using="1"))
    assert catalog.indexes_for("public.t")[0].name == "t_id_idx"
    assert catalog.policies_for("public.t")[0].name == "p"
    assert catalog.without_policy("public.t", "p").policies == ()
    assert catalog.relation_sqlite_names() == {"t": "public.t"}


@pytest.mark.parametrize(
    ("column", "sqlite_type", "length"),
    [
        (Column("a", "uuid"), "TEXT", None),
        (Column("a", "varchar(80)"), "TEXT", 80),
        (Column("a", "numeric(10,2)"), "NUMERIC", 10),
        (Column("a", "bool"), "INTEGER", None),
        (Column("a", "int4", array_dims=1), "TEXT", None),
        (Column("a", "mood", enum_values=("x",)), "TEXT", None),
        (Column("a", "bytea"), "BLOB", None),
        (Column("a", "timestamptz"), "TEXT", None),
    ],
)
def test_column_storage(column: Column, sqlite_type: str, length: int | None) -> None:
    assert column.sqlite_type == sqlite_type
    assert column.type_length == length


def test_every_mapped_type_has_a_sqlite_affinity() -> None:
    assert set(SQLITE_TYPES.values()) <= {"TEXT", "INTEGER", "REAL", "NUMERIC", "BLOB"}


def test_system_tables_are_the_ones_other_components_own() -> None:
    assert set(SYSTEM_TABLES) == {
        "auth.users",
        "storage.buckets",
        "storage.objects",
        "realtime.messages",
    }
    assert SYSTEM_TABLES["auth.users"].sqlite_name == "auth_users"
    assert SYSTEM_TABLES["storage.buckets"].column("public").pg_type == "bool"  # type: ignore[union-attr]
