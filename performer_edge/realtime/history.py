"""Reading what a channel missed back from the event log (replay and `Last-Event-ID` resume).

Plain functions over a read connection. A channel's logged history is its broadcasts (scope =
the topic) and the row events of the tables its bindings name; `REALTIME_SCHEMA` indexes the
log by scope so both reads are range scans.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apsw

from performer_edge.core import hlc
from performer_edge.core.events import Event
from performer_edge.core.log import EVENT_COLUMNS, row_to_event
from performer_edge.rest.row_format import KIND_OF_OP, SCOPE_PREFIX

# Appended to node.SCHEMA_STEPS: events by scope (a topic's broadcasts, a table's rows, a doc).
REALTIME_SCHEMA = "CREATE INDEX IF NOT EXISTS events_by_scope ON events(scope, pos);"
ROW_KINDS = tuple(KIND_OF_OP.values())


def broadcasts_since(
    conn: apsw.Connection, topic: str, since_ms: int, upto_pos: int, limit: int
) -> list[Event]:
    """The topic's broadcasts logged at or after `since_ms`, up to position `upto_pos`."""
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE scope = ? AND pos <= ? AND hlc >= ? "
        "ORDER BY pos LIMIT ?",
        (topic, upto_pos, hlc.pack(since_ms, 0), limit),
    ).fetchall()
    return [row_to_event(row) for row in rows]


def channel_events(
    conn: apsw.Connection,
    topic: str,
    tables: Iterable[str] | None,
    after_pos: int,
    upto_pos: int,
    since_ms: int,
    limit: int,
) -> list[Event]:
    """A channel's logged events after `after_pos` (and no older than `since_ms`), up to
    `upto_pos`, in log order: its broadcasts and the row events of `tables` (SQLite names;
    None: every table)."""
    params: list[Any] = [after_pos, upto_pos, hlc.pack(since_ms, 0)]
    scopes = [topic]
    if tables is None:
        kinds = ", ".join("?" * len(ROW_KINDS))
        where = f"(scope = ? OR kind IN ({kinds}))"
        params.extend([topic, *ROW_KINDS])
    else:
        scopes.extend(SCOPE_PREFIX + name for name in tables)
        where = f"scope IN ({', '.join('?' * len(scopes))})"
        params.extend(scopes)
    params.append(limit)
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE pos > ? AND pos <= ? AND hlc >= ? "
        f"AND {where} ORDER BY pos LIMIT ?",
        params,
    ).fetchall()
    return [row_to_event(row) for row in rows]


def gone_since(conn: apsw.Connection, after_pos: int, since_ms: int) -> bool:
    """Whether events committed after `after_pos` are out of reach: compacted away (the log
    starts later), or older than `since_ms` (judged by the first one: times grow with
    positions, but for a peer's late events). Two lookups by position, no scan."""
    first = conn.execute("SELECT min(pos) FROM events").fetchone()
    if first is None or first[0] is None:
        return after_pos > 0  # an empty log after events were seen: unknown, so say so
    if int(first[0]) > after_pos + 1:
        return True
    row = conn.execute(
        "SELECT hlc FROM events WHERE pos > ? ORDER BY pos LIMIT 1", (after_pos,)
    ).fetchone()
    return row is not None and int(row[0]) < hlc.pack(since_ms, 0)
