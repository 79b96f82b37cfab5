"""The tsvector type (Postgres' text form in and out) and GIN indexes as FTS5 tables across a
table's life: rows before the index, writes after it, renames, rebuilds and drops."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from test_compile_support import SERVICE, Database, error_of, query

from performer_edge.rest.compile import body_row_to_storage, compile_read
from performer_edge.rest.compile_fts import to_tsvector
from performer_edge.rest.migrate_sql import translate
from performer_edge.rest.tsvector import canonical_tsvector, concat_tsvectors


@pytest.mark.parametrize(
    ("config", "text", "postgres"),  # what Postgres 15 prints
    [
        (
            "english",
            "The quick brown foxes jumped over the lazy dog",
            "'brown':3 'dog':9 'fox':4 'jump':5 'lazi':8 'quick':2",
        ),
        (
            "english",
            "a fat cat sat on a mat and ate a fat rat",
            "'ate':9 'cat':3 'fat':2,11 'mat':7 'rat':12 'sat':4",
        ),
        ("simple", "The Cat sat", "'cat':2 'sat':3 'the':1"),
        ("english", "", ""),
        ("english", "the and of", ""),
    ],
)
def test_to_tsvector_prints_as_postgres(config: str, text: str, postgres: str) -> None:
    assert to_tsvector(config, text) == postgres


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("a fat  cat", "'a' 'cat' 'fat'"),
        ("'fat':2,1 cat:3A 'it''s':4", "'cat':3 'fat':1,2 'it''s':4"),
        ("'a\\\\b':1 x:99999", "'a\\\\b':1 'x':16383"),
        ("", ""),
    ],
)
def test_tsvector_values_are_stored_in_postgres_form(written: str, stored: str) -> None:
    assert canonical_tsvector(written) == stored


def test_tsvector_concatenation_moves_the_right_positions_on() -> None:
    # Postgres: to_tsvector('english', 'a fat cat') || to_tsvector('english', 'cat nap')
    assert concat_tsvectors("'cat':3 'fat':2", "'cat':1 'nap':2") == "'cat':3,4 'fat':2 'nap':5"
    assert concat_tsvectors("", "'nap':2") == "'nap':2"
    assert concat_tsvectors("'cat':1", None) is None


def test_a_generated_column_concatenating_tsvectors() -> None:
    db = Migrated(
        "create table docs (id int primary key, title text, body text, fts tsvector generated "
        "always as (to_tsvector('english', coalesce(title, '')) || "
        "to_tsvector('simple', coalesce(body, ''))) stored);"
        "create index on docs using gin (fts);"
        "insert into docs (id, title, body) values (1, 'Fat cats', 'The cat naps');"
    )
    row = db.get("docs", "select=fts").data
    assert row == [{"fts": "'cat':2,4 'fat':1 'naps':5 'the':3"}]
    found = db.get("docs", f"select=id&fts=fts.{quote('cat <-> nap:*')}").data
    assert found == [{"id": 1}]


SCHEMA = """
create table posts (id int primary key, body text, tags text);
insert into posts (id, body) values (1, 'Cats chase the dog'), (2, 'The lazy dog sleeps'),
  (3, null);
