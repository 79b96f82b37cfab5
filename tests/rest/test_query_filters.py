"""Filters and logic trees: every row of supabase-wire.md §1.2, as the clients emit them."""

from __future__ import annotations

import pytest

from performer_edge.rest.query import (
    QueryParseError,
    like_pattern,
    parse_array_literal,
    parse_filter,
)
from performer_edge.rest.query_ast import (
    Compare,
    Condition,
    Field,
    Filter,
    FullTextSearch,
    In,
    Is,
    JsonStep,
    LogicTree,
    Operation,
    Predicate,
    Quantified,
)


def on(column: str, operation: Operation, *, negated: bool = False) -> Filter:
    return Filter(Condition(Field(column), operation, negated))


def cond(column: str, operation: Operation, *, negated: bool = False) -> Condition:
    return Condition(Field(column), operation, negated)


CONDITIONS = [
    # eq neq gt gte lt lte; py: None→null, bool→true, dict→compact JSON, else str()
    ("id", "eq.1", on("id", Compare("eq", "1"))),
    ("a", "eq.null", on("a", Compare("eq", "null"))),
    ("b", "eq.true", on("b", Compare("eq", "true"))),
    ("c", 'eq.{"k":[1,2]}', on("c", Compare("eq", '{"k":[1,2]}'))),
    ("d", "eq.x y", on("d", Compare("eq", "x y"))),
    ("d", "eq.", on("d", Compare("eq", ""))),
    ("d", "eq.a,b(c)", on("d", Compare("eq", "a,b(c)"))),  # top-level values are unparsed
    ('"e:f"', "eq.1", on("e:f", Compare("eq", "1"))),  # py quotes keys with ,:()"\
    ("id", "neq.1", on("id", Compare("neq", "1"))),
    ("id", "gt.1", on("id", Compare("gt", "1"))),
    ("id", "gte.1", on("id", Compare("gte", "1"))),
    ("id", "lt.1", on("id", Compare("lt", "1"))),
    ("id", "lte.1", on("id", Compare("lte", "1"))),
    # like ilike (* is %), quantified forms
    ("n", "like.*an*", on("n", Compare("like", "*an*"))),
    ("n", "ilike.%a*", on("n", Compare("ilike", "%a*"))),
    ("n", "like(any).{a*,*b}", on("n", Quantified("like", "any", ("a*", "*b")))),
    ("n", "like(all).{a*,*b}", on("n", Quantified("like", "all", ("a*", "*b")))),
    ("n", "ilike(any).{a*}", on("n", Quantified("ilike", "any", ("a*",)))),
    ("n", "ilike(all).{a*,*b}", on("n", Quantified("ilike", "all", ("a*", "*b")))),
    ("id", "eq(any).{1,2,3}", on("id", Quantified("eq", "any", ("1", "2", "3")))),
    ("id", "gt(all).{1, 2}", on("id", Quantified("gt", "all", ("1", "2")))),
    ("id", "gte(any).{}", on("id", Quantified("gte", "any", ()))),
    ("id", "lt(any).{1}", on("id", Quantified("lt", "any", ("1",)))),
    ("id", "lte(all).{1}", on("id", Quantified("lte", "all", ("1",)))),
    ("n", 'match(any).{"^a,b",NULL}', on("n", Quantified("match", "any", ("^a,b", None)))),
    ("n", "imatch(all).{^a}", on("n", Quantified("imatch", "all", ("^a",)))),
    # match imatch
    ("w", "match.^a", on("w", Compare("match", "^a"))),
    ("w", "imatch.^a", on("w", Compare("imatch", "^a"))),
    # is (case-insensitive), isdistinct
    ("x", "is.null", on("x", Is("null"))),
    ("x", "is.NULL", on("x", Is("null"))),
    ("x", "is.Not_Null", on("x", Is("not_null"))),
    ("x", "is.true", on("x", Is("true"))),
    ("x", "is.FALSE", on("x", Is("false"))),
    ("x", "is.unknown", on("x", Is("unknown"))),
    ("y", "not.is.null", on("y", Is("null"), negated=True)),
    ("v", "isdistinct.3", on("v", Compare("isdistinct", "3"))),
    # in: js quotes only values containing ,(); py quotes ,:()"\ and escapes
    ("a", 'in.(a,"b,c")', on("a", In(("a", "b,c")))),
    ("a", 'in.("a,b",c d,"q\\"x")', on("a", In(("a,b", "c d", 'q"x')))),
    ("a", "in.(1,2)", on("a", In(("1", "2")))),
    ("a", "in.()", on("a", In(()))),
    ("a", 'in.("")', on("a", In(("",)))),
    ("a", "in.(a,)", on("a", In(("a", "")))),
    ("a", 'in.("a"b,c)', on("a", In(('"a"b', "c")))),  # a quote not ending the item is literal
    ("a", "in.( a,b )", on("a", In(("a", "b ")))),
    ("z", "not.in.(1,2)", on("z", In(("1", "2")), negated=True)),
    # cs cd ov: arrays, JSON, ranges, all kept raw for the compiler
    ("tags", "cs.{a,b}", on("tags", Compare("cs", "{a,b}"))),
    ("tags", 'cs.{"x y","{z}"}', on("tags", Compare("cs", '{"x y","{z}"}'))),
    ("j", 'cs.{"k":1}', on("j", Compare("cs", '{"k":1}'))),
    ("j", 'cs.{"k": 1}', on("j", Compare("cs", '{"k": 1}'))),
    ("r", "cs.[1,2)", on("r", Compare("cs", "[1,2)"))),
    ("tags", "cd.{a}", on("tags", Compare("cd", "{a}"))),
    ("tags", "ov.{a,b}", on("tags", Compare("ov", "{a,b}"))),
    ("r", "ov.[1,2)", on("r", Compare("ov", "[1,2)"))),
    # range operators: raw strings (js) and py tuples
    ("r", "sl.(1,2)", on("r", Compare("sl", "(1,2)"))),
    (
        "during",
        "sr.[2000-01-02 08:00, 2000-01-02 09:00)",
        on("during", Compare("sr", "[2000-01-02 08:00, 2000-01-02 09:00)")),
    ),
    ("r", "nxl.[1,2)", on("r", Compare("nxl", "[1,2)"))),
    ("r", "nxr.[1,2)", on("r", Compare("nxr", "[1,2)"))),
    ("r", "adj.(1,2]", on("r", Compare("adj", "(1,2]"))),
    # full text search with and without a config
    ("t", "fts.cat", on("t", FullTextSearch("fts", "cat"))),
    ("t", "plfts.fat cat", on("t", FullTextSearch("plfts", "fat cat"))),
    ("t", "phfts(english).fat cat", on("t", FullTextSearch("phfts", "fat cat", "english"))),
    ("t", "wfts(english).the cat", on("t", FullTextSearch("wfts", "the cat", "english"))),
    ("t", "fts(english).the cat", on("t", FullTextSearch("fts", "the cat", "english"))),
    ("t", "not.fts.cat", on("t", FullTextSearch("fts", "cat"), negated=True)),
    # keys: JSON paths, embedded resources, quoted names
    (
        "data->>k",
        "eq.1",
        Filter(Condition(Field("data", (JsonStep("->>", "k"),)), Compare("eq", "1"))),
    ),
    (
        "data->a->0",
        "eq.1",
        Filter(
            Condition(Field("data", (JsonStep("->", "a"), JsonStep("->", 0))), Compare("eq", "1"))
        ),
    ),
    ("cities.name", "eq.x", Filter(cond("name", Compare("eq", "x")), ("cities",))),
    ("a.b.c", "is.null", Filter(cond("c", Is("null")), ("a", "b"))),
    ('"my col"', "eq.1", on("my col", Compare("eq", "1"))),
    ("my col", "eq.1", on("my col", Compare("eq", "1"))),
]


