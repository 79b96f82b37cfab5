"""Full-text filters through GIN indexes (FTS5 tables): the same rows as reading every row, the
index really used, NULL documents as Postgres treats them, and no user text breaking FTS5."""

from __future__ import annotations

import random
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compile_support import SERVICE, Database, error_of, query

from performer_edge.errors import InvalidInput
from performer_edge.rest.compile import compile_read
from performer_edge.rest.compile_fts import ts_match, ts_vector_match

# fmt: off
VOCABULARY = [
    "the", "a", "over", "and", "cat", "cats", "dog", "dogs", "fox", "foxes", "quick", "jumped",
    "jumping", "lazy", "brown", "run", "running", "café", "naïve", "über", "straße", "42", "x9",
    "ünïcode", "καλημέρα",
]
# fmt: on
SCHEMA = """
create table posts (
  id int primary key,
  body text,
  fts tsvector generated always as (to_tsvector('english', body)) stored
);
create index posts_fts on posts using gin (fts);
create index posts_body on posts using gin (to_tsvector('english', body));
create index posts_body_simple on posts using gin (to_tsvector('simple'::regconfig, body));
create table notes (id int primary key, body text);
"""


def _documents() -> dict[int, str | None]:
    chosen = random.Random(7)
    documents: dict[int, str | None] = {}
    for row in range(1, 81):
        words = chosen.choices(VOCABULARY, k=chosen.randint(0, 9))
        documents[row] = None if row % 13 == 0 else " ".join(words).capitalize() + "."
    documents[81] = "The quick brown foxes jumped over the lazy dog"
    return documents


DOCUMENTS = _documents()


@pytest.fixture(scope="module")
def db() -> Database:
    database = Database(SCHEMA)
    for row, body in DOCUMENTS.items():
        database.conn.execute("INSERT INTO posts (id, body) VALUES (?, ?)", (row, body))
        database.conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (row, body))
    return database


def scanned(config: str, kind: str, text: str, *, negated: bool = False) -> list[int]:
    """The ids reading every row finds: `to_tsvector(config, body) @@ query` is true (false)."""
    wanted = 0 if negated else 1
    return [r for r, body in DOCUMENTS.items() if ts_match(config, kind, body, text) == wanted]


def found(db: Database, query_string: str) -> list[int]:
    return [row["id"] for row in db.get("posts", f"select=id&{query_string}").data]


def search(db: Database, column: str, operator: str, text: str) -> list[int]:
    """`column=operator.text`, the text form-encoded as clients send it."""
    return found(db, f"{column}={operator}.{quote(text)}")


CASES = [
    ("fts", "dog"),
    ("fts", "dogs & !fox"),
    ("fts", "!cat"),
    ("fts", "cat | fox"),
    ("fts", "!(cat | fox)"),
    ("fts", "quick <-> brown <-> fox"),
    ("fts", "brown <-> quick"),
    ("fts", "quick <2> fox"),
    ("fts", "quick <-> (brown <-> fox)"),
    ("fts", "(quick <-> brown) <-> fox"),
    ("fts", "jump:* & laz:*"),
    ("fts", "caf:*"),
    ("fts", "naïve & über"),
    ("fts", "'lazy dogs'"),
    ("fts", "the"),
    ("fts", "cat:A"),
    ("fts", "ca:*D <-> dog"),
    ("plfts", "lazy dog and the fox"),
    ("phfts", "jumped over the lazy dog"),
    ("phfts", "quick brown"),
    ("wfts", '"brown foxes" -cat'),
    ("wfts", "cat or fox -dog"),
    ("wfts", "-cat -dog"),
]


@pytest.mark.parametrize(("kind", "text"), CASES)
@pytest.mark.parametrize("column", ["fts", "body"])
def test_index_finds_what_the_scan_finds(db: Database, column: str, kind: str, text: str) -> None:
    assert search(db, column, kind, text) == scanned("english", kind, text)
    assert search(db, column, f"not.{kind}", text) == scanned("english", kind, text, negated=True)


