"""Full-text search through the official supabase-py client against a real node whose migrations
add a generated tsvector column and GIN indexes to a table that already has rows: the four query
syntaxes, rows written after the index, bad queries as PostgREST's 400, and a replay."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import httpx
import pytest
from conftest import RunningNode, performer_command, start_serving
from postgrest.exceptions import APIError
from supabase import Client, create_client

pytestmark = pytest.mark.network

MIGRATIONS = Path(__file__).parent / "fts_migrations"
SEEDED_VECTOR = "'brown':4 'cat':1 'dog':10 'fox':5 'jump':6 'lazi':9 'quick':3"


def stop(running: RunningNode) -> None:
    running.stop()
    if running.proc.stdout is not None:
        running.proc.stdout.close()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    running = start_serving(
        tmp_path_factory.mktemp("fts") / "data", "--migrations", str(MIGRATIONS)
    )
    yield running
    stop(running)


def titles(response: Any) -> list[str]:
    return [row["title"] for row in response.data]


def test_rows_from_before_the_migration_are_found(service: Client) -> None:
    posts = service.table("posts").select("title, fts")
    found = posts.text_search("fts", "'cat' & 'dog'").order("id").execute()
    assert found.data == [
        {"title": "Cats", "fts": SEEDED_VECTOR},
        {"title": "Dogs", "fts": "'cat':6 'dog':1,3 'share':7 'sofa':9"},
    ]


@pytest.mark.parametrize(
    ("query", "options", "expected"),
    [
        ("quick & (fox | wolf) & !cat:*", {}, []),
        ("jump:* <-> over", {}, ["Cats"]),  # `over` is a stop word: the query is `jump:*`
        ("laz:* <-> dog", {"config": "english"}, ["Cats"]),
        ("lazy dogs", {"type": "plain"}, ["Cats"]),
        ("the lazy dog", {"type": "phrase", "config": "english"}, ["Cats"]),
        ("dog lazy", {"type": "phrase"}, []),
        ('"brown foxes" or sofa -quick', {"type": "web_search"}, ["Cats", "Dogs"]),
        ('"foxes brown" or sofa -quick', {"type": "web_search"}, ["Dogs"]),
        ("cat -sofa", {"type": "web_search", "config": "english"}, ["Cats"]),
        ("Cats", {"config": "simple"}, []),  # the vector holds `cat`: english made it
        ("cat", {"config": "simple"}, ["Cats", "Dogs"]),
    ],
)
def test_the_four_query_syntaxes(
    service: Client, query: str, options: dict[str, str], expected: list[str]
) -> None:
    posts = service.table("posts").select("title").order("id")
    assert titles(posts.text_search("fts", query, options).execute()) == expected


def test_a_plain_text_column_is_searched_through_its_expression_index(anon: Client) -> None:
    posts = anon.table("posts").select("title").order("id")
    found = posts.text_search("body", "sofa or fox", {"type": "web_search"}).execute()
    assert titles(found) == ["Cats", "Dogs"]
    negated = anon.table("posts").select("title").not_.fts("body", "fox").order("id").execute()
    assert titles(negated) == ["Dogs"]  # the NULL body matches neither way, as in Postgres


def test_writes_after_the_index_are_searchable(service: Client) -> None:
    posts = service.table("posts")
    made = posts.insert({"title": "Otters", "body": "Otters hold hands"}).execute().data[0]
    assert made["fts"] == "'hand':4 'hold':3 'otter':1,2"
    assert titles(posts.select("title").text_search("fts", "otter").execute()) == ["Otters"]
    posts.update({"body": "Otters juggle pebbles"}).eq("id", made["id"]).execute()
    assert titles(posts.select("title").text_search("body", "hands").execute()) == []
    assert titles(posts.select("title").plfts("body", "juggling pebble").execute()) == ["Otters"]
    posts.delete().eq("id", made["id"]).execute()
    assert posts.select("title").text_search("fts", "otter").execute().data == []


def test_a_bad_tsquery_is_a_400_with_42601(service: Client) -> None:
    with pytest.raises(APIError) as caught:
        service.table("posts").select("id").text_search("fts", "cat & (dog").execute()
    assert caught.value.code == "42601"
    assert caught.value.message == 'syntax error in tsquery: "cat & (dog"'


NASTY = ['"', "'", "*", "NEAR(a b)", "a:", ":*", "^cat", "cat AND", "(", "-", "!", "<->", "\\"]


@pytest.mark.parametrize("operator", ["fts", "plfts", "phfts", "wfts"])
def test_no_query_text_breaks_fts5(node: RunningNode, operator: str) -> None:
    headers = {"apikey": node.key("anon")}
    for text in NASTY:
        params = {"select": "id", "fts": f"{operator}.{text}"}
        response = httpx.get(f"{node.url}/rest/v1/posts", params=params, headers=headers)
        if response.status_code == 400:
            assert operator == "fts" and response.json()["code"] == "42601", text
        else:
            assert response.status_code == 200, (text, response.text)


def test_replay_rebuilds_the_index(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_serving(data, "--migrations", str(MIGRATIONS))
    try:
        client = create_client(first.url, first.key("service_role"))
        client.table("posts").insert({"title": "Owls", "body": "Owls hunt mice"}).execute()
        client.table("posts").update({"body": "Dogs nap"}).eq("title", "Dogs").execute()
    finally:
        stop(first)
    replayed = subprocess.run(
        performer_command("replay", "--data", str(data)),
        check=False,
        capture_output=True,
        text=True,
    )
    assert replayed.returncode == 0, replayed.stderr
    second = start_serving(data, "--migrations", str(MIGRATIONS))
    try:
        posts = create_client(second.url, second.key("service_role")).table("posts")
        assert titles(posts.select("title").text_search("body", "hunting").execute()) == ["Owls"]
        assert titles(posts.select("title").text_search("fts", "nap").execute()) == ["Dogs"]
        assert titles(posts.select("title").text_search("fts", "sofa").execute()) == []
        assert titles(posts.select("title").text_search("fts", "fox").execute()) == ["Cats"]
    finally:
        stop(second)
    # The FTS5 tables themselves hold exactly the live rows, with their current lexemes.
    conn = apsw.Connection(str(data / "performer.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        live = conn.execute("SELECT rowid, title FROM posts ORDER BY rowid").fetchall()
        indexed = conn.execute("SELECT rowid FROM posts_fts ORDER BY rowid").fetchall()
        assert [row[0] for row in indexed] == [row[0] for row in live]
        napping = conn.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'nap'")
        assert [row[0] for row in napping] == [r for r, title in live if title == "Dogs"]
    finally:
        conn.close()