@pytest.mark.parametrize(
    ("key", "value", "expected"), CONDITIONS, ids=[f"{k}={v}" for k, v, _ in CONDITIONS]
)
def test_conditions(key: str, value: str, expected: Filter) -> None:
    assert parse_filter(key, value) == expected


def eq(column: str, value: str) -> Condition:
    return cond(column, Compare("eq", value))


def tree(operator: str, *children: Predicate, negated: bool = False) -> LogicTree:
    return LogicTree(operator, children, negated)  # type: ignore[arg-type]


B_GT_2, C_LT_3 = cond("b", Compare("gt", "2")), cond("c", Compare("lt", "3"))
SR_VALUE = "[2000-01-02 08:00, 2000-01-02 09:00)"
TREES = [
    (
        "or",
        "(a.eq.1,and(b.gt.2,c.lt.3))",
        Filter(tree("or", eq("a", "1"), tree("and", B_GT_2, C_LT_3))),
    ),
    (
        "or",
        "(a.eq.1,and(b.gt.2,c.lt.3),not.and(d.is.null,e.in.(1,2)))",
        Filter(
            tree(
                "or",
                eq("a", "1"),
                tree("and", B_GT_2, C_LT_3),
                tree("and", cond("d", Is("null")), cond("e", In(("1", "2"))), negated=True),
            )
        ),
    ),
    ("and", "(a.eq.1)", Filter(tree("and", eq("a", "1")))),
    ("not.or", "(a.eq.1,b.eq.2)", Filter(tree("or", eq("a", "1"), eq("b", "2"), negated=True))),
    ("not.and", "(a.eq.1)", Filter(tree("and", eq("a", "1"), negated=True))),
    ("cities.or", "(name.eq.x)", Filter(tree("or", eq("name", "x")), ("cities",))),
    ("rel.not.and", "(a.eq.1)", Filter(tree("and", eq("a", "1"), negated=True), ("rel",))),
    # blanks around ( , ) are skipped; a raw value keeps its own trailing blanks
    ("or", "( a.eq.1 , b.eq.2 )", Filter(tree("or", eq("a", "1 "), eq("b", "2 ")))),
    (
        "or",
        "(a.eq.1, and ( b.eq.2 ) )",
        Filter(tree("or", eq("a", "1"), tree("and", eq("b", "2 ")))),
    ),
    # values: "quoted" with \ escapes, {…} arrays, or up to , )
    ("or", '(a.eq."x,y)",a.eq."q\\"x")', Filter(tree("or", eq("a", "x,y)"), eq("a", 'q"x')))),
    (
        "or",
        "(tags.cs.{a,b},tags.ov.{c})",
        Filter(
            tree("or", cond("tags", Compare("cs", "{a,b}")), cond("tags", Compare("ov", "{c}")))
        ),
    ),
    (
        "or",
        "(n.like(any).{a*,*b})",
        Filter(tree("or", cond("n", Quantified("like", "any", ("a*", "*b"))))),
    ),
    (
        "or",
        f'(during.sr."{SR_VALUE}")',
        Filter(tree("or", cond("during", Compare("sr", SR_VALUE)))),
    ),
    (
        "or",
        '(a.in.(1,"2,3"),a.not.is.null)',
        Filter(tree("or", cond("a", In(("1", "2,3"))), cond("a", Is("null"), negated=True))),
    ),
    (
        "or",
        "(t.wfts(english).the cat,t.fts.x)",
        Filter(
            tree(
                "or",
                cond("t", FullTextSearch("wfts", "the cat", "english")),
                cond("t", FullTextSearch("fts", "x")),
            )
        ),
    ),
    (
        "or",
        "(data->>k.eq.1)",
        Filter(tree("or", Condition(Field("data", (JsonStep("->>", "k"),)), Compare("eq", "1")))),
    ),
    # a column may be called and / or / not
    (
        "or",
        "(and.eq.1,or.eq.2,not.eq.3)",
        Filter(tree("or", eq("and", "1"), eq("or", "2"), eq("not", "3"))),
    ),
    ("or", "(a.eq.)", Filter(tree("or", eq("a", "")))),
]


