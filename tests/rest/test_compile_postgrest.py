"""The supabase-py postgrest integration suite's requests (wire spec §6), compiled and run on the
schema of its `infra/init.sql` (without the tsrange table: ranges are unsupported), with the
results PostgREST gives."""

from __future__ import annotations

from typing import Any

import pytest
from test_compile_support import Database, error_of, query

from performer_edge.rest.compile import compile_read

SCHEMA = """
CREATE TABLE public.countries (
    id int8 PRIMARY KEY,
    iso CHAR (2) NOT NULL,
    country_name VARCHAR (80) NOT NULL,
    nicename VARCHAR (80) NOT NULL,
    iso3 CHAR (3) DEFAULT NULL,
    numcode SMALLINT DEFAULT NULL,
    phonecode INT NOT NULL
);
INSERT INTO public.countries (id, iso, country_name, nicename, iso3, numcode, phonecode) VALUES
    (1, 'AF', 'AFGHANISTAN', 'Afghanistan', 'AFG', 4, 93),
    (2, 'AL', 'ALBANIA', 'Albania', 'ALB', 8, 355),
    (3, 'DZ', 'ALGERIA', 'Algeria', 'DZA', 12, 213),
    (4, 'AQ', 'ANTARCTICA', 'Antarctica', NULL, NULL, 0),
    (5, 'CR', 'COSTA RICA', 'Costa Rica', 'CRI', 188, 506),
    (6, 'ES', 'SPAIN', 'Spain', 'ESP', 724, 34),
    (7, 'TH', 'THAILAND', 'Thailand', 'THA', 764, 66),
    (8, 'TG', 'TOGO', 'Togo', 'TGO', 768, 228),
    (9, 'TT', 'TRINIDAD AND TOBAGO', 'Trinidad and Tobago', 'TTO', 780, 1868),
    (10, 'GB', 'UNITED KINGDOM', 'United Kingdom', 'GBR', 826, 44),
    (11, 'US', 'UNITED STATES', 'United States', 'USA', 840, 1),
    (12, 'ZW', 'ZIMBABWE', 'Zimbabwe', 'ZWE', 716, 263);
create table public.cities (
    id int8 primary key,
    country_id int8 not null references public.countries,
    name text
);
insert into public.cities (id, name, country_id) values
    (1, 'London', 10), (2, 'Manchester', 10), (3, 'Liverpool', 10), (4, 'Bristol', 10),
    (5, 'Miami', 11), (6, 'Huston', 11), (7, 'Atlanta', 11);
create table public.users (id int8 primary key, name text, address jsonb);
insert into public.users (id, name, address) values
    (1, 'Michael', '{ "postcode": 90210, "street": "Melrose Place" }'),
    (2, 'Jane', '{}');
create table public.issues (id int8 primary key, title text, tags text[]);
insert into public.issues (id, title, tags) values
    (1, 'Cache invalidation is not working', array['is:open', 'severity:high', 'priority:low']),
    (2, 'Use better names', array['is:open', 'severity:low', 'priority:medium']),
    (3, 'Add missing postgrest filters', array['is:open', 'severity:low', 'priority:high']),
    (4, 'Add alias to filters', array['is:closed', 'severity:low', 'priority:medium']);
create or replace function public.list_stored_countries()
    returns setof countries
    language sql
as $function$
    select * from countries;
$function$;
create or replace function public.search_countries_by_name(search_name text)
    returns setof countries
    language sql
as $function$
    select * from countries where nicename ilike '%' || search_name || '%';
$function$;
create table orchestral_sections (id int8 primary key, name text);
create table instruments (
    id int8 primary key,
    section_id int8 not null references orchestral_sections,
    name text
);
insert into orchestral_sections (id, name) values (1, 'strings'), (2, 'woodwinds');
insert into instruments (id, section_id, name) values (1, 1, 'harp'), (2, 1, 'violin');
"""

AL = {"country_name": "ALBANIA", "iso": "AL"}
DZ = {"country_name": "ALGERIA", "iso": "DZ"}
UK_CITIES = [{"name": n} for n in ("London", "Manchester", "Liverpool", "Bristol")]


@pytest.fixture(scope="module")
def db() -> Database:
    return Database(SCHEMA)


