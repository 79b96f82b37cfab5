"""Resource embedding as PostgREST resolves it: many-to-one, one-to-many, one-to-one,
many-to-many through a junction, self relationships, `!hint`, `!inner`, spreads, filters,
orders and ranges on embedded resources, aggregates, and PGRST200/201."""

from __future__ import annotations

from typing import Any

import pytest
from test_compile_support import SERVICE, Database, query

from performer_edge.errors import InvalidInput
from performer_edge.rest.compile import compile_read

SCHEMA = """
create table directors (id bigint primary key, name text not null);
create table films (
  id bigint primary key,
  title text not null,
  director_id bigint references directors,
  released date,
  rating numeric(3,1)
);
create table actors (id bigint primary key, name text not null);
create table roles (
  film_id bigint references films,
  actor_id bigint references actors,
  character text,
  primary key (film_id, actor_id)
);
create table technical_specs (film_id bigint primary key references films, runtime int);
create table people (id bigint primary key, name text, mentor_id bigint references people);
create table reviews (
  id bigint primary key,
  film_id bigint references films,
  author_id bigint references people,
  editor_id bigint references people,
  body text
);
insert into directors values (1, 'Agnès Varda'), (2, 'Chris Marker'), (3, 'Nobody');
insert into films values
  (1, 'Cléo from 5 to 7', 1, '1962-04-11', 8.0),
  (2, 'Le Bonheur', 1, '1965-02-10', 7.4),
  (3, 'La Jetée', 2, '1962-02-16', 8.3),
  (4, 'Sans Soleil', 2, '1983-03-02', 8.1),
  (5, 'Untitled', null, null, null);
insert into actors values
  (1, 'Corinne Marchand'), (2, 'Antoine Bourseiller'), (3, 'Hélène Chatelain'),
  (4, 'Davos Hanich'), (5, 'Jean-Claude Drouot');
insert into roles values
  (1, 1, 'Cléo'), (1, 2, 'Antoine'), (3, 3, 'The Woman'), (3, 4, 'The Man'), (2, 5, 'François');
insert into technical_specs values (1, 90), (3, 28);
insert into people values (1, 'Ann', null), (2, 'Ben', 1), (3, 'Cat', 1), (4, 'Dan', 2);
insert into reviews values (1, 1, 2, 1, 'Great'), (2, 3, 3, 1, 'Haunting');
"""


@pytest.fixture(scope="module")
def db() -> Database:
    return Database(SCHEMA)


def titles(*names: str) -> list[dict[str, str]]:
    return [{"title": n} for n in names]


def names(*values: str) -> list[dict[str, str]]:
    return [{"name": n} for n in values]


