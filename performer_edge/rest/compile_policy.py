"""Row-level security: the predicates a role's policies put on a table, compiled into the SQL.

Pure. A table read under policies becomes `(SELECT rowid AS pe_rowid, * FROM "t" WHERE
<policies>)`: the policy text names its table by the SQLite name and its columns bare, exactly
as they resolve inside that subquery, so no policy is ever re-aliased. Policy text is rewritten
once per (catalog, role) with sqlglot: `auth_uid()`, `auth_role()`, `auth_jwt()` become the
parameters `:auth_uid`, `:auth_role`, `:auth_jwt` (bound from the request, so SQLite can use an
index on `user_id = auth.uid()`), and tables the policy's subqueries read get their own SELECT
policies, as in Postgres. A subquery that is the inlined body of a `security definer` function
keeps its unrestricted reads (that is how Supabase policies avoid recursion); a policy that
needs its own table's policies again is Postgres' 42P17.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlglot
from sqlglot import exp

from performer_edge.rest.catalog import Catalog, Policy, PolicyCommand, ReturnKind, Table
from performer_edge.rest.compile_context import AUTH_PARAMETERS, RequestContext
from performer_edge.rest.compile_errors import policy_recursion
from performer_edge.rest.compile_sql import ROWID_COLUMN, quote_name
from performer_edge.rest.migrate_runtime import AUTH_JWT, AUTH_ROLE, AUTH_UID, REALTIME_TOPIC

FALSE = "0"
_AUTH_CALLS = dict(
    zip((AUTH_UID, AUTH_ROLE, AUTH_JWT, REALTIME_TOPIC), AUTH_PARAMETERS, strict=True)
)
_CACHE_SIZE = 512
T = TypeVar("T")


def applicable_policies(
    catalog: Catalog, table: Table, role: str, command: PolicyCommand
) -> list[Policy]:
    """Policies for `command` (or ALL) whose roles include `role` (none listed, or public: all)."""
    return [
        p
        for p in catalog.policies_for(table.key)
        if p.command in (command, PolicyCommand.ALL)
        and (not p.roles or "public" in p.roles or role in p.roles)
    ]


def is_restricted(table: Table, context: RequestContext) -> bool:
    return table.rls_enabled and not context.bypass_rls


def using_predicate(
    catalog: Catalog, table: Table, context: RequestContext, commands: Sequence[PolicyCommand]
) -> str | None:
    """What existing rows must satisfy for every command in `commands`; None: unrestricted."""
    if not is_restricted(table, context):
        return None
    return _cached(catalog, ("using", table.key, context.role, tuple(commands)), lambda: (
        _all_of(_policy_expression(catalog, table, context.role, c, check=False) for c in commands)
    ))  # fmt: skip


def check_predicate(
    catalog: Catalog, table: Table, context: RequestContext, command: PolicyCommand
) -> str | None:
    """What a written row must satisfy (WITH CHECK, else USING, as Postgres falls back)."""
    if not is_restricted(table, context):
        return None
    return _cached(
        catalog,
        ("check", table.key, context.role, (command,)),
        lambda: _policy_expression(catalog, table, context.role, command, check=True),
    )


def table_source(
    catalog: Catalog,
    table: Table,
    context: RequestContext,
    commands: Sequence[PolicyCommand] = (PolicyCommand.SELECT,),
) -> tuple[str, str]:
    """The FROM item reading `table` under the caller's policies, and its insertion-order column."""
    predicate = using_predicate(catalog, table, context, commands)
    name = quote_name(table.sqlite_name)
    if predicate is None:
        return name, "rowid"
    return f"(SELECT rowid AS {quote_name(ROWID_COLUMN)}, * FROM {name} WHERE {predicate})", (
        ROWID_COLUMN
    )


def _all_of(parts: Any) -> str:
    texts = list(parts)
    if FALSE in texts:
        return FALSE
    return texts[0] if len(texts) == 1 else " AND ".join(f"({t})" for t in texts)


def _policy_expression(
    catalog: Catalog,
    table: Table,
    role: str,
    command: PolicyCommand,
    *,
    check: bool,
    stack: tuple[str, ...] = (),
) -> str:
    permissive: list[str] = []
    restrictive: list[str] = []
    for policy in applicable_policies(catalog, table, role, command):
        text = policy.with_check if check and policy.with_check is not None else policy.using
        if text is None:
            continue  # a policy without the expression grants nothing for this use
        rewritten = rewrite_policy_text(text, catalog, role, (*stack, table.key))
        (permissive if policy.permissive else restrictive).append(rewritten)
    if not permissive:
        return FALSE  # RLS on and no permissive policy: no row passes
    combined = " OR ".join(f"({p})" for p in permissive)
    if restrictive:
        combined = f"({combined}) AND " + " AND ".join(f"({r})" for r in restrictive)
    return combined