# (table, query string, compile options, expected data, expected total)
READS: list[tuple[str, str, dict[str, Any], Any, int | None]] = [
    ("countries", "select=country_name,iso&numcode=lte.8&numcode=gte.4", {"count": "exact"},
     [{"country_name": "AFGHANISTAN", "iso": "AF"}, AL], 2),
    ("countries", "select=country_name,iso&numcode=eq.8&nicename=eq.Albania", {"single": True},
     AL, None),
    ("countries", "select=country_name,iso&nicename=eq.Albania", {"single": True}, AL, None),
    ("users", "select=id,name&name=neq.Jane", {"single": True}, {"id": 1, "name": "Michael"},
     None),
    ("users", "select=id,name&id=gt.1", {"single": True}, {"id": 2, "name": "Jane"}, None),
    ("users", "select=id,name&id=gte.1", {}, [{"id": 1, "name": "Michael"},
     {"id": 2, "name": "Jane"}], None),
    ("users", 'select=name&address=cs.{"postcode": 90210}', {"single": True},
     {"name": "Michael"}, None),
    ("issues", 'select=title&tags=cs.{"is:open","priority:low"}', {},
     [{"title": "Cache invalidation is not working"}], None),
    ("issues", 'select=title&tags=ov.{"is:closed","severity:high"}', {},
     [{"title": "Cache invalidation is not working"}, {"title": "Add alias to filters"}], None),
    ("countries", "select=country_name,iso&nicename=like.%Alba%", {}, [AL], None),
    ("countries", "select=country_name,iso&nicename=ilike.%alban%", {}, [AL], None),
    ("countries", "select=nicename,iso&nicename=like(all).{A*,*n}", {},
     [{"iso": "AF", "nicename": "Afghanistan"}], None),
    ("countries", "select=nicename,iso&nicename=like(any).{Al*,*ia}", {},
     [{"iso": "AL", "nicename": "Albania"}, {"iso": "DZ", "nicename": "Algeria"}], None),
    ("countries", "select=nicename,iso&nicename=ilike(all).{a*,*n}", {},
     [{"iso": "AF", "nicename": "Afghanistan"}], None),
    ("countries", "select=nicename,iso&nicename=ilike(any).{al*,*ia}", {},
     [{"iso": "AL", "nicename": "Albania"}, {"iso": "DZ", "nicename": "Algeria"}], None),
    ("countries", "select=country_name,iso&numcode=is.null&limit=1&order=nicename", {},
     [{"country_name": "ANTARCTICA", "iso": "AQ"}], None),
    ("countries", "select=country_name,iso&numcode=not.is.null&limit=1&order=nicename", {},
     [{"country_name": "AFGHANISTAN", "iso": "AF"}], None),
    ("countries", 'select=country_name,iso&nicename=in.("Albania","Algeria")', {}, [AL, DZ],
     None),
    ("countries", "select=country_name,iso&or=(iso.eq.DZ,nicename.eq.Albania)", {}, [AL, DZ],
     None),
    ("countries",
     "select=country_name,iso&or=(phonecode.gt.506,and(iso.eq.AL,nicename.eq.Albania))",
     {}, [AL, {"country_name": "TRINIDAD AND TOBAGO", "iso": "TT"}], None),
    ("issues", "select=id,title&or=(id.in.(1,4),tags.cs.{is:open,priority:high})", {},
     [{"id": 1, "title": "Cache invalidation is not working"},
      {"id": 3, "title": "Add missing postgrest filters"},
      {"id": 4, "title": "Add alias to filters"}], None),
    ("countries",
     "select=country_name,cities!inner(name)&cities.or=(country_id.eq.10,name.eq.Paris)",
     {}, [{"country_name": "UNITED KINGDOM", "cities": UK_CITIES}], None),
    ("countries", "select=country_name,iso&limit=3&order=nicename.desc", {},
     [{"country_name": "ZIMBABWE", "iso": "ZW"}, {"country_name": "UNITED STATES", "iso": "US"},
      {"country_name": "UNITED KINGDOM", "iso": "GB"}], None),
    ("orchestral_sections", "select=name,instruments(name)&instruments.order=name.desc", {},
     [{"name": "strings", "instruments": [{"name": "violin"}, {"name": "harp"}]},
      {"name": "woodwinds", "instruments": []}], None),
    # Beyond the suite: ranges, counts, embeds both ways, spreads, aggregates.
    ("countries", "select=id&limit=2&offset=10", {"count": "exact"}, [{"id": 11}, {"id": 12}],
     12),
    ("countries", "select=id&offset=20", {"count": "exact"}, [], 12),
    ("countries", "select=id&limit=0", {"count": "exact"}, [], 12),
    ("cities", "select=name,countries(iso)&country_id=eq.11&order=name", {},
     [{"name": "Atlanta", "countries": {"iso": "US"}},
      {"name": "Huston", "countries": {"iso": "US"}},
      {"name": "Miami", "countries": {"iso": "US"}}], None),
    ("cities", "select=name,...countries(country:nicename)&id=lte.2", {},
     [{"name": "London", "country": "United Kingdom"},
      {"name": "Manchester", "country": "United Kingdom"}], None),
    ("cities", "select=country_id,total:count()&order=country_id", {},
     [{"country_id": 10, "total": 4}, {"country_id": 11, "total": 3}], None),
    ("countries", "select=iso,cities(count())&id=in.(10,11,12)", {},
     [{"iso": "GB", "cities": [{"count": 4}]}, {"iso": "US", "cities": [{"count": 3}]},
      {"iso": "ZW", "cities": [{"count": 0}]}], None),
    ("countries", "select=iso,cities!inner()&order=iso", {}, [{"iso": "GB"}, {"iso": "US"}],
     None),
    ("countries", "select=iso,cities(name)&cities=is.null&id=gt.9", {},
     [{"iso": "ZW", "cities": []}], None),
    ("countries", "select=iso,cities(name)&cities.limit=1&cities.order=name&id=in.(10,12)", {},
     [{"iso": "GB", "cities": [{"name": "Bristol"}]}, {"iso": "ZW", "cities": []}], None),
    ("users", "select=name,code:address->postcode,text:address->>postcode,address->>street", {},
     [{"name": "Michael", "code": 90210, "text": "90210", "street": "Melrose Place"},
      {"name": "Jane", "code": None, "text": None, "street": None}], None),
    ("users", "select=name&address->postcode=eq.90210", {}, [{"name": "Michael"}], None),
    ("users", "select=name&address->>street=ilike.*melrose*", {}, [{"name": "Michael"}], None),
    ("issues", "select=id,first:tags->0&id=eq.4", {}, [{"id": 4, "first": "is:closed"}], None),
    ("countries", "select=nicename&nicename=fts.spain", {}, [{"nicename": "Spain"}], None),
    ("countries", "select=nicename&nicename=phfts(english).united+states", {},
     [{"nicename": "United States"}], None),
    ("countries", "select=id&numcode=isdistinct.4&id=lt.5", {}, [{"id": 2}, {"id": 3}, {"id": 4}],
     None),
    ("countries", "select=id,numcode&order=numcode.desc&limit=2", {},
     [{"id": 4, "numcode": None}, {"id": 11, "numcode": 840}], None),
    ("countries", "select=id,numcode&order=numcode.desc.nullslast&limit=1", {},
     [{"id": 11, "numcode": 840}], None),
    ("countries", "select=id,numcode&order=numcode.asc&offset=10", {},
     [{"id": 11, "numcode": 840}, {"id": 4, "numcode": None}], None),
]  # fmt: skip