EMBEDS: list[tuple[str, str, Any]] = [
    ("films", "select=title,directors(name)&id=in.(1,5)",
     [{"title": "Cléo from 5 to 7", "directors": {"name": "Agnès Varda"}},
      {"title": "Untitled", "directors": None}]),
    ("directors", "select=name,films(title)",
     [{"name": "Agnès Varda", "films": titles("Cléo from 5 to 7", "Le Bonheur")},
      {"name": "Chris Marker", "films": titles("La Jetée", "Sans Soleil")},
      {"name": "Nobody", "films": []}]),
    ("films", "select=title,actors(name)&id=lte.3",
     [{"title": "Cléo from 5 to 7", "actors": names("Corinne Marchand", "Antoine Bourseiller")},
      {"title": "Le Bonheur", "actors": names("Jean-Claude Drouot")},
      {"title": "La Jetée", "actors": names("Hélène Chatelain", "Davos Hanich")}]),
    ("actors", "select=name,films(title)&id=eq.4",
     [{"name": "Davos Hanich", "films": titles("La Jetée")}]),
    ("films", "select=title,actors!roles(name)&id=eq.2",
     [{"title": "Le Bonheur", "actors": names("Jean-Claude Drouot")}]),
    ("films", "select=title,roles(character,actors(name))&id=eq.3",
     [{"title": "La Jetée", "roles": [
         {"character": "The Woman", "actors": {"name": "Hélène Chatelain"}},
         {"character": "The Man", "actors": {"name": "Davos Hanich"}}]}]),
    ("films", "select=title,technical_specs(runtime)&id=in.(1,2)",
     [{"title": "Cléo from 5 to 7", "technical_specs": {"runtime": 90}},
      {"title": "Le Bonheur", "technical_specs": None}]),
    ("technical_specs", "select=runtime,films(title)",
     [{"runtime": 90, "films": {"title": "Cléo from 5 to 7"}},
      {"runtime": 28, "films": {"title": "La Jetée"}}]),
    ("reviews",
     "select=body,author:people!author_id(name),editor:people!reviews_editor_id_fkey(name)",
     [{"body": "Great", "author": {"name": "Ben"}, "editor": {"name": "Ann"}},
      {"body": "Haunting", "author": {"name": "Cat"}, "editor": {"name": "Ann"}}]),
    ("people", "select=name,mentor:mentor_id(name),mentees:people(name)&id=lte.2",
     [{"name": "Ann", "mentor": None, "mentees": names("Ben", "Cat")},
      {"name": "Ben", "mentor": {"name": "Ann"}, "mentees": names("Dan")}]),
    ("people", "select=name,protege:people!mentor_id(name)&id=eq.1",
     [{"name": "Ann", "protege": names("Ben", "Cat")}]),
    ("films", "select=title,...directors(director:name)&id=in.(3,5)",
     [{"title": "La Jetée", "director": "Chris Marker"}, {"title": "Untitled", "director": None}]),
    ("directors", "select=name,...films(titles:title)&id=in.(2,3)",
     [{"name": "Chris Marker", "titles": ["La Jetée", "Sans Soleil"]},
      {"name": "Nobody", "titles": []}]),
    ("films", "select=title,...directors(name,films(id))&id=eq.1",
     [{"title": "Cléo from 5 to 7", "name": "Agnès Varda", "films": [{"id": 1}, {"id": 2}]}]),
    ("directors", "select=name,films!inner(title)&films.rating=gt.8",
     [{"name": "Chris Marker", "films": titles("La Jetée", "Sans Soleil")}]),
    ("directors", "select=name,films!left(title)&films.rating=gt.8.2",
     [{"name": "Agnès Varda", "films": []}, {"name": "Chris Marker", "films": titles("La Jetée")},
      {"name": "Nobody", "films": []}]),
    ("films", "select=title,directors(name)&directors.name=eq.Chris Marker&id=in.(1,3)",
     [{"title": "Cléo from 5 to 7", "directors": None},
      {"title": "La Jetée", "directors": {"name": "Chris Marker"}}]),
    ("films", "select=title,directors!inner(name)&directors.name=eq.Chris Marker",
     [{"title": "La Jetée", "directors": {"name": "Chris Marker"}},
      {"title": "Sans Soleil", "directors": {"name": "Chris Marker"}}]),
    ("films", "select=title,directors(name)&directors=not.is.null&directors.id=eq.1",
     [{"title": "Cléo from 5 to 7", "directors": {"name": "Agnès Varda"}},
      {"title": "Le Bonheur", "directors": {"name": "Agnès Varda"}}]),
    ("films", "select=title,directors(name)&order=directors(name).desc,title&limit=3",
     [{"title": "Untitled", "directors": None},
      {"title": "La Jetée", "directors": {"name": "Chris Marker"}},
      {"title": "Sans Soleil", "directors": {"name": "Chris Marker"}}]),
    ("films", "select=title,cast:actors(name)&cast.order=name.desc&cast.limit=1&id=eq.1",
     [{"title": "Cléo from 5 to 7", "cast": names("Corinne Marchand")}]),
    ("films", "select=title,cast:actors(name)&cast.offset=1&id=eq.1",
     [{"title": "Cléo from 5 to 7", "cast": names("Antoine Bourseiller")}]),
    ("directors", "select=name,films(title,actors(name))&films.actors.name=like.*a*&id=eq.2",
     [{"name": "Chris Marker", "films": [
         {"title": "La Jetée", "actors": names("Hélène Chatelain", "Davos Hanich")},
         {"title": "Sans Soleil", "actors": []}]}]),
    ("directors", "select=name,films(title)&films.or=(rating.lt.7.5,title.like.La*)",
     [{"name": "Agnès Varda", "films": titles("Le Bonheur")},
      {"name": "Chris Marker", "films": titles("La Jetée")}, {"name": "Nobody", "films": []}]),
    ("films",
     "select=director_id,count(),best:rating.max()&director_id=not.is.null&order=director_id",
     [{"director_id": 1, "count": 2, "best": 8.0}, {"director_id": 2, "count": 2, "best": 8.3}]),
    ("films", "select=...directors(name),count()&director_id=not.is.null&order=director_id",
     [{"name": "Agnès Varda", "count": 2}, {"name": "Chris Marker", "count": 2}]),
    ("directors", "select=name,films(count(),rating.avg())&id=eq.2",
     [{"name": "Chris Marker", "films": [{"count": 2, "avg": 8.2}]}]),
    ("films", "select=director_id,...technical_specs(runtime.sum())&order=director_id",
     [{"director_id": 1, "sum": 90}, {"director_id": 2, "sum": 28},
      {"director_id": None, "sum": None}]),
    ("films", "select=count()&released=gte.1962-01-01&released=lt.1963-01-01",
     [{"count": 2}]),
    ("films", "select=title,released,year:released::text&id=eq.3",
     [{"title": "La Jetée", "released": "1962-02-16", "year": "1962-02-16"}]),
]  # fmt: skip