@pytest.mark.parametrize(("key", "value", "expected"), TREES, ids=[f"{k}={v}" for k, v, _ in TREES])
def test_logic_trees(key: str, value: str, expected: Filter) -> None:
    assert parse_filter(key, value) == expected


# Message and details exactly as PostgREST answers (its doctests and test suite).
OPERATOR = "expecting operator (eq, gt, ...)"
NOT_OR_OPERATOR = 'expecting "not" or operator (eq, gt, ...)'
FILTER_ERRORS = [
    ("id", "0", "filter (0)", 1, f'unexpected "0" {NOT_OR_OPERATOR}'),
    ("id", "val", "filter (val)", 1, f'unexpected "v" {NOT_OR_OPERATOR}'),
    ("id", "noop.0", "filter (noop.0)", 1, f'unexpected "o" {NOT_OR_OPERATOR}'),
    ("id", "eqq.1", "filter (eqq.1)", 3, f'unexpected "q" {OPERATOR}'),
    ("id", "eq", "filter (eq)", 3, f"unexpected end of input {OPERATOR}"),
    ("id", "fts().value", "filter (fts().value)", 5, f'unexpected ")" {OPERATOR}'),
    ("id", "eq().value", "filter (eq().value)", 4, f'unexpected ")" {OPERATOR}'),
    ("id", "is().value", "filter (is().value)", 3, f'unexpected "(" {OPERATOR}'),
    ("id", "in().value", "filter (in().value)", 3, f'unexpected "(" {OPERATOR}'),
    ("id", "neq(any).{1}", "filter (neq(any).{1})", 4, f'unexpected "(" {OPERATOR}'),
    ("id", "not.xx.1", "filter (not.xx.1)", 5, f'unexpected "x" {OPERATOR}'),
    ("id", "notx.1", "filter (notx.1)", 4, 'unexpected "x" expecting delimiter (.)'),
    ("id", "in.1,2", "filter (in.1,2)", 4, 'unexpected "1" expecting "("'),
    ("id", "in.(1,2", "filter (in.(1,2)", 8, 'unexpected end of input expecting "," or ")"'),
    (
        "id",
        "is.nul",
        "filter (is.nul)",
        7,
        "unexpected end of input expecting isVal: (null, not_null, true, false, unknown)",
    ),
    ("id", "is.nullx", "filter (is.nullx)", 8, "unexpected 'x' expecting end of input"),
    (
        "or",
        "()",
        "logic tree (())",
        4,
        'unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or '
        "logic operator (and, or)",
    ),
    (
        "or",
        "(id.in.1,2,id.eq.3)",
        "logic tree ((id.in.1,2,id.eq.3))",
        10,
        'unexpected "1" expecting "("',
    ),
    ("or", ")(", "logic tree ()()", 3, 'unexpected ")" expecting "("'),
    (
        "and",
        "(ord(id.eq.1,id.eq.1),id.eq.2)",
        "logic tree ((ord(id.eq.1,id.eq.1),id.eq.2))",
        7,
        'unexpected "d" expecting "("',
    ),
    (
        "or",
        "(id.eq.1,not.xor(id.eq.2,id.eq.3))",
        "logic tree ((id.eq.1,not.xor(id.eq.2,id.eq.3)))",
        16,
        'unexpected "x" expecting logic operator (and, or)',
    ),
    ("or", "(a.eqq.1)", "logic tree ((a.eqq.1))", 8, f'unexpected "q" {OPERATOR}'),
    ("or", "(a.eq.1", "logic tree ((a.eq.1)", 10, 'unexpected end of input expecting "," or ")"'),
    ("or", "(a.eq.1)x", "logic tree ((a.eq.1)x)", 11, "unexpected 'x' expecting end of input"),
    (
        "not.or",
        "(a.eq.1",
        "logic tree ((a.eq.1)",
        14,
        'unexpected end of input expecting "," or ")"',
    ),
    (
        "a)",
        "eq.1",
        "tree path (a))",
        2,
        'unexpected \')\' expecting letter, digit, "-", "->>", "->", "." or end of input',
    ),
    (
        "a..or",
        "(b.eq.1)",
        "logic path (a..or)",
        3,
        'unexpected "." expecting field name (* or [a..z0..9_$])',
    ),
]


