"""POST/PATCH/DELETE on `/rest/v1/{table}`: each request is one durable write that plans every
row change as a row event (RowStore.append), checks row-level security on the written rows, and
reads the representation, all in the writer's transaction; any error rolls the whole request
back. Defaults are materialised here so the values travel in the events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import apsw
from aiohttp import web

from performer_edge.core.db import WriteTx
from performer_edge.errors import Conflict, InvalidInput
from performer_edge.rest import row_tables
from performer_edge.rest.api import (
    REST,
    accept_of,
    body_response,
    check_profile,
    context_of,
    json_body,
    prefer_of,
    query_of,
    single_error,
)
from performer_edge.rest.api_constraints import check_references, delete_row, rekey_row
from performer_edge.rest.api_write_errors import (
    constraint_error,
    duplicate_key,
    missing_where,
    not_null,
)
from performer_edge.rest.catalog import Catalog, Column, DefaultKind, JsonValue, Table
from performer_edge.rest.compile import (
    RequestContext,
    body_row_to_storage,
    compile_check,
    compile_returning,
    compile_target,
    request_context,
    run_read,
)
from performer_edge.rest.compile_write import (
    CompiledCheck,
    compile_conflict_check,
    resolve_table,
)
from performer_edge.rest.component import RestComponent, identity_range
from performer_edge.rest.migrate_types import SqliteValue
from performer_edge.rest.query import Query
from performer_edge.rest.query_headers import Preferences, ResponseFormat
from performer_edge.rest.row_format import RowWrite, same_value

Key = dict[str, SqliteValue]


class _Rollback(Exception):
    """Raised at the end of a `tx=rollback` write: carries the answer out of the transaction."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("tx=rollback")
        self.outcome = outcome


@dataclass(frozen=True)
class Outcome:
    affected: int
    inserted: int
    body: str | None


@dataclass(frozen=True)
class WriteRequest:
    rest: RestComponent
    table_name: str
    context: RequestContext
    query: Query
    preferences: Preferences
    response_format: ResponseFormat

    @property
    def representation(self) -> bool:
        return self.preferences.returning == "representation"

    @property
    def single(self) -> bool:
        return self.response_format.kind == "object"


async def _request(request: web.Request) -> WriteRequest:
    rest = request.app[REST]
    context = context_of(request)
    check_profile(request)
    return WriteRequest(
        rest,
        request.match_info["table"],
        context,
        query_of(request),
        prefer_of(request),
        accept_of(request),
    )


# -- handlers -------------------------------------------------------------------------------------


async def insert(request: web.Request) -> web.Response:
    write = await _request(request)
    outcome = await run_write(write, "POST", await json_body(request))
    merge = write.preferences.resolution == "merge-duplicates"
    status = 200 if merge and outcome.inserted == 0 and outcome.affected > 0 else 201
    total = str(outcome.affected) if write.preferences.count else "*"
    return _answer(write, status, outcome, {"Content-Range": f"*/{total}"})


async def update(request: web.Request) -> web.Response:
    write = await _request(request)
    outcome = await run_write(write, "PATCH", await json_body(request))
    n = outcome.affected
    total = str(n) if write.preferences.count else "*"
    content_range = f"0-{n - 1}/{total}" if n else f"*/{total}"
    status = 200 if write.representation else 204
    return _answer(write, status, outcome, {"Content-Range": content_range})


async def delete(request: web.Request) -> web.Response:
    write = await _request(request)
    await request.read()  # py sends `{}`; the body carries nothing for a DELETE
    outcome = await run_write(write, "DELETE", None)
    total = str(outcome.affected) if write.preferences.count else "*"
    status = 200 if write.representation else 204
    return _answer(write, status, outcome, {"Content-Range": f"*/{total}"})


async def run_write(write: WriteRequest, method: str, body: object) -> Outcome:
    """One POST (insert), PATCH (update) or DELETE of `write.table_name`, as the handlers run
    it: the entry point for callers inside the node (functions' host calls)."""
    if method == "POST":
        rows = [body] if isinstance(body, dict) else body
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidInput(
                "Empty or invalid json", code="PGRST102", details="expected an object or an array"
            )
        return await _run(write, lambda tx: _insert(tx, write, rows))
    if method == "PATCH":
        if not isinstance(body, dict):
            raise InvalidInput(
                "Empty or invalid json", code="PGRST102", details="expected an object"
            )
        return await _run(write, lambda tx: _update(tx, write, body))
    if method == "DELETE":
        return await _run(write, lambda tx: _delete(tx, write))
    raise InvalidInput(f"no write method {method}", code="PGRST117")