@pytest.mark.parametrize(("kind", "text"), CASES)
def test_simple_config_index(db: Database, kind: str, text: str) -> None:
    assert search(db, "body", f"{kind}(simple)", text) == scanned("simple", kind, text)


def test_the_index_is_read_where_one_exists(db: Database) -> None:
    def sql(table: str, query_string: str) -> str:
        return compile_read(table, query(query_string), db.catalog, SERVICE).sql

    assert '"posts_fts" MATCH' in sql("posts", "fts=fts.dog")
    assert '"posts_body" MATCH' in sql("posts", "body=wfts.dog")
    assert '"posts_body_simple" MATCH' in sql("posts", "body=plfts(simple).dog")
    # A language without an index, and a table without one, are read row by row.
    assert "MATCH" not in sql("posts", "body=fts(french).dog")
    assert "MATCH" not in sql("notes", "body=fts.dog")
    # An exact FTS5 query decides alone; a phrase with a gap narrows, then the scan decides.
    assert "ts_vector_match" not in sql("posts", "fts=fts.dog %26 !cat")
    assert "ts_vector_match" in sql("posts", "fts=phfts.jumped over the lazy")


def test_tables_without_an_index_agree(db: Database) -> None:
    for kind, text in CASES:
        rows = db.get("notes", f"select=id&body={kind}.{quote(text)}").data
        assert [row["id"] for row in rows] == scanned("english", kind, text)


def test_null_documents_match_nothing_either_way(db: Database) -> None:
    nulls = {r for r, body in DOCUMENTS.items() if body is None}
    assert nulls
    for query_string in ("fts=fts.dog", "fts=not.fts.dog", "fts=fts.!dog", "not.or=(fts.fts.dog)"):
        assert nulls.isdisjoint(found(db, query_string)), query_string


def test_a_bad_tsquery_is_42601(db: Database) -> None:
    code, message = error_of(lambda: db.get("posts", "fts=fts.dog %26 ("))
    assert (code, message) == ("42601", 'syntax error in tsquery: "dog & ("')


@pytest.mark.parametrize(
    ("text", "matches"),  # as Postgres answers for "The quick brown foxes jumped"
    [
        ("quick <-> (brown <-> fox)", 1),
        ("(quick <-> brown) <-> fox", 1),
        ("quick <-> (brown <-> jump)", 0),
        ("quick <2> (fox <-> jump)", 1),
        ("brown <-> (quick <-> fox)", 0),
    ],
)
def test_a_phrase_inside_a_phrase_starts_where_its_first_word_is(text: str, matches: int) -> None:
    assert ts_match("english", "fts", "The quick brown foxes jumped", text) == matches


def test_a_tsvector_column_is_read_as_a_tsvector() -> None:
    vector = "'brown':3 'dog':9 'fox':4 'jump':5 'lazi':8 'quick':2"
    assert ts_vector_match("english", "fts", vector, "foxes & dog") == 1
    assert ts_vector_match("english", "phfts", vector, "brown quick") == 0
    assert ts_vector_match("english", "phfts", vector, "brown foxes") == 1
    assert ts_vector_match("english", "fts", None, "fox") is None


OPERATORS = ["&", "|", "!", "<->", "<2>", "(", ")", ":*", ":AB", "'", '"', "-", "or", "\\", "*"]
QUERY_TEXT = st.lists(
    st.one_of(st.sampled_from(VOCABULARY + OPERATORS), st.text(max_size=4)), max_size=7
).map(" ".join)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["fts", "plfts", "phfts", "wfts"]),
    text=QUERY_TEXT,
    column=st.sampled_from(["fts", "body"]),
)
def test_any_query_text_gives_the_scan_result_or_42601(
    db: Database, kind: str, text: str, column: str
) -> None:
    def outcome(run: Callable[[], list[int]]) -> list[int] | str:
        try:
            return run()
        except InvalidInput as error:
            return error.error_code

    expected = outcome(lambda: scanned("english", kind, text))
    assert expected == outcome(lambda: search(db, column, kind, text))
    assert isinstance(expected, list) or (kind, expected) == ("fts", "42601")