create table vectors (id int primary key, v tsvector);
"""


class Migrated(Database):
    def migrate(self, sql: str) -> None:
        plan = translate(sql, self.catalog)
        for statement in plan.sqlite:
            self.conn.execute(statement)
        self.catalog = plan.catalog

    def ids(self, query_string: str) -> list[int]:
        return [row["id"] for row in self.get("posts", f"select=id&{query_string}").data]

    def uses_index(self, query_string: str, index: str) -> bool:
        sql = compile_read("posts", query(query_string), self.catalog, SERVICE).sql
        return f'"{index}" MATCH' in sql or f"{index} MATCH" in sql

    def tables(self) -> set[str]:
        return {row[0] for row in self.rows("SELECT name FROM sqlite_master")}


@pytest.fixture
def db() -> Migrated:
    return Migrated(SCHEMA)


def test_a_generated_tsvector_and_its_index_cover_rows_made_before(db: Migrated) -> None:
    db.migrate(
        "alter table posts add column fts tsvector generated always as "
        "(to_tsvector('english', coalesce(body, '') || ' ' || coalesce(tags, ''))) stored;"
        "create index posts_fts on posts using gin (fts);"
    )
    row = db.get("posts", "select=fts&id=eq.1").data
    assert row == [{"fts": "'cat':1 'chase':2 'dog':4"}]
    assert db.ids("fts=fts.dog") == [1, 2]
    assert db.uses_index("fts=fts.dog", "posts_fts")
    # Writes after the index: insert, update, delete go through the triggers.
    db.conn.execute("INSERT INTO posts (id, body) VALUES (4, 'Dogs everywhere')")
    db.conn.execute("UPDATE posts SET body = 'no pets' WHERE id = 2")
    db.conn.execute("UPDATE posts SET tags = 'dog' WHERE id = 3")
    db.conn.execute("DELETE FROM posts WHERE id = 1")
    assert db.ids("fts=fts.dog") == [3, 4]
    assert db.ids("fts=plfts.pets") == [2]
    assert db.ids("fts=not.fts.dog") == [2]


def test_an_expression_index_follows_renames_and_rebuilds(db: Migrated) -> None:
    db.migrate("create index on posts using gin (to_tsvector('english', body));")
    assert db.uses_index("body=wfts.dog", "posts_expr_idx")
    db.migrate("alter table posts rename column body to content;")
    assert db.uses_index("content=wfts.dog", "posts_expr_idx")
    db.conn.execute("INSERT INTO posts (id, content) VALUES (5, 'a dog')")
    assert db.ids("content=wfts.dog") == [1, 2, 5]
    # A rebuild copies the rows into a new table (new rowids): the index is filled again.
    db.conn.execute("DELETE FROM posts WHERE id = 1")
    db.migrate("alter table posts add constraint short check (length(tags) < 10);")
    assert db.ids("content=wfts.dog") == [2, 5]
    db.conn.execute("UPDATE posts SET content = 'cat' WHERE id = 5")
    assert db.ids("content=wfts.dog") == [2]
    assert db.ids("content=wfts.cat") == [5]
    db.migrate("alter table posts rename to articles;")  # SQLite moves the triggers along
    db.conn.execute("INSERT INTO articles (id, content) VALUES (6, 'dogs')")
    found = db.get("articles", "select=id&content=wfts.dog").data
    assert found == [{"id": 2}, {"id": 6}]


def test_dropping_the_index_column_or_table_drops_the_fts5_table(db: Migrated) -> None:
    db.migrate("create index body_search on posts using gin (to_tsvector('english', body));")
    assert "body_search" in db.tables()
    db.migrate("drop index body_search;")
    assert not {"body_search", "body_search__insert"} & db.tables()
    assert not db.uses_index("body=fts.dog", "body_search")
    assert db.ids("body=fts.dog") == [1, 2]  # read row by row now
    db.conn.execute("INSERT INTO posts (id, body) VALUES (9, 'dog')")  # no trigger left behind
    db.migrate("create index body_search on posts using gin (to_tsvector('english', body));")
    db.migrate("alter table posts drop column body;")
    assert "body_search" not in db.tables()
    db.migrate("create index tags_search on posts using gin (to_tsvector('simple', tags));")
    db.migrate("drop table posts;")
    assert not any(name.startswith("tags_search") for name in db.tables())


def test_index_notes_and_unusable_keys() -> None:
    plan = translate(
        SCHEMA + "create index on posts using gin (to_tsvector('english', body || tags));"
        "create index on posts using gin (tags gin_trgm_ops);"
    )
    notes = [n for op in plan.operations for n in op.notes]
    assert "no filter can use it" in " ".join(notes)
    assert any("operator class gin_trgm_ops ignored" in n for n in notes)
    with pytest.raises(Exception, match='text search configuration "klingon" does not exist'):
        translate(SCHEMA + "create index on posts using gin (to_tsvector('klingon', body));")


def test_a_plain_tsvector_column_takes_postgres_input(db: Migrated) -> None:
    stored = body_row_to_storage("vectors", {"id": 1, "v": "fat cat:2"}, db.catalog)
    assert stored["v"] == "'cat':2 'fat'"
    code, message = error_of(
        lambda: body_row_to_storage("vectors", {"id": 1, "v": "'open"}, db.catalog)
    )
    assert (code, message) == ("22P02", 'syntax error in tsvector: "\'open"')
    db.conn.execute("INSERT INTO vectors (id, v) VALUES (1, ?)", (stored["v"],))
    found = db.get("vectors", f"select=id&v=fts.{quote('cats & fat')}").data
    assert found == [{"id": 1}]