def _answer(
    write: WriteRequest, status: int, outcome: Outcome, headers: dict[str, str]
) -> web.Response:
    applied = [
        f"{name}={value}"
        for name, value in (
            ("return", write.preferences.returning),
            ("count", write.preferences.count),
            ("resolution", write.preferences.resolution),
            ("missing", write.preferences.missing),
            ("tx", write.preferences.tx),
        )
        if value is not None
    ]
    if applied:
        headers["Preference-Applied"] = ", ".join(applied)
    if not write.representation:
        return web.Response(status=status, headers=headers)
    return body_response(status, outcome.body, write.response_format, headers)


async def _run(write: WriteRequest, plan: Callable[[WriteTx], Outcome]) -> Outcome:
    """One durable write; `tx=rollback` does the work, then rolls it back."""

    def run(tx: WriteTx) -> Outcome:
        try:
            outcome = plan(tx)
        except apsw.ConstraintError as exc:
            raise constraint_error(str(exc)) from exc
        except Conflict as exc:
            if exc.error_code == "constraint_violation":
                raise constraint_error(exc.message) from exc
            raise
        _check_limits(write, outcome)
        if write.preferences.tx == "rollback":
            raise _Rollback(outcome)
        return outcome

    try:
        return await write.rest.db.write(run)
    except _Rollback as rolled_back:
        return rolled_back.outcome


def _check_limits(write: WriteRequest, outcome: Outcome) -> None:
    preferences = write.preferences
    limit = preferences.max_affected
    if preferences.handling == "strict" and limit is not None and outcome.affected > limit:
        raise InvalidInput(
            "Query result exceeds max-affected preference constraint",
            code="PGRST124",
            details=f"The query affects {outcome.affected} rows",
        )
    if write.single and outcome.affected != 1:
        raise single_error(outcome.affected)


# -- the writes, on the writer thread --------------------------------------------------------------


def _writable(write: WriteRequest, conn: apsw.Connection) -> tuple[Catalog, Table]:
    catalog = write.rest.catalog.get(conn)
    table = resolve_table(catalog, write.table_name)
    if not table.primary_key:
        raise InvalidInput(
            f"table {table.name} has no primary key: Performer writes rows by key",
            code="0A000",
        )
    return catalog, table


def _insert(tx: WriteTx, write: WriteRequest, rows: list[dict[str, JsonValue]]) -> Outcome:
    conn = tx.conn
    catalog, table = _writable(write, conn)
    rest, context = write.rest, write.context
    listed = write.query.columns
    if listed is not None:
        for name in listed:
            if table.column(name) is None:
                body_row_to_storage(table, {name: None}, catalog)  # raises PGRST204
    given = list(listed) if listed is not None else list(dict.fromkeys(k for r in rows for k in r))
    missing_default = write.preferences.missing == "default"
    conflict_columns = write.query.on_conflict or table.primary_key
    if write.preferences.resolution is not None:
        _check_conflict_target(catalog, table, conflict_columns)
    resolution = write.preferences.resolution
    merging = resolution == "merge-duplicates"
    conflict_check = compile_conflict_check(table.name, catalog, context) if merging else None
    identities: dict[str, int] = {}
    inserted: list[Key] = []
    updated: list[Key] = []
    written: list[Key] = []  # in body order, as Postgres' RETURNING gives them
    with request_context(context):
        for row in rows:
            json_row = {c: row.get(c) for c in given if c in row or not missing_default}
            provided = set(json_row)
            _json_defaults(table, json_row, context)
            stored = body_row_to_storage(table, json_row, catalog)
            _storage_defaults(conn, table, stored, identities, rest.id_block)
            key = {c: stored.get(c) for c in table.primary_key}
            existing = None
            if resolution is not None:
                existing = _find(conn, table, {c: stored.get(c) for c in conflict_columns})
            if existing is not None:
                if resolution == "ignore-duplicates":
                    continue
                if conflict_check is not None:
                    _enforce(conn, conflict_check, [existing])
                rest.adopt(tx, table, existing)
                changes = {c: v for c, v in stored.items() if c in provided and c not in existing}
                planned_update = rest.rows.plan_update(conn, table.sqlite_name, existing, changes)
                _append(rest, tx, planned_update, table, _merged(conn, table, existing, changes))
                updated.append(existing)
                written.append(existing)
                continue
            try:
                planned = rest.rows.plan_insert(conn, table.sqlite_name, stored)
            except Conflict as exc:
                if exc.error_code == "duplicate_key":
                    raise duplicate_key(table, table.primary_key, key) from exc
                raise
            except InvalidInput as exc:
                if exc.error_code == "missing_key":
                    missing = next(c for c in table.primary_key if stored.get(c) is None)
                    raise not_null(table, missing, stored) from exc
                raise
            if _find(conn, table, key) is not None:  # a row with no events yet (a seed)
                raise duplicate_key(table, table.primary_key, key)
            _append(rest, tx, planned, table, stored)
            inserted.append(key)
            written.append(key)
        check_references(conn, catalog, table, inserted + updated)
        _check(conn, catalog, write, "insert", inserted)
        _check(conn, catalog, write, "update", updated)
        body = _representation(conn, catalog, write, written)
    return Outcome(len(written), len(inserted), body)


