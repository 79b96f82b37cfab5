"""`select=`: every form of supabase-wire.md §1.2, and PostgREST's error text for bad ones."""

from __future__ import annotations

import pytest

from performer_edge.errors import InvalidInput
from performer_edge.rest.query import QueryParseError, parse_select
from performer_edge.rest.query_ast import (
    Field,
    JsonStep,
    SelectColumn,
    SelectCount,
    SelectEmbed,
    SelectSpread,
    SelectStar,
)


def col(name: str, **parts: object) -> SelectColumn:
    return SelectColumn(Field(name), **parts)  # type: ignore[arg-type]


NAME = col("name")

VALID = [
    ("*", [SelectStar()]),
    ("", []),
    ("id", [col("id")]),
    ("id,name", [col("id"), NAME]),
    ("alias:col", [col("col", alias="alias")]),
    ("col::text", [col("col", cast="text")]),
    ("alias:col::text", [col("col", alias="alias", cast="text")]),
    ("price::double precision", [col("price", cast="double precision")]),
    (
        "col->a->>b",
        [SelectColumn(Field("col", (JsonStep("->", "a"), JsonStep("->>", "b"))))],
    ),
    ("data->0", [SelectColumn(Field("data", (JsonStep("->", 0),)))]),
    ("data->-1->>x", [SelectColumn(Field("data", (JsonStep("->", -1), JsonStep("->>", "x"))))]),
    ('data->"a.b"', [SelectColumn(Field("data", (JsonStep("->", "a.b"),)))]),
    ("data->1abc", [SelectColumn(Field("data", (JsonStep("->", "1abc"),)))]),
    ('"my col"', [col("my col")]),
    ('"a\\"b"', [col('a"b')]),
    ("first-name", [col("first-name")]),
    ("cities(name)", [SelectEmbed("cities", (NAME,))]),
    ("cities()", [SelectEmbed("cities", ())]),
    ("city:cities(name)", [SelectEmbed("cities", (NAME,), alias="city")]),
    ("cities!fk_city(name)", [SelectEmbed("cities", (NAME,), hint="fk_city")]),
    ("cities!inner(name)", [SelectEmbed("cities", (NAME,), join="inner")]),
    ("cities!left(name)", [SelectEmbed("cities", (NAME,), join="left")]),
    ("cities!fk!inner(name)", [SelectEmbed("cities", (NAME,), hint="fk", join="inner")]),
    ("cities!inner!fk(name)", [SelectEmbed("cities", (NAME,), hint="fk", join="inner")]),
    ('cities!"inner"(name)', [SelectEmbed("cities", (NAME,), hint="inner")]),
    ("...cities(name)", [SelectSpread("cities", (NAME,))]),
    ("...cities!fk!inner(name)", [SelectSpread("cities", (NAME,), hint="fk", join="inner")]),
    (
        "*,a(*,b!inner(c:d,...e(f)))",
        [
            SelectStar(),
            SelectEmbed(
                "a",
                (
                    SelectStar(),
                    SelectEmbed(
                        "b",
                        (col("d", alias="c"), SelectSpread("e", (col("f"),))),
                        join="inner",
                    ),
                ),
            ),
        ],
    ),
    ("count()", [SelectCount()]),
    ("total:count()", [SelectCount(alias="total")]),
    ("count()::int", [SelectCount(cast="int")]),
    ('"count"(id)', [SelectEmbed("count", (col("id"),))]),
    ("count", [col("count")]),
    ("amount.sum()", [col("amount", aggregate="sum")]),
    ("amount.avg()", [col("amount", aggregate="avg")]),
    ("amount.min()", [col("amount", aggregate="min")]),
    ("amount.max()", [col("amount", aggregate="max")]),
    ("amount.count()", [col("amount", aggregate="count")]),
    ("amount.sum()::int", [col("amount", aggregate="sum", aggregate_cast="int")]),
    (
        "total:amount::numeric.avg()",
        [col("amount", alias="total", cast="numeric", aggregate="avg")],
    ),
    # Blanks outside quotes are ignored (clients strip them; PostgREST skips them).
    (" id , name ", [col("id"), NAME]),
    ("alias : col :: text", [col("col", alias="alias", cast="text")]),
    ("cities ( name ) , * ", [SelectEmbed("cities", (NAME,)), SelectStar()]),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t or "<empty>" for t, _ in VALID])
def test_select_forms(text: str, expected: list[object]) -> None:
    assert parse_select(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("col->a->>b", "b"),
        ("data->0", "data"),
        ("data->1->mycol->>2", "mycol"),
        ("alias:data->a", "alias"),
        ("amount.sum()", "sum"),
        ("n:amount.sum()", "n"),
        ("count()", "count"),
        ("c:count()", "c"),
        ("a:cities(name)", "a"),
        ("cities(name)", "cities"),
    ],
)
def test_output_key_is_the_alias_else_the_last_json_key(text: str, key: str) -> None:
    (item,) = parse_select(text)
    assert item.output_key == key  # type: ignore[union-attr]


# Message and details exactly as PostgREST 13 answers (its doctests and test suite).
ERRORS = [
    (
        "id,clients(name[])",
        16,
        'unexpected \'[\' expecting letter, digit, "-", "->>", "->", "::", ".", ")", "," or end '
        "of input",
    ),
    (
        "data->(!@#$%^&*_d->>!@#$%^&*_e::integer",
        7,
        'unexpected "(" expecting "-", digit or any non reserved character different from: .,>()',
    ),
    ("data->>--34", 9, 'unexpected "-" expecting digit'),
    (
        "name!hint",
        5,
        'unexpected \'!\' expecting letter, digit, "-", "->>", "->", "::", ".", ")", "," or end '
        "of input",
    ),
    ("*!hint", 2, 'unexpected \'!\' expecting ")", "," or end of input'),
    ("name::", 7, "unexpected end of input expecting letter or digit"),
    # PostgREST lists digit, "->", "::", ".", "," here; ")" is ours (an index may end an embed).
    (
        "data->>-78xy",
        11,
        'unexpected \'x\' expecting digit, "->", "::", ".", ",", ")" or end of input',
    ),
]


@pytest.mark.parametrize(("text", "column", "details"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_read_like_postgrest(text: str, column: int, details: str) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_select(text)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.error_code == "PGRST100"
    assert error.http_status == 400
    assert error.message == f'"failed to parse select parameter ({text})" (line 1, column {column})'
    assert error.details == details


@pytest.mark.parametrize(
    "text",
    [
        "id,",
        ",id",
        "id)",
        "cities(name",
        "cities(name))",
        "a:",
        ":a",
        "col::int::text",
        "amount.sum",
        "amount.median()",
        "cities!a!b(name)",
        "cities!inner!left(name)",
        "alias:...cities(name)",
        '"unterminated',
        "a(" * 200 + ")" * 200,
    ],
)
def test_malformed_select_is_refused(text: str) -> None:
    with pytest.raises(QueryParseError, match="failed to parse select parameter"):
        parse_select(text)


def test_messages_quote_the_input_as_postgrest_shows_it() -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_select('é"x\n)')
    assert caught.value.message == (
        '"failed to parse select parameter (\\233\\"x\\n))" (line 1, column 2)'
    )