@pytest.mark.parametrize(("table", "query_string", "options", "expected", "total"), READS)
def test_read(
    db: Database,
    table: str,
    query_string: str,
    options: dict[str, Any],
    expected: Any,
    total: int | None,
) -> None:
    result = db.get(table, query_string, **options)
    assert result.data == expected
    assert result.total == total


RPCS: list[tuple[str, dict[str, Any], str, dict[str, Any], Any, int | None]] = [
    ("list_stored_countries", {}, "select=nicename,country_name,iso&nicename=eq.Albania",
     {"single": True}, {"nicename": "Albania", "country_name": "ALBANIA", "iso": "AL"}, None),
    ("list_stored_countries", {}, "select=nicename,country_name,iso&nicename=eq.Albania&limit=1",
     {}, [{"nicename": "Albania", "country_name": "ALBANIA", "iso": "AL"}], None),
    ("list_stored_countries", {}, "select=nicename,iso&offset=1&limit=2", {},
     [{"nicename": "Albania", "iso": "AL"}, {"nicename": "Algeria", "iso": "DZ"}], None),
    ("search_countries_by_name", {"search_name": "Alban"}, "select=nicename,iso", {},
     [{"nicename": "Albania", "iso": "AL"}], None),
    ("search_countries_by_name", {"search_name": "Alger"}, "select=nicename,iso", {"post": False},
     [{"nicename": "Algeria", "iso": "DZ"}], None),
    ("search_countries_by_name", {"search_name": "Al"}, "select=nicename",
     {"post": False, "count": "exact"}, [{"nicename": "Albania"}, {"nicename": "Algeria"}], 2),
    ("search_countries_by_name", {"search_name": "Al"}, "", {"count": "exact", "body": False},
     None, 2),
    ("search_countries_by_name", {"search_name": "united"},
     "select=iso,cities(name)&cities.limit=1", {},
     [{"iso": "GB", "cities": [{"name": "London"}]}, {"iso": "US", "cities": [{"name": "Miami"}]}],
     None),
]  # fmt: skip


