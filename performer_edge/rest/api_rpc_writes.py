"""The writes of an RPC body as row events, so they sync and reach realtime like REST writes.

An `RpcWrite` is the body's insert, update or delete rewritten to return each row it writes.
It runs under a savepoint that is then rolled back: SQLite evaluates the statement (its WHERE,
its defaults, its ON CONFLICT, its UNIQUE and CHECK constraints) and tells which rows it would
write, with every stored column. Those rows are then written as row events, as REST writes them:
a row whose key is absent is inserted, a present one gets an update of the columns that change,
a deleted one goes through `delete_row` (ON DELETE rules); foreign keys and the caller's WITH
CHECK policies are checked on the written rows.
"""

from __future__ import annotations

from performer_edge.core.db import WriteTx
from performer_edge.rest import row_tables
from performer_edge.rest.api_constraints import Row, check_references, delete_row
from performer_edge.rest.catalog import Catalog, PolicyCommand
from performer_edge.rest.compile_context import RequestContext
from performer_edge.rest.compile_rpc import RpcWrite
from performer_edge.rest.compile_write import compile_check
from performer_edge.rest.component import RestComponent
from performer_edge.rest.row_format import same_value

_SAVEPOINT = "pe_rpc_write"


def run_rpc_write(
    tx: WriteTx, rest: RestComponent, catalog: Catalog, write: RpcWrite, context: RequestContext
) -> int:
    """Write what `write` would write, as row events. The number of rows written."""
    conn = tx.conn
    table = write.table
    conn.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        rows = [
            dict(zip(write.columns, values, strict=True))
            for values in conn.execute(write.statement.sql, dict(write.statement.params))
        ]
    finally:
        conn.execute(f"ROLLBACK TO {_SAVEPOINT}")
        conn.execute(f"RELEASE {_SAVEPOINT}")
    keys: list[Row] = [{c: row[c] for c in table.primary_key} for row in rows]
    if write.command is PolicyCommand.DELETE:
        for key in keys:
            delete_row(tx, rest, catalog, table, key)
        return len(keys)
    name = table.sqlite_name
    inserted: list[Row] = []
    updated: list[Row] = []
    for key, row in zip(keys, rows, strict=True):
        rest.adopt(tx, table, key)
        current = row_tables.select_row(conn, name, key)
        if current is None:
            rest.rows.append(tx, rest.log, rest.rows.plan_insert(conn, name, row))
            inserted.append(key)
            continue
        changes = {
            c: v for c, v in row.items() if c not in key and not same_value(current.get(c), v)
        }
        if changes:
            rest.rows.append(tx, rest.log, rest.rows.plan_update(conn, name, key, changes))
        updated.append(key)
    check_references(conn, catalog, table, inserted + updated)
    if write.check:
        for command, written in (("insert", inserted), ("update", updated)):
            check = compile_check(table.name, catalog, context, command, schema=table.schema)
            statement = check.violations(written)
            failing = statement and conn.execute(statement.sql, dict(statement.params)).fetchone()
            if failing and int(failing[0]) > 0:
                raise check.error
    return len(keys)
