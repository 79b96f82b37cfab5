"""`Prefer`, `Accept` and `Range` as the clients send them (supabase-wire.md §1.1)."""

from __future__ import annotations

import pytest

from performer_edge.rest.query import (
    Preferences,
    QueryParseError,
    ResponseFormat,
    parse_accept,
    parse_prefer,
    parse_range_header,
)
from performer_edge.rest.query_ast import Paging
from performer_edge.rest.query_headers import ResponseKind

PREFERS = [
    ([], Preferences()),
    (["return=representation"], Preferences(returning="representation")),
    # py joins with "," (no space); js Headers.append yields ", "; several lines may arrive
    (
        ["return=representation,count=exact,missing=default"],
        Preferences(returning="representation", count="exact", missing="default"),
    ),
    (
        ["count=planned, return=minimal", "resolution=merge-duplicates"],
        Preferences(returning="minimal", count="planned", resolution="merge-duplicates"),
    ),
    (
        ["return=headers-only,resolution=ignore-duplicates,count=estimated"],
        Preferences(returning="headers-only", count="estimated", resolution="ignore-duplicates"),
    ),
    (
        ["handling=strict,max-affected=5"],
        Preferences(handling="strict", max_affected=5),
    ),
    (["tx=rollback"], Preferences(tx="rollback")),
    (["tx=commit, params=single-object"], Preferences(tx="commit", params="single-object")),
    (["timezone=America/Los_Angeles"], Preferences(timezone="America/Los_Angeles")),
    (["missing=null"], Preferences(missing="null")),
    # the first valid value wins, within a line and across lines
    (["tx=commit, tx=rollback"], Preferences(tx="commit")),
    (["return=minimal", "return=representation"], Preferences(returning="minimal")),
    (["return=bogus,return=minimal"], Preferences(returning="minimal", invalid=("return=bogus",))),
    (
        ["count=exact,    tx=commit   ,return=representation , missing=default, anything"],
        Preferences(
            returning="representation",
            count="exact",
            missing="default",
            tx="commit",
            invalid=("anything",),
        ),
    ),
    (
        ["handling=lenient, invalid, max-affected=x"],
        Preferences(handling="lenient", invalid=("invalid", "max-affected=x")),
    ),
    (["", " , "], Preferences()),
]


@pytest.mark.parametrize(("lines", "expected"), PREFERS, ids=[repr(p[0]) for p in PREFERS])
def test_prefer(lines: list[str], expected: Preferences) -> None:
    assert parse_prefer(lines) == expected


def test_strict_handling_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_prefer(["handling=strict, anything", "max-affected=-1, return=representation"])
    error = caught.value
    assert (error.error_code, error.http_status) == ("PGRST122", 400)
    assert error.message == "Invalid preferences given with handling=strict"
    assert error.details == "Invalid preferences: anything, max-affected=-1"
    with pytest.raises(QueryParseError, match="handling=strict"):
        parse_prefer(["return=everything", "handling=strict"])
    assert parse_prefer(["handling=lenient, handling=strict, nope"]).invalid == ("nope",)


ACCEPTS = [
    (None, ResponseFormat("json")),
    ("", ResponseFormat("json")),
    ("*/*", ResponseFormat("json")),  # py's httpx default
    ("application/json", ResponseFormat("json")),
    ("application/vnd.pgrst.object+json", ResponseFormat("object")),
    ("ApplicatIon/vnd.PgRsT.object+json", ResponseFormat("object")),
    ("application/vnd.pgrst.object", ResponseFormat("object")),
    ("text/csv", ResponseFormat("csv")),
    ("application/vnd.pgrst.array+json;nulls=stripped", ResponseFormat("json", strip_nulls=True)),
    ("application/vnd.pgrst.array+json", ResponseFormat("json")),
    (
        "application/vnd.pgrst.object+json;nulls=stripped",
        ResponseFormat("object", strip_nulls=True),
    ),
    (
        "application/vnd.pgrst.plan+text; options=analyze|verbose",
        ResponseFormat("plan", plan_options=("analyze", "verbose")),
    ),
    (
        'application/vnd.pgrst.plan+text; for="application/json"; options=analyze;',
        ResponseFormat("plan", plan_options=("analyze",)),
    ),
    (
        'application/vnd.pgrst.plan+json; for="text/csv"',
        ResponseFormat("plan", plan_format="json", plan_for="text/csv"),
    ),
    ("text/html, */*;q=0.8", ResponseFormat("json")),
    ("text/csv;q=0.5, application/json", ResponseFormat("json")),
    ("application/json;q=0.5, text/csv", ResponseFormat("csv")),
    ("text/csv;q=0, application/json;q=0.1", ResponseFormat("json")),
]


@pytest.mark.parametrize(("header", "expected"), ACCEPTS, ids=[repr(a[0]) for a in ACCEPTS])
def test_accept(header: str | None, expected: ResponseFormat) -> None:
    assert parse_accept(header) == expected


def test_the_root_offers_openapi_first() -> None:
    offered: tuple[ResponseKind, ...] = ("openapi", "json")
    assert parse_accept("*/*", offered) == ResponseFormat("openapi")
    assert parse_accept("application/openapi+json", offered) == ResponseFormat("openapi")
    assert parse_accept("application/json", offered) == ResponseFormat("json")


def test_unsupported_media_types_are_pgrst107() -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_accept("text/html, application/xhtml+xml;q=0.9")
    error = caught.value
    assert (error.error_code, error.http_status) == ("PGRST107", 406)
    assert (
        error.message == "None of these media types are available: text/html, application/xhtml+xml"
    )
    with pytest.raises(QueryParseError) as caught:
        parse_accept("application/vnd.pgrst.plan+json", offered=("json",))
    assert caught.value.message == (
        "None of these media types are available: "
        'application/vnd.pgrst.plan+json; for="application/json"'
    )


def test_mime_names_the_response() -> None:
    assert ResponseFormat("json").mime == "application/json"
    assert (
        ResponseFormat("json", strip_nulls=True).mime
        == "application/vnd.pgrst.array+json;nulls=stripped"
    )
    assert ResponseFormat("object").mime == "application/vnd.pgrst.object+json"
    assert ResponseFormat("csv").mime == "text/csv"
    assert ResponseFormat("openapi").mime == "application/openapi+json"
    assert ResponseFormat("plan", plan_options=("analyze",)).mime == (
        'application/vnd.pgrst.plan+text; for="application/json"; options=analyze'
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0-9", Paging(0, 10)),
        ("items=0-9", Paging(0, 10)),
        ("5-5", Paging(5, 1)),
        ("10-", Paging(10)),
        (None, None),
        ("", None),
        ("-9", None),
        ("a-b", None),
        ("0-9,20-29", None),
    ],
)
def test_range_header(header: str | None, expected: Paging | None) -> None:
    assert parse_range_header(header) == expected


def test_a_range_ending_before_it_starts_is_416() -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_range_header("9-0")
    error = caught.value
    assert (error.error_code, error.http_status) == ("PGRST103", 416)
    assert error.message == "Requested range not satisfiable"
    assert error.details == (
        "The lower boundary must be lower than or equal to the upper boundary in the Range header."
    )