@pytest.mark.parametrize(("function", "args", "query_string", "options", "expected", "total"), RPCS)
def test_rpc(
    db: Database,
    function: str,
    args: dict[str, Any],
    query_string: str,
    options: dict[str, Any],
    expected: Any,
    total: int | None,
) -> None:
    result = db.rpc(function, args, query_string, **options)
    assert result.data == expected
    assert result.total == total


ERRORS = [
    ("countries", "select=idx", "42703", "column countries.idx does not exist"),
    ("countries", "id=eq.abc", "22P02", 'invalid input syntax for type bigint: "abc"'),
    ("countries", "numcode=eq.1.5", "22P02", 'invalid input syntax for type smallint: "1.5"'),
    ("countriez", "", "PGRST205",
     "Could not find the table 'public.countriez' in the schema cache"),
    ("countries", "select=*,users(*)", "PGRST200",
     "Could not find a relationship between 'countries' and 'users' in the schema cache"),
    ("countries", "cities.name=eq.x", "PGRST108",
     "'cities' is not an embedded resource in this request"),
    ("cities", "select=*,countries(*)&order=countries(x).desc", "42703",
     "column countries_1.x does not exist"),
    ("countries", "select=*,cities(*)&order=cities(name)", "PGRST118",
     "A related order on 'cities' is not possible"),
    ("countries", "id=like.1*", "42883", "operator does not exist: bigint ~~ unknown"),
    ("countries", "iso=cs.{a}", "42883", "operator does not exist: character @> unknown"),
    ("issues", "tags=sl.{a}", "42883", "operator does not exist: text[] << unknown"),
    ("countries", "numcode=is.true", "42804",
     "argument of IS TRUE must be type boolean, not type smallint"),
    ("countries", "nicename=fts.a+%26+(", "42601", 'syntax error in tsquery: "a & ("'),
    ("countries", "nicename=match.(", "2201B", "invalid regular expression: missing ), unterminated"
     " subpattern at position 0"),
    ("countries", "select=id::nope", "42704", 'type "nope" does not exist'),
    ("countries", "select=nicename.sum()", "42883",
     "function sum(character varying) does not exist"),
    ("users", "address->a=eq.{bad", "22P02", 'invalid input syntax for type json: "{bad"'),
]  # fmt: skip


@pytest.mark.parametrize(("table", "query_string", "code", "message"), ERRORS)
def test_errors(db: Database, table: str, query_string: str, code: str, message: str) -> None:
    assert error_of(lambda: db.get(table, query_string)) == (code, message)


def test_table_hint_suggests_the_closest_table(db: Database) -> None:
    from test_compile_support import SERVICE

    from performer_edge.errors import NotFound

    with pytest.raises(NotFound) as raised:
        compile_read("countrie", query(""), db.catalog, SERVICE)
    assert raised.value.hint == "Perhaps you meant the table 'public.countries'"
    with pytest.raises(NotFound) as unrelated:
        compile_read("zzz", query(""), db.catalog, SERVICE)
    assert unrelated.value.hint is None


@pytest.mark.parametrize(
    ("offset", "page_count", "total", "content_range", "status"),
    [
        (0, 10, 100, "0-9/100", 206),
        (0, 2, None, "0-1/*", 200),
        (0, 0, 0, "*/0", 200),
        (0, 12, 12, "0-11/12", 200),
        (20, 0, 12, "*/12", 416),
        (10, 2, 12, "10-11/12", 206),
    ],
)
def test_content_range(
    db: Database, offset: int, page_count: int, total: int | None, content_range: str, status: int
) -> None:
    compiled = compile_read("countries", query(f"offset={offset}"), db.catalog, _service())
    assert compiled.content_range(page_count, total) == content_range
    assert compiled.status(page_count, total) == status


def test_range_error_has_postgrest_details(db: Database) -> None:
    compiled = compile_read("countries", query("offset=20"), db.catalog, _service())
    error = compiled.range_error(12)
    assert (error.error_code, error.http_status) == ("PGRST103", 416)
    assert error.details == "An offset of 20 was requested, but there are only 12 rows."


def test_single_with_several_rows_gives_no_body(db: Database) -> None:
    result = db.get("countries", "select=id&id=lt.3", single=True)
    assert (result.data, result.page_count) == (None, 2)


def test_head_computes_counts_without_a_body(db: Database) -> None:
    result = db.get("countries", "select=id&id=lt.3", count="exact", body=False)
    assert (result.data, result.page_count, result.total) == (None, 2, 2)


def _service() -> Any:
    from test_compile_support import SERVICE

    return SERVICE
