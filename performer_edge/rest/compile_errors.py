"""The PostgREST and Postgres errors the query compiler raises, worded as PostgREST words them.

Pure constructors of `performer_edge.errors` types; `http/wire.py` maps codes to statuses.
"""

from __future__ import annotations

from collections.abc import Iterable

from performer_edge.errors import Forbidden, InvalidInput, NotFound, PerformerError, Unauthorized

SCHEMA = "public"
# PostgREST suggests a name when its fuzzy score is at least this (Error.hs: getFuzzyHint).
_MIN_SIMILARITY = 0.75
BIGINT_MAX = 2**63 - 1


def bigint_out_of_range() -> InvalidInput:
    """Postgres 22003, e.g. for a `limit`, `offset` or `Range` past a bigint."""
    return InvalidInput("bigint out of range", code="22003")


def undefined_column(label: str, column: str) -> InvalidInput:
    """Postgres 42703, as PostgREST passes it on for select, filters and order."""
    return InvalidInput(f"column {label}.{column} does not exist", code="42703")


def unknown_body_column(table: str, column: str) -> InvalidInput:
    return InvalidInput(
        f"Could not find the '{column}' column of '{table}' in the schema cache", code="PGRST204"
    )


def table_not_found(schema: str, name: str, known: Iterable[str]) -> NotFound:
    suggestion = closest_name(name, known)
    hint = None if suggestion is None else f"Perhaps you meant the table '{schema}.{suggestion}'"
    return NotFound(
        f"Could not find the table '{schema}.{name}' in the schema cache",
        code="PGRST205",
        hint=hint,
    )


def no_relationship(
    parent: str, child: str, hint: str | None, parent_known: bool, names: Iterable[str]
) -> InvalidInput:
    """PGRST200. `names`: the tables related to `parent` when it is known, else all tables."""
    using = "" if hint is None else f"' using the hint '{hint}"
    suggestion: str | None = None
    wrong = child if parent_known else parent
    candidates = [n for n in names if n != child] if parent_known else list(names)
    if not (parent_known and child in set(names)):
        suggestion = closest_name(wrong, candidates)
    return InvalidInput(
        f"Could not find a relationship between '{parent}' and '{child}' in the schema cache",
        code="PGRST200",
        details=(
            f"Searched for a foreign key relationship between '{parent}' and '{child}{using}'"
            f" in the schema '{SCHEMA}', but no matches were found."
        ),
        hint=None
        if suggestion is None
        else f"Perhaps you meant '{suggestion}' instead of '{wrong}'.",
    )


def ambiguous_relationship(
    parent: str, child: str, details: list[dict[str, str]], hints: list[str]
) -> InvalidInput:
    """PGRST201 (HTTP 300): `details` lists the candidate relationships."""
    return InvalidInput(
        f"Could not embed because more than one relationship was found for '{parent}' and"
        f" '{child}'",
        code="PGRST201",
        details=details,
        hint=(
            f"Try changing '{child}' to one of the following: {', '.join(hints)}. "
            "Find the desired relationship in the 'details' key."
        ),
    )


def not_embedded(name: str) -> InvalidInput:
    return InvalidInput(
        f"'{name}' is not an embedded resource in this request",
        code="PGRST108",
        hint=f"Verify that '{name}' is included in the 'select' query parameter.",
    )


def related_order_not_to_one(origin: str, target: str) -> InvalidInput:
    return InvalidInput(
        f"A related order on '{target}' is not possible",
        code="PGRST118",
        details=f"'{origin}' and '{target}' do not form a many-to-one or one-to-one relationship",
    )


def undefined_operator(type_name: str, operator: str) -> InvalidInput:
    """Postgres 42883 (PostgREST answers 404 for it)."""
    return InvalidInput(
        f"operator does not exist: {type_name} {operator} unknown",
        code="42883",
        hint="No operator matches the given name and argument types."
        " You might need to add explicit type casts.",
    )


def undefined_function(signature: str) -> InvalidInput:
    return InvalidInput(
        f"function {signature} does not exist",
        code="42883",
        hint="No function matches the given name and argument types."
        " You might need to add explicit type casts.",
    )


def undefined_type(name: str) -> InvalidInput:
    return InvalidInput(f'type "{name}" does not exist', code="42704")


def cannot_cast(source: str, target: str) -> InvalidInput:
    return InvalidInput(f"cannot cast type {source} to {target}", code="42846")


def wrong_type(message: str) -> InvalidInput:
    return InvalidInput(message, code="42804")


def function_not_found(
    name: str, argument_names: list[str], known: Iterable[str], *, post: bool
) -> NotFound:
    """PGRST202 for an RPC whose name or arguments match no function."""
    shown = ", ".join(sorted(argument_names))
    signature = f"{SCHEMA}.{name}"
    listed = f"({shown})" if argument_names else " without parameters"
    if argument_names:
        plural = "s" if len(argument_names) > 1 else ""
        searched = f" with parameter{plural} {shown}"
    else:
        searched = " without parameters"
    if post:
        searched += " or with a single unnamed json/jsonb parameter"
    suggestion = closest_name(name, [k for k in known if k != name])
    return NotFound(
        f"Could not find the function {signature}{listed} in the schema cache",
        code="PGRST202",
        details=f"Searched for the function {signature}{searched},"
        " but no matches were found in the schema cache.",
        hint=None
        if suggestion is None
        else f"Perhaps you meant to call the function {SCHEMA}.{suggestion}",
    )


def policy_recursion(table: str) -> PerformerError:
    """Postgres 42P17 (PostgREST answers 500 for it)."""
    return PerformerError(
        f'infinite recursion detected in policy for relation "{table}"', code="42P17"
    )


def row_security_violation(table: str, role: str, *, using: bool = False) -> PerformerError:
    """42501 after a write whose new row fails `with check` (`using`: an upsert whose existing
    row fails the UPDATE or SELECT policies): 401 for anon, 403 otherwise."""
    expression = " (USING expression)" if using else ""
    message = f'new row violates row-level security policy{expression} for table "{table}"'
    if role == "anon":
        return Unauthorized(message, code="42501")
    return Forbidden(message, code="42501")


def closest_name(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `name` (Levenshtein similarity >= 0.75), as PostgREST hints."""
    best, best_score = None, _MIN_SIMILARITY
    for candidate in candidates:
        score = _similarity(name.lower(), candidate.lower())
        if score >= best_score and (best is None or score > best_score):
            best, best_score = candidate, score
    return best


def _similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    return 1.0 - _levenshtein(a, b) / max(len(a), len(b))


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]
