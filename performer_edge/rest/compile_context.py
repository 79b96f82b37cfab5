"""Who a query runs as, and the connection side of it: the request's role and JWT claims, what
`auth.*()` return for them, and the SQL functions and collations compiled SQL calls.

apsw connections are shared by requests, so `auth_uid()`, `auth_role()` and `auth_jwt()` (which
views and SQL function bodies call) read the context of the request running on this thread:
`install_functions(conn, context_provider)` registers functions that call `context_provider()`
on each call; the default provider reads a ContextVar that `request_context(ctx)` sets. Set it in
the thread that executes the statement (`Database.read` runs callbacks in a pool, and
run_in_executor does not copy context variables): `db.read(lambda c: run_read(c, compiled, ctx))`
does it (compile_read.run_read). Compiled statements themselves bind the auth values as
parameters (see compile_policy), so only views and function bodies call the functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import apsw

from performer_edge.rest import compile_functions as functions
from performer_edge.rest.compile_fts import TS_MATCH, TS_VECTOR_MATCH, ts_match, ts_vector_match
from performer_edge.rest.connection import install_pure_functions
from performer_edge.rest.migrate_runtime import AUTH_JWT, AUTH_ROLE, AUTH_UID
from performer_edge.rest.migrate_types import SqliteValue

SERVICE_ROLE = "service_role"
# Named parameters standing for auth.uid(), auth.role(), auth.jwt() and realtime.topic() in
# compiled SQL.
AUTH_PARAMETERS = ("auth_uid", "auth_role", "auth_jwt", "realtime_topic")


@dataclass(frozen=True)
class RequestContext:
    """The caller of one request. `bypass_rls` skips row-level policies (service_role does).
    `topic`: the Realtime channel being authorized (what realtime.topic() returns)."""

    role: str
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    bypass_rls: bool = False
    topic: str | None = None

    @classmethod
    def for_claims(cls, claims: Mapping[str, Any]) -> RequestContext:
        """The context a verified JWT gives: its `role` claim, service_role bypassing RLS."""
        role = str(claims.get("role") or "anon")
        return cls(role, MappingProxyType(dict(claims)), bypass_rls=role == SERVICE_ROLE)

    @property
    def uid(self) -> str | None:
        """auth.uid(): the `sub` claim, NULL without one."""
        subject = self.claims.get("sub")
        return None if subject in (None, "") else str(subject)

    @property
    def jwt_text(self) -> str:
        """auth.jwt() / request.jwt.claims as JSON text."""
        return json.dumps(dict(self.claims), separators=(",", ":"), ensure_ascii=False)

    def auth_values(self) -> dict[str, SqliteValue]:
        """The values of `AUTH_PARAMETERS`, to bind with a compiled statement."""
        return {
            "auth_uid": self.uid,
            "auth_role": self.role,
            "auth_jwt": self.jwt_text,
            "realtime_topic": self.topic,
        }


ContextProvider = Callable[[], RequestContext]

_current: ContextVar[RequestContext | None] = ContextVar("performer_request_context", default=None)


def current_request_context() -> RequestContext:
    """The context `request_context` set on this thread; an error when none is set (fail closed)."""
    context = _current.get()
    if context is None:
        raise RuntimeError(
            "auth.uid()/auth.role()/auth.jwt() called outside a request: wrap the statement in "
            "compile_context.request_context(...)"
        )
    return context


@contextmanager
def request_context(context: RequestContext) -> Iterator[RequestContext]:
    """Make `context` what the auth functions return on this thread while the block runs."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def install_functions(
    conn: apsw.Connection, context_provider: ContextProvider = current_request_context
) -> None:
    """Register everything compiled SQL calls: request functions, Postgres semantics, the
    migration translator's pure functions (regexp, storage helpers) and the collations."""

    request_functions: dict[str, Callable[..., SqliteValue]] = {
        AUTH_UID: lambda: context_provider().uid,
        AUTH_ROLE: lambda: context_provider().role,
        AUTH_JWT: lambda: context_provider().jwt_text,
    }
    for name, request_function in request_functions.items():
        conn.create_scalar_function(name, request_function, 0)
    install_pure_functions(conn)
    pure: dict[str, tuple[int, Callable[..., object]]] = {
        functions.JSON_CONTAINS: (2, functions.json_contains),
        functions.ARRAY_CONTAINS: (2, functions.array_contains),
        functions.ARRAY_OVERLAPS: (2, functions.array_overlaps),
        functions.PG_ILIKE: (2, functions.pg_ilike),
        functions.PG_CAST: (3, functions.pg_cast),
        TS_MATCH: (4, ts_match),
        TS_VECTOR_MATCH: (4, ts_vector_match),
    }
    for name, (arity, implementation) in pure.items():
        conn.create_scalar_function(name, implementation, arity, deterministic=True)
    conn.create_collation(functions.JSONB_ORDER, functions.jsonb_order)
    conn.create_collation(functions.ARRAY_ORDER, functions.array_order)
