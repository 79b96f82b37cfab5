"""Auth state as row operations: events carry `ops`, the projection applies them to `auth_*`.

An auth event's payload is `{"ops": [...]}`; each op is `["upsert", table, row]`,
`["update", table, key, changes]` or `["delete", table, key]` on a table of `AUTH_TABLES`. The
same ops replayed give the same tables, on this node or a peer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import apsw

from performer_edge.auth.schema import AUTH_TABLES
from performer_edge.core.events import Event
from performer_edge.core.projections import Projection
from performer_edge.errors import IntegrityError

Op = list[Any]
Row = dict[str, Any]

JSON_COLUMNS = {"raw_app_meta_data", "raw_user_meta_data", "identity_data", "amr"}


def upsert(table: str, row: Row) -> Op:
    return ["upsert", table, row]


def update(table: str, key: str, changes: Row) -> Op:
    return ["update", table, key, changes]


def delete(table: str, key: str) -> Op:
    return ["delete", table, key]


def apply_ops(conn: apsw.Connection, ops: Iterable[Op]) -> None:
    for op in ops:
        action, table = op[0], op[1]
        if table not in AUTH_TABLES:
            raise IntegrityError(f"auth event touches unknown table {table!r}")
        key_column = AUTH_TABLES[table]
        if action == "upsert":
            row = _encode(op[2])
            columns = list(row)
            updates = [f"{c} = excluded.{c}" for c in columns if c != key_column]
            assignments = ", ".join(updates) or f"{key_column} = excluded.{key_column}"
            conn.execute(
                f"INSERT INTO {table}({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))}) "
                f"ON CONFLICT({key_column}) DO UPDATE SET {assignments}",
                [row[c] for c in columns],
            )
        elif action == "update":
            changes = _encode(op[3])
            if changes:
                conn.execute(
                    f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in changes)} "
                    f"WHERE {key_column} = ?",
                    [*changes.values(), op[2]],
                )
        elif action == "delete":
            conn.execute(f"DELETE FROM {table} WHERE {key_column} = ?", (op[2],))
        else:
            raise IntegrityError(f"unknown auth op {action!r}")


def _encode(row: Row) -> Row:
    _check_columns(row)
    return {
        column: json.dumps(value, separators=(",", ":")) if column in JSON_COLUMNS else value
        for column, value in row.items()
    }


def _check_columns(row: Row) -> None:
    # Column names end up in SQL text: only plain identifiers from our own code are allowed.
    for column in row:
        if not column.replace("_", "").isalnum() or not column.isascii():
            raise IntegrityError(f"bad column name in auth event: {column!r}")


def _apply_event(conn: apsw.Connection, event: Event) -> None:
    data = event.data
    if not isinstance(data, dict) or not isinstance(data.get("ops"), list):
        raise IntegrityError(f"auth event {event.kind} has no ops")
    apply_ops(conn, data["ops"])


def _reset(conn: apsw.Connection) -> None:
    for table in AUTH_TABLES:
        conn.execute(f"DELETE FROM {table}")


PROJECTION = Projection("auth", ("auth.",), _apply_event, _reset)


# -- reads -------------------------------------------------------------------------------------


def fetch_row(conn: apsw.Connection, sql: str, params: Iterable[Any]) -> Row | None:
    rows = fetch_rows(conn, sql, params)
    return rows[0] if rows else None


def fetch_rows(conn: apsw.Connection, sql: str, params: Iterable[Any] = ()) -> list[Row]:
    cursor = conn.execute(sql, tuple(params))
    try:
        names = [d[0] for d in cursor.getdescription()]
    except apsw.ExecutionCompleteError:
        return []  # no rows: the statement already ran to completion
    return [_decode(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def _decode(row: Row) -> Row:
    for column in JSON_COLUMNS & row.keys():
        if isinstance(row[column], str):
            row[column] = json.loads(row[column])
    return row


def user_by_id(conn: apsw.Connection, user_id: str) -> Row | None:
    return fetch_row(
        conn, "SELECT * FROM auth_users WHERE id = ? AND deleted_at IS NULL", (user_id,)
    )


def user_by_email(conn: apsw.Connection, email: str) -> Row | None:
    return fetch_row(
        conn,
        "SELECT * FROM auth_users WHERE email = ? AND deleted_at IS NULL",
        (email.strip().lower(),),
    )


def user_by_phone(conn: apsw.Connection, phone: str) -> Row | None:
    return fetch_row(
        conn, "SELECT * FROM auth_users WHERE phone = ? AND deleted_at IS NULL", (phone,)
    )


def identities_of(conn: apsw.Connection, user_id: str) -> list[Row]:
    return fetch_rows(
        conn, "SELECT * FROM auth_identities WHERE user_id = ? ORDER BY created_at", (user_id,)
    )


def factors_of(conn: apsw.Connection, user_id: str) -> list[Row]:
    return fetch_rows(
        conn, "SELECT * FROM auth_mfa_factors WHERE user_id = ? ORDER BY created_at", (user_id,)
    )


def session_by_id(conn: apsw.Connection, session_id: str) -> Row | None:
    return fetch_row(
        conn, "SELECT * FROM auth_sessions WHERE id = ? AND revoked_at IS NULL", (session_id,)
    )


def refresh_token(conn: apsw.Connection, token_hash: str) -> Row | None:
    return fetch_row(conn, "SELECT * FROM auth_refresh_tokens WHERE token_hash = ?", (token_hash,))


def active_child_token(conn: apsw.Connection, parent_hash: str) -> Row | None:
    return fetch_row(
        conn,
        "SELECT * FROM auth_refresh_tokens WHERE parent_hash = ? AND revoked = 0 "
        "ORDER BY created_at DESC LIMIT 1",
        (parent_hash,),
    )


def sessions_of(conn: apsw.Connection, user_id: str) -> list[Row]:
    return fetch_rows(
        conn,
        "SELECT * FROM auth_sessions WHERE user_id = ? AND revoked_at IS NULL",
        (user_id,),
    )