@pytest.mark.parametrize(("table", "query_string", "expected"), EMBEDS)
def test_embed(db: Database, table: str, query_string: str, expected: Any) -> None:
    result = db.get(table, query_string)
    assert _rounded(result.data) == expected


def _rounded(value: Any) -> Any:
    """Averages come back as floats; compare them at the precision of the data."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def test_inner_embed_counts_only_matching_parents(db: Database) -> None:
    result = db.get("directors", "select=name,films!inner(id)&films.rating=gt.8", count="exact")
    assert (result.page_count, result.total) == (1, 1)


def test_ambiguous_embed_lists_candidates(db: Database) -> None:
    with pytest.raises(InvalidInput) as raised:
        compile_read("reviews", query("select=body,people(name)"), db.catalog, SERVICE)
    error = raised.value
    assert error.error_code == "PGRST201"
    assert error.message == (
        "Could not embed because more than one relationship was found for 'reviews' and 'people'"
    )
    assert error.details == [
        {
            "cardinality": "many-to-one",
            "embedding": "reviews with people",
            "relationship": "reviews_author_id_fkey using reviews(author_id) and people(id)",
        },
        {
            "cardinality": "many-to-one",
            "embedding": "reviews with people",
            "relationship": "reviews_editor_id_fkey using reviews(editor_id) and people(id)",
        },
    ]
    assert error.hint == (
        "Try changing 'people' to one of the following: 'people!reviews_author_id_fkey', "
        "'people!reviews_editor_id_fkey'. Find the desired relationship in the 'details' key."
    )


def test_missing_relationship_suggests_a_related_table(db: Database) -> None:
    with pytest.raises(InvalidInput) as raised:
        compile_read("films", query("select=*,actor(*)"), db.catalog, SERVICE)
    error = raised.value
    assert error.error_code == "PGRST200"
    assert error.message == (
        "Could not find a relationship between 'films' and 'actor' in the schema cache"
    )
    assert error.details == (
        "Searched for a foreign key relationship between 'films' and 'actor' in the schema "
        "'public', but no matches were found."
    )
    assert error.hint == "Perhaps you meant 'actors' instead of 'actor'."


def test_wrong_hint_is_no_relationship(db: Database) -> None:
    with pytest.raises(InvalidInput) as raised:
        compile_read("films", query("select=*,directors!nope(*)"), db.catalog, SERVICE)
    assert raised.value.error_code == "PGRST200"
    assert "using the hint 'nope'" in str(raised.value.details)


def test_embedded_unknown_column_names_the_embed_alias(db: Database) -> None:
    with pytest.raises(InvalidInput) as raised:
        compile_read("films", query("select=*,directors(nope)"), db.catalog, SERVICE)
    assert (raised.value.error_code, raised.value.message) == (
        "42703",
        "column directors_1.nope does not exist",
    )