def _update(tx: WriteTx, write: WriteRequest, body: dict[str, JsonValue]) -> Outcome:
    conn = tx.conn
    catalog, table = _writable(write, conn)
    stored = body_row_to_storage(table, body, catalog, command="update")
    if not stored:  # PostgREST runs no UPDATE for an empty body
        return Outcome(0, 0, _representation(conn, catalog, write, []))
    keys = _targets(conn, catalog, table, write, "update")
    for key in keys:
        write.rest.adopt(tx, table, key)
    with request_context(write.context):
        written: list[Key] = []
        for key in keys:
            new_key = {c: stored.get(c, key[c]) for c in table.primary_key}
            if any(not same_value(new_key[c], key[c]) for c in table.primary_key):
                try:
                    written.append(rekey_row(tx, write.rest, catalog, table, key, new_key, stored))
                except Conflict as exc:
                    if exc.error_code == "duplicate_key":
                        raise duplicate_key(table, table.primary_key, new_key) from exc
                    raise
                continue
            planned = write.rest.rows.plan_update(conn, table.sqlite_name, key, stored)
            _append(write.rest, tx, planned, table, _merged(conn, table, key, stored))
            written.append(key)
        check_references(conn, catalog, table, written)
        _check(conn, catalog, write, "update", written)
        return Outcome(len(written), 0, _representation(conn, catalog, write, written))


def _delete(tx: WriteTx, write: WriteRequest) -> Outcome:
    conn = tx.conn
    catalog, table = _writable(write, conn)
    keys = _targets(conn, catalog, table, write, "delete")
    for key in keys:
        write.rest.adopt(tx, table, key)
    with request_context(write.context):
        body = _representation(conn, catalog, write, keys)
        for key in keys:
            delete_row(tx, write.rest, catalog, table, key)
    return Outcome(len(keys), 0, body)


def _append(rest: RestComponent, tx: WriteTx, planned: RowWrite, table: Table, row: Key) -> None:
    """Append one row event; a constraint it breaks becomes the Postgres error for `row`."""
    try:
        rest.rows.append(tx, rest.log, planned)
    except Conflict as exc:
        if exc.error_code == "constraint_violation":
            raise constraint_error(exc.message, table, row) from exc
        raise


def _merged(conn: apsw.Connection, table: Table, key: Key, changes: Key) -> Key:
    """The row at `key` with `changes` applied: what Postgres shows as the failing row."""
    return {**(row_tables.select_row(conn, table.sqlite_name, key) or key), **changes}


def _targets(
    conn: apsw.Connection, catalog: Catalog, table: Table, write: WriteRequest, command: str
) -> list[Key]:
    if not any(not f.embed_path for f in write.query.filters):
        raise missing_where(command)
    target = compile_target(table.name, write.query.filters, catalog, write.context, command)
    positions = [target.columns.index(c) for c in target.primary_key]
    with request_context(write.context):
        rows = list(conn.execute(target.sql, dict(target.params)))
    return [{c: row[p] for c, p in zip(target.primary_key, positions, strict=True)} for row in rows]


def _check(
    conn: apsw.Connection, catalog: Catalog, write: WriteRequest, command: str, keys: list[Key]
) -> None:
    if not keys:
        return
    check = compile_check(
        write.table_name, catalog, write.context, command, returning=write.representation
    )
    _enforce(conn, check, keys)