@pytest.mark.parametrize(
    ("key", "value", "source", "column", "details"),
    FILTER_ERRORS,
    ids=[f"{k}={v}" for k, v, *_ in FILTER_ERRORS],
)
def test_errors_read_like_postgrest(
    key: str, value: str, source: str, column: int, details: str
) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_filter(key, value)
    assert caught.value.error_code == "PGRST100"
    assert caught.value.message == f'"failed to parse {source}" (line 1, column {column})'
    assert caught.value.details == details


def test_a_tab_moves_the_column_to_the_next_stop_as_in_parsec() -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_filter("id", "\tx")
    assert caught.value.message.endswith("(line 1, column 1)")
    with pytest.raises(QueryParseError) as caught:
        parse_filter("or", "(a.eq.1,\tb.eqq.1)")
    assert caught.value.message.endswith("(line 1, column 21)")
    with pytest.raises(QueryParseError) as caught:
        parse_filter("or", "(a.eq.\n1,b.eqq.1)")
    assert caught.value.message.endswith("(line 2, column 7)")


def test_nesting_is_bounded() -> None:
    deep = "(" + "and(" * 150 + "a.eq.1" + ")" * 150 + ")"
    with pytest.raises(QueryParseError, match="logic tree"):
        parse_filter("or", deep)
    shallow = "(" + "and(" * 50 + "a.eq.1" + ")" * 50 + ")"
    assert isinstance(parse_filter("or", shallow).predicate, LogicTree)


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("eq(any).1,2", 'Array value must start with "{" or dimension information.'),
        ("eq(any).{1,2", "Unexpected end of input."),
        ("eq(any).{1,,2}", 'Unexpected "," character.'),
        ("eq(any).{{1},{2}}", 'Unexpected "{" character.'),
        ("eq(any).{1}x", "Junk after closing right brace."),
        ('eq(any).{"a"b}', "Unexpected array element."),
    ],
)
def test_a_quantifier_needs_an_array_literal_as_postgres_does(value: str, detail: str) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_filter("id", value)
    assert caught.value.error_code == "22P02"
    assert caught.value.message == f'malformed array literal: "{value.split(".", 1)[1]}"'
    assert caught.value.details == detail


@pytest.mark.parametrize(
    ("literal", "elements"),
    [
        ("{}", ()),
        (" { } ", ()),
        ("{a,b}", ("a", "b")),
        ("{ a , b c }", ("a", "b c")),
        ('{"x y","{z}",NULL,null,"NULL",""}', ("x y", "{z}", None, None, "NULL", "")),
        ('{"q\\"\\\\",a\\,b}', ('q"\\', "a,b")),
        ("{a\\ }", ("a ",)),
    ],
)
def test_array_literals_follow_postgres(literal: str, elements: tuple[str | None, ...]) -> None:
    assert parse_array_literal(literal) == elements


def test_star_is_the_like_wildcard() -> None:
    assert like_pattern("*an*") == "%an%"
    assert like_pattern("%a_") == "%a_"