def rewrite_policy_text(text: str, catalog: Catalog, role: str, stack: tuple[str, ...]) -> str:
    """Policy SQL with auth calls as parameters and its subqueries' tables under their policies."""
    lowered = text.lower()
    if "select" not in lowered and "auth_" not in lowered and REALTIME_TOPIC not in lowered:
        return text
    tree = sqlglot.parse_one(text, read="sqlite")
    return render(rewrite_relations(tree, catalog, role, stack))


def rewrite_relations(
    tree: exp.Expr,
    catalog: Catalog,
    role: str,
    stack: tuple[str, ...],
    *,
    restrict: bool = True,
) -> exp.Expr:
    """Replace auth calls with parameters and, when `restrict`, reads of RLS tables with
    policy-filtered subqueries (SELECT policies of `role`), except inside inlined
    security-definer bodies and the target of an insert, update or delete."""
    templates = _definer_templates(catalog)
    by_name = {t.sqlite_name.lower(): t for t in catalog.tables.values()}
    ctes = {str(c.alias).lower() for c in tree.find_all(exp.CTE)}
    replacements: list[tuple[exp.Expr, exp.Expr]] = []
    for node in tree.walk(prune=lambda n: _is_definer_body(n, templates)):
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in _AUTH_CALLS:
            if not node.expressions:
                placeholder = exp.Placeholder(this=_AUTH_CALLS[str(node.this).lower()])
                replacements.append((node, placeholder))
        elif restrict and isinstance(node, exp.Table) and not node.args.get("db"):
            name = str(node.name).lower()
            table = by_name.get(name)
            if table is None or name in ctes or not table.rls_enabled or _is_write_target(node):
                continue
            replacements.append((node, _policy_subquery(node, table, catalog, role, stack)))
    for old, new in replacements:
        if old is tree:
            return new
        old.replace(new)
    return tree


def _policy_subquery(
    node: exp.Table, table: Table, catalog: Catalog, role: str, stack: tuple[str, ...]
) -> exp.Expr:
    if table.key in stack:
        raise policy_recursion(table.name)
    predicate = _policy_expression(
        catalog, table, role, PolicyCommand.SELECT, check=False, stack=stack
    )
    alias = node.alias or table.sqlite_name
    inner = sqlglot.parse_one(
        f"SELECT * FROM {quote_name(table.sqlite_name)} WHERE {predicate}", read="sqlite"
    )
    return exp.Subquery(
        this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
    )


def _is_write_target(node: exp.Table) -> bool:
    parent = node.parent.parent if isinstance(node.parent, exp.Schema) else node.parent
    return isinstance(parent, exp.Insert | exp.Update | exp.Delete) and (
        parent.this is node or parent.this is node.parent
    )


def render(tree: exp.Expr) -> str:
    return tree.sql(dialect="sqlite", normalize_functions="lower")


# --- security definer bodies ---------------------------------------------------------------------


def _definer_templates(catalog: Catalog) -> tuple[exp.Expr, ...]:
    def build() -> tuple[exp.Expr, ...]:
        return tuple(
            _parse_template(f.body[0])
            for f in catalog.functions.values()
            if f.security_definer and f.returns.kind is ReturnKind.SCALAR and len(f.body) == 1
        )

    return _cached(catalog, ("definers",), build)


@functools.lru_cache(maxsize=256)
def _parse_template(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read="sqlite")


def _is_definer_body(node: exp.Expr, templates: tuple[exp.Expr, ...]) -> bool:
    return isinstance(node, exp.Subquery) and any(_same_shape(t, node.this) for t in templates)


def _same_shape(template: Any, node: Any) -> bool:
    """Structural equality where the template's placeholders (the arguments) match anything."""
    if isinstance(template, exp.Placeholder):
        return True
    if isinstance(template, exp.Expr):
        if type(template) is not type(node):
            return False
        keys = (set(template.args) | set(node.args)) - {"quoted"}
        return all(_same_shape(template.args.get(k), node.args.get(k)) for k in keys)
    if isinstance(template, list):
        return (
            isinstance(node, list)
            and len(template) == len(node)
            and all(_same_shape(a, b) for a, b in zip(template, node, strict=True))
        )
    if isinstance(template, str) and isinstance(node, str):
        return template.lower() == node.lower()
    return bool(template == node) or (not template and not node)


# --- cache ---------------------------------------------------------------------------------------

_cache: OrderedDict[tuple[int, tuple[Any, ...]], tuple[Catalog, Any]] = OrderedDict()
_cache_lock = threading.Lock()  # reader threads compile concurrently


def _cached(catalog: Catalog, key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """Memoize per catalog object (catalogs are immutable; a new schema is a new object)."""
    full_key = (id(catalog), key)
    with _cache_lock:
        entry = _cache.get(full_key)
        if entry is not None and entry[0] is catalog:
            _cache.move_to_end(full_key)
            cached: T = entry[1]
            return cached
    value = build()  # outside the lock: building may recurse into the cache
    with _cache_lock:
        _cache[full_key] = (catalog, value)
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value
