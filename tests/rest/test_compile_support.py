"""Shared by the compiler tests: a real apsw database made from a migration, and requests run
against it the way the /rest/v1 handler will run them (parse, compile, execute, parse JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import apsw

from performer_edge.rest.catalog import SYSTEM_TABLES, Catalog
from performer_edge.rest.compile import (
    RequestContext,
    RpcWrite,
    compile_read,
    compile_rpc,
    install_functions,
    request_context,
    run_read,
)
from performer_edge.rest.migrate_sql import translate
from performer_edge.rest.migrate_table import table_ddl
from performer_edge.rest.query import Query, parse_query

USER_A = "11111111-1111-4111-8111-111111111111"
USER_B = "22222222-2222-4222-8222-222222222222"
ANON = RequestContext("anon", {}, bypass_rls=False)
SERVICE = RequestContext.for_claims({"role": "service_role"})


def user(uid: str) -> RequestContext:
    return RequestContext.for_claims({"sub": uid, "role": "authenticated", "email": "u@x.io"})


@dataclass
class Result:
    data: Any
    page_count: int
    total: int | None


class Database:
    """SQLite set up as the node sets it up, with a migration applied."""

    def __init__(self, migration: str, seed: str = "") -> None:
        plan = translate(migration)
        self.catalog: Catalog = plan.catalog
        self.conn = apsw.Connection(":memory:")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
        self.conn.config(apsw.SQLITE_DBCONFIG_DQS_DDL, 0)
        install_functions(self.conn)
        for table in SYSTEM_TABLES.values():
            self.conn.execute(table_ddl(table))
        self.conn.execute("INSERT INTO auth_users (id) VALUES (?), (?)", (USER_A, USER_B))
        with request_context(SERVICE):
            for statement in plan.sqlite:
                self.conn.execute(statement)
            if seed:
                self.conn.execute(seed)

    def get(
        self,
        table: str,
        query_string: str = "",
        context: RequestContext = SERVICE,
        **options: Any,
    ) -> Result:
        compiled = compile_read(table, query(query_string), self.catalog, context, **options)
        body, page_count, total = run_read(self.conn, compiled, context)
        return Result(None if body is None else json.loads(body), page_count, total)

    def rpc(
        self,
        function: str,
        args: Mapping[str, Any],
        query_string: str = "",
        context: RequestContext = SERVICE,
        **options: Any,
    ) -> Result:
        parsed = parse_query(parse_qsl(query_string, keep_blank_values=True), rpc_read=True)
        compiled = compile_rpc(function, args, parsed, self.catalog, context, **options)
        with request_context(context):
            for setup in compiled.setup:
                # Without a node, a body's write runs as compiled (the API turns its returned
                # rows into row events instead: tests/rest/test_api_rpc_writes.py).
                statement = setup.statement if isinstance(setup, RpcWrite) else setup
                list(self.conn.execute(statement.sql, dict(statement.params)))
        body, page_count, total = run_read(self.conn, compiled.read, context)
        return Result(None if body is None else json.loads(body), page_count, total)

    def rows(self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> list[Any]:
        return list(self.conn.execute(sql, params))


def query(query_string: str) -> Query:
    """A query string as a client sends it (form-encoded), parsed."""
    return parse_query(parse_qsl(query_string, keep_blank_values=True))


def error_of(call: Any) -> tuple[str, str]:
    """(code, message) of the typed error `call()` raises."""
    from performer_edge.errors import PerformerError

    try:
        call()
    except PerformerError as error:
        return error.error_code, error.message
    raise AssertionError("no error raised")


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
