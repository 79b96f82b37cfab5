"""Who a channel member is and what policies let it see: tokens, private channels, row policies.

Tokens are verified with the node's keys (`core.tokens`); policies are the REST layer's
(`rest.compile_policy`), evaluated here against a candidate row rather than a stored one: the
`realtime.messages` row a private channel join (SELECT) or send (INSERT) would be, as Supabase
authorizes them, and the record of a row change a subscriber would receive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import apsw

from performer_edge.core.tokens import TokenKeys
from performer_edge.errors import Unauthorized
from performer_edge.rest.catalog import SYSTEM_TABLES, Catalog, PolicyCommand, Table
from performer_edge.rest.compile_context import RequestContext
from performer_edge.rest.compile_policy import FALSE, check_predicate, using_predicate
from performer_edge.rest.compile_sql import quote_name

MESSAGES: Table = replace(SYSTEM_TABLES["realtime.messages"], rls_enabled=True)
CatalogSource = Callable[[apsw.Connection], Catalog]


@dataclass(frozen=True)
class Caller:
    """A verified token: the policy context it gives and when it stops being valid."""

    context: RequestContext
    expires_at: float | None
    token: str

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or time.time())

    @cached_property
    def policy_key(self) -> tuple[str, str]:
        """Callers with equal keys get the same row policy verdicts (role and claims decide):
        computed once, not per row change (the claims' JSON is not free)."""
        return self.context.role, self.context.jwt_text


def verify_caller(tokens: TokenKeys, token: str) -> Caller:
    """The caller a token names. Unauthorized (token_expired / token_invalid) otherwise."""
    claims = tokens.verify(token)
    expires = claims.get("exp")
    return Caller(
        RequestContext.for_claims(claims),
        float(expires) if isinstance(expires, int | float) else None,
        token,
    )


def join_error_reason(error: Unauthorized) -> str:
    """The reason text Supabase gives a refused join (clients show it, py reads its prefix)."""
    if error.error_code == "token_expired":
        return "InvalidJWTToken: Token has expired"
    return f"InvalidJWTToken: {error.message}"


def candidate_allowed(
    conn: apsw.Connection,
    catalog: Catalog,
    table: Table,
    context: RequestContext,
    command: PolicyCommand,
    row: Mapping[str, Any],
) -> bool:
    """Whether `row` (stored values, not yet or no longer in the table) passes the caller's
    policies for `command`: USING for reads, WITH CHECK for inserts."""
    if command is PolicyCommand.INSERT:
        predicate = check_predicate(catalog, table, context, command)
    else:
        predicate = using_predicate(catalog, table, context, (command,))
    if predicate is None:
        return True
    if predicate == FALSE:
        return False
    columns = ", ".join(
        f":pe_{index} AS {quote_name(column.name)}" for index, column in enumerate(table.columns)
    )
    params: dict[str, Any] = {
        f"pe_{index}": row.get(column.name) for index, column in enumerate(table.columns)
    }
    params.update(context.auth_values())
    sql = f"SELECT 1 FROM (SELECT {columns}) AS {quote_name(table.sqlite_name)} WHERE {predicate}"
    return conn.execute(sql, params).fetchone() is not None


def channel_allowed(
    conn: apsw.Connection,
    catalog: Catalog,
    context: RequestContext,
    topic: str,
    command: PolicyCommand,
    extensions: tuple[str, ...] = ("broadcast", "presence"),
) -> bool:
    """A private channel: may the caller read (join) or write (send) `topic`? Any one of the
    extensions passing is enough, as with Supabase's policies on realtime.messages."""
    if context.bypass_rls:
        return True
    scoped = replace(context, topic=topic)
    return any(
        candidate_allowed(
            conn,
            catalog,
            MESSAGES,
            scoped,
            command,
            {"topic": topic, "extension": extension, "private": 1},
        )
        for extension in extensions
    )
