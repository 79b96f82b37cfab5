"""Assembles the REST capability (row store, catalog cache) and adds `/rest/v1` to an app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import apsw
from aiohttp import web

from performer_edge.core.db import Database, WriteTx
from performer_edge.core.events import Event
from performer_edge.core.log import LogWriter
from performer_edge.errors import PerformerError
from performer_edge.rest import row_tables
from performer_edge.rest.catalog import Catalog, Table
from performer_edge.rest.row_events import RowStore
from performer_edge.rest.row_format import RowOp, RowWrite, SqlValue, encode_pk
from performer_edge.rest.row_registers import EMPTY_ROW, encode_row_state
from performer_edge.rest.schema import CatalogCache, load_catalog

BLOCK_BITS = 32  # identity values per node: 2^32; 2^21 blocks stay below 2^53 (JSON-safe)


def identity_range(block: int | None) -> tuple[int, int]:
    """(low, high): identity values of a node's block are low+1..high. Block b is a cluster
    member's (given by the root with its certificate; 0 is the root's, and a node outside any
    cluster's), so values allocated on two members never collide. None (a certificate from
    before blocks): the whole table, as a lone Postgres would."""
    if block is None:
        return 0, (1 << 63) - 1
    return block << BLOCK_BITS, ((block + 1) << BLOCK_BITS) - 1


@dataclass
class RestComponent:
    db: Database
    log: LogWriter
    rows: RowStore
    catalog: CatalogCache = field(default_factory=CatalogCache)
    id_block: int | None = 0  # this node's identity block (see identity_range)
    _registered: set[str] = field(default_factory=set)

    def sync_tables(self, conn: apsw.Connection, catalog: Catalog, *, fill: bool = True) -> None:
        """Register every table with a primary key with the row store (writer thread). With
        `fill` (after a migration), a table new to it gets the rows of events that arrived
        before it existed (from a peer)."""
        wanted: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for table in catalog.tables.values():
            if table.primary_key:
                columns = tuple(c.name for c in table.columns if c.generated is None)
                wanted[table.sqlite_name] = (table.primary_key, columns)
        for name in self._registered - set(wanted):
            self.rows.drop_table(name)
        for name, (keys, columns) in wanted.items():
            self.rows.table(name, keys, columns)
            if fill and name not in self._registered:
                self._fill(conn, name, columns)
        self._registered = set(wanted)

    def _fill(self, conn: apsw.Connection, name: str, columns: tuple[str, ...]) -> None:
        """Insert the live rows whose events arrived before their table existed. Unlike
        RowStore.materialize_table this keeps rows the migration itself inserted (seeds)."""
        for pk, state in row_tables.states_of(conn, name):
            if state.exists and row_tables.select_row(conn, name, pk) is None:
                others = tuple(c for c in columns if c not in pk)
                row_tables.insert_row(conn, name, {**pk, **state.values(others)})

    def after_migration(self, conn: apsw.Connection, event: Event, catalog: Catalog) -> None:
        """In a migration's transaction: know its tables, and give the rows it inserted (seeds)
        registers stamped with the migration event's clock, the same on every node that applies
        it, so they can be updated and deleted as row events, and a replay rebuilds them."""
        self.sync_tables(conn, catalog)
        for table in catalog.tables.values():
            if table.primary_key:
                self._stamp(conn, event, table)

    def _stamp(self, conn: apsw.Connection, event: Event, table: Table) -> None:
        name = table.sqlite_name
        columns = tuple(c.name for c in table.columns if c.generated is None)
        listed = ", ".join(row_tables.quoted(c) for c in columns)
        for values in conn.execute(f"SELECT {listed} FROM {row_tables.quoted(name)}").fetchall():
            row = dict(zip(columns, values, strict=True))
            pk = {c: row[c] for c in table.primary_key}
            try:
                key = encode_pk(pk)
            except PerformerError:
                continue  # a key the row layer cannot hold: the row stays read-only
            if row_tables.load_state(conn, name, key).registers:
                continue  # already known to the row layer
            write = RowWrite(RowOp.INSERT, name, pk, {c: v for c, v in row.items() if c not in pk})
            state = EMPTY_ROW.with_write(event.origin, event.hlc, event.seq, write.registers(), {})
            row_tables.store_state(conn, name, key, encode_row_state(state))

    def adopt(self, tx: WriteTx, table: Table, key: Mapping[str, SqlValue]) -> None:
        """Give a row that exists without row state (made before seeds were stamped) an insert
        event, so it can be updated and deleted as events. The event is appended with the table
        briefly unregistered: it records the row's registers without re-inserting the row."""
        conn = tx.conn
        name = table.sqlite_name
        if row_tables.load_state(conn, name, encode_pk(key)).exists:
            return
        row = row_tables.select_row(conn, name, key)
        if row is None:
            return
        columns = tuple(c.name for c in table.columns if c.generated is None)
        planned = self.rows.plan_insert(conn, name, {c: row.get(c) for c in columns})
        self.rows.drop_table(name)
        try:
            self.rows.append(tx, self.log, planned)
        finally:
            self.rows.table(name, table.primary_key, columns)

    def load_tables(self, conn: apsw.Connection) -> None:
        """At startup: the tables of the stored catalog."""
        catalog, _ = load_catalog(conn)
        self.sync_tables(conn, catalog, fill=False)

    def reload(self, conn: apsw.Connection) -> None:
        """The catalog and tables were replaced wholesale (a snapshot was installed)."""
        self.catalog.invalidate()
        self.load_tables(conn)

    def install(self, app: web.Application) -> None:
        from performer_edge.rest import api

        app[api.REST] = self
        api.register(app)
