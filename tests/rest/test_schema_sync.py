"""Migrations between nodes: the same file applied on several nodes is one schema change; a
migration that arrives before the one it builds on waits parked, then applies; the same name
with other content is parked with its reason. Sync never stalls on a migration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from performer_edge.config import Settings
from performer_edge.core.log import iter_all, read_missing, version_vector
from performer_edge.errors import InvalidInput
from performer_edge.node import Node
from performer_edge.rest.migrations import MigrationFile, apply_migrations
from performer_edge.rest.schema import applied_migrations, pending_migrations

LISTS = MigrationFile(
    "001_lists.sql",
    "create table lists (id bigint primary key, name text);\n"
    "insert into lists (id, name) values (1, 'groceries');\n",
)
ITEMS = MigrationFile(
    "002_items.sql",
    "create table items (id bigint primary key, list_id bigint references lists(id), label text);",
)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    opened = [Node.open(Settings(data=tmp_path / f"n{i}")) for i in range(3)]
    yield opened
    for node in opened:
        node.close()


def send(source: Node, target: Node, *, origin_order: list[Node] | None = None) -> int:
    """What `source` holds that `target` lacks, ingested in the order of `origin_order`'s
    origins (a relay may forward origins in any order)."""
    theirs = target.db.read_sync(version_vector)
    events = source.db.read_sync(lambda c: read_missing(c, theirs, 10_000))
    if origin_order is not None:
        rank = {n.identity.public_key: i for i, n in enumerate(origin_order)}
        events.sort(key=lambda e: (rank.get(e.origin, 99), e.seq))
    return sum(target.db.write_sync(lambda tx, e=e: target.log.ingest(tx, e)) for e in events)


def rows(node: Node, sql: str) -> list[tuple[object, ...]]:
    return node.db.read_sync(lambda c: c.execute(sql).fetchall())


def test_the_same_file_applied_on_two_nodes_is_one_schema_change(nodes: list[Node]) -> None:
    a, b, _ = nodes
    for node in (a, b):
        apply_migrations(node.db, node.log, [LISTS])
    assert send(a, b) >= 1 and send(b, a) >= 1
    for node in (a, b):
        assert node.db.read_sync(pending_migrations) == []
        assert rows(node, "SELECT id, name FROM lists") == [(1, "groceries")]
        assert list(node.db.read_sync(applied_migrations)) == ["001_lists.sql"]


def test_a_migration_ahead_of_the_one_it_needs_waits_then_applies(nodes: list[Node]) -> None:
    a, b, c = nodes
    apply_migrations(a.db, a.log, [LISTS])
    send(a, b)
    apply_migrations(b.db, b.log, [ITEMS])  # b built on a's migration
    # c gets b's events before a's, as a relay may deliver them
    send(b, c, origin_order=[b, a])
    assert c.db.read_sync(pending_migrations) == []
    assert sorted(c.db.read_sync(applied_migrations)) == ["001_lists.sql", "002_items.sql"]
    assert rows(c, "SELECT name FROM sqlite_schema WHERE name = 'items'") == [("items",)]


def test_rows_and_migrations_out_of_order_converge(nodes: list[Node]) -> None:
    a, b, c = nodes
    apply_migrations(a.db, a.log, [LISTS])
    send(a, b)
    apply_migrations(b.db, b.log, [ITEMS])
    b.db.write_sync(
        lambda tx: b.rest.rows.append(
            tx,
            b.log,
            b.rest.rows.plan_insert(tx.conn, "items", {"id": 7, "list_id": 1, "label": "milk"}),
        )
    )
    send(b, c, origin_order=[b, a])  # the item and its table's migration before lists
    assert rows(c, "SELECT id, list_id, label FROM items") == [(7, 1, "milk")]
    assert rows(c, "SELECT id FROM lists") == [(1,)]
    assert len(c.db.read_sync(lambda conn: list(iter_all(conn)))) == len(
        b.db.read_sync(lambda conn: list(iter_all(conn)))
    )


def test_the_same_name_with_other_content_is_parked_with_its_reason(nodes: list[Node]) -> None:
    a, b, _ = nodes
    apply_migrations(a.db, a.log, [LISTS])
    other = MigrationFile(LISTS.name, "create table lists (id bigint primary key, title text);")
    apply_migrations(b.db, b.log, [other])
    assert send(a, b) >= 1  # ingested, not refused
    parked = b.db.read_sync(pending_migrations)
    assert [(name, reason.split(" (")[0]) for name, _, reason in parked] == [
        ("001_lists.sql", "migration 001_lists.sql was applied here with other content")
    ]
    assert rows(b, "SELECT name FROM pragma_table_info('lists')") == [("id",), ("title",)]


def test_a_local_migration_that_cannot_run_is_still_an_error(nodes: list[Node]) -> None:
    a, _, _ = nodes
    apply_migrations(a.db, a.log, [LISTS])
    again = MigrationFile("003_again.sql", "create table lists (id bigint primary key);")
    with pytest.raises(InvalidInput):
        apply_migrations(a.db, a.log, [again])
    assert a.db.read_sync(pending_migrations) == []
    assert "003_again.sql" not in a.db.read_sync(applied_migrations)
