"""Shared pieces of the row-event tests (no tests here): nodes' keys, a database with the row
schema, signed row events, and a snapshot of everything the row layer stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apsw
from nacl.signing import SigningKey

from performer_edge.core.events import Event, encode_payload, sign_event
from performer_edge.core.hlc import pack
from performer_edge.rest.row_constraints import ROW_HIDDEN_SCHEMA
from performer_edge.rest.row_events import RowStore
from performer_edge.rest.row_format import RowWrite
from performer_edge.rest.row_tables import ROW_EVENTS_SCHEMA

# Fixed seeds: origins (and so equal-HLC tie-breaks) are the same in every run.
KEYS = tuple(SigningKey(bytes([n]) * 32) for n in (1, 2, 3))
ORIGINS = tuple(bytes(key.verify_key) for key in KEYS)
T0 = 1_760_000_000_000  # ms: a realistic wall clock for the HLCs below
ITEMS_DDL = "CREATE TABLE items(id INTEGER PRIMARY KEY, a, b, c)"  # untyped: values keep types


def hlc(tick: int) -> int:
    return pack(T0 + tick, 0)


def open_db(path: str = ":memory:", *ddl: str) -> apsw.Connection:
    conn = apsw.Connection(path)
    conn.execute(ROW_EVENTS_SCHEMA)
    conn.execute(ROW_HIDDEN_SCHEMA)
    for statement in ddl or (ITEMS_DDL,):
        conn.execute(statement)
    return conn


def items_store() -> RowStore:
    store = RowStore()
    store.table("items", ["id"], ["a", "b", "c"])
    return store


def sign_write(node: int, seq: int, tick: int, write: RowWrite) -> Event:
    payload = encode_payload(write.payload())
    return sign_event(KEYS[node], seq, hlc(tick), write.kind, write.scope, payload)


def sign_raw(kind: str, scope: str, payload: Any, *, tick: int = 5, node: int = 0) -> Event:
    """A validly signed event with any payload: what a buggy or hostile peer could send."""
    return sign_event(KEYS[node], 1, hlc(tick), kind, scope, encode_payload(payload))


@dataclass
class Writers:
    """Per-node sequence numbers, so each node's events are numbered 1, 2, 3..."""

    seqs: dict[int, int] = field(default_factory=dict)

    def sign(self, node: int, tick: int, write: RowWrite) -> Event:
        self.seqs[node] = self.seqs.get(node, 0) + 1
        return sign_write(node, self.seqs[node], tick, write)


def snapshot(conn: apsw.Connection, table: str = "items") -> dict[str, list[tuple[Any, ...]]]:
    """Everything the row layer stores, in a fixed order: equal snapshots mean equal state."""
    return {
        "table": conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall(),
        "state": conn.execute("SELECT * FROM row_state ORDER BY tbl, pk").fetchall(),
        "conflicts": conn.execute("SELECT * FROM row_conflicts ORDER BY 1, 2, 3, 4").fetchall(),
        "hidden": conn.execute("SELECT tbl, pk FROM row_hidden ORDER BY 1, 2").fetchall(),
    }