def _enforce(conn: apsw.Connection, check: CompiledCheck, keys: list[Key]) -> None:
    """Raise the check's 42501 when a row with one of these keys fails its policy."""
    statement = check.violations(keys)
    if statement is None:
        return
    failing = conn.execute(statement.sql, dict(statement.params)).fetchone()
    if failing is not None and int(failing[0]) > 0:
        raise check.error


def _representation(
    conn: apsw.Connection, catalog: Catalog, write: WriteRequest, keys: list[Key]
) -> str | None:
    if not write.representation:
        return None
    compiled = compile_returning(
        write.table_name, write.query, catalog, write.context, keys, single=write.single
    )
    body, _, _ = run_read(conn, compiled, write.context)
    return body


def _check_conflict_target(catalog: Catalog, table: Table, columns: tuple[str, ...]) -> None:
    for name in columns:
        if table.column(name) is None:
            raise InvalidInput(f'column "{name}" does not exist', code="42703")
    unique = {frozenset(table.primary_key)} | {frozenset(u.columns) for u in table.unique}
    unique |= {
        frozenset(key.strip('"') for key in index.keys)
        for index in catalog.indexes_for(table.key)
        if index.unique and index.where is None
    }
    if frozenset(columns) not in unique:
        raise InvalidInput(
            "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            code="42P10",
        )


def _find(conn: apsw.Connection, table: Table, values: Mapping[str, SqliteValue]) -> Key | None:
    """The key of the row whose `values` match (the upsert's conflict target), if any."""
    if any(v is None for v in values.values()):
        return None
    keys = ", ".join(_quote(c) for c in table.primary_key)
    where = " AND ".join(f"{_quote(c)} = ?" for c in values)
    row = conn.execute(
        f"SELECT {keys} FROM {_quote(table.sqlite_name)} WHERE {where} LIMIT 1",
        tuple(values.values()),
    ).fetchone()
    return None if row is None else dict(zip(table.primary_key, row, strict=True))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- defaults -------------------------------------------------------------------------------------


def _now_for(column: Column) -> str:
    now = datetime.now(UTC)
    base = column.base_type
    if base == "date":
        return now.date().isoformat()
    if base == "time":
        return now.time().isoformat()
    if base == "timestamp":
        return now.replace(tzinfo=None).isoformat()
    return now.isoformat()


def _json_defaults(table: Table, row: dict[str, JsonValue], context: RequestContext) -> None:
    """Fill the defaults known without the database, in API shape."""
    for column in table.columns:
        if column.name in row or column.default is None or column.generated is not None:
            continue
        kind = column.default.kind
        if kind is DefaultKind.CONSTANT:
            row[column.name] = column.default.value
        elif kind is DefaultKind.RANDOM_UUID:
            row[column.name] = str(uuid.uuid4())
        elif kind is DefaultKind.NOW:
            row[column.name] = _now_for(column)
        elif kind is DefaultKind.AUTH_UID:
            row[column.name] = context.uid


def _storage_defaults(
    conn: apsw.Connection,
    table: Table,
    stored: dict[str, SqliteValue],
    identities: dict[str, int],
    block: int | None,
) -> None:
    """Identity and expression defaults, read on the writer connection. An identity is the
    next integer of this node's block (`identity_range`), so two members inserting while apart
    never pick the same key."""
    for column in table.columns:
        if column.generated is not None or stored.get(column.name) is not None:
            continue
        kind = column.default.kind if column.default is not None else None
        if column.identity is not None or kind is DefaultKind.IDENTITY:
            low, high = identity_range(block)
            if column.name not in identities:
                found = conn.execute(
                    f"SELECT max({_quote(column.name)}) FROM {_quote(table.sqlite_name)} "
                    f"WHERE {_quote(column.name)} BETWEEN ? AND ?",
                    (low, high),
                ).fetchone()
                identities[column.name] = int(found[0]) if found and found[0] else low
            identities[column.name] += 1
            if identities[column.name] > high:
                raise InvalidInput(
                    f'identity column "{column.name}" has used every value of this node\'s '
                    f"block ({low + 1}..{high})",
                    code="2200H",
                )
            stored[column.name] = identities[column.name]
        elif kind is DefaultKind.EXPRESSION and column.name not in stored:
            assert column.default is not None
            found = conn.execute(f"SELECT {column.default.sqlite}").fetchone()
            stored[column.name] = None if found is None else found[0]
