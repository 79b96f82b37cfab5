"""Row-level policies on `storage.objects` and `storage.buckets`, as Supabase enforces them.

Policies come from migrations (`create policy ... on storage.objects ...`) and are compiled by
the REST layer's policy compiler (`rest.compile_policy`); this module only asks it for the
predicate of a command and evaluates it: on stored rows (reads, updates, deletes, listing) or
on the row a write would produce (WITH CHECK). Both tables always have row level security on;
service_role bypasses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cached_property
from typing import Any

import apsw

from performer_edge.rest.catalog import SYSTEM_TABLES, Catalog, PolicyCommand, Table
from performer_edge.rest.compile_context import RequestContext
from performer_edge.rest.compile_policy import check_predicate, table_source, using_predicate
from performer_edge.rest.compile_sql import quote_name

OBJECTS: Table = replace(SYSTEM_TABLES["storage.objects"], rls_enabled=True)
BUCKETS: Table = replace(SYSTEM_TABLES["storage.buckets"], rls_enabled=True)

CatalogSource = Callable[[apsw.Connection], Catalog]
SELECT, INSERT, UPDATE, DELETE = (
    PolicyCommand.SELECT,
    PolicyCommand.INSERT,
    PolicyCommand.UPDATE,
    PolicyCommand.DELETE,
)


class Access:
    """One caller's view of storage's policies, on one connection. The catalog (policies) is
    read on first use: a caller who bypasses them (service_role) never needs it."""

    def __init__(
        self, conn: apsw.Connection, catalog: CatalogSource, context: RequestContext
    ) -> None:
        self.conn = conn
        self._catalog_source = catalog
        self.context = context

    @cached_property
    def catalog(self) -> Catalog:
        return self._catalog_source(self.conn)

    @property
    def bypass(self) -> bool:
        return self.context.bypass_rls

    def _bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.context.auth_values(), **params}

    def source(self, table: Table, command: PolicyCommand = SELECT) -> str:
        """The FROM item for `table` as the caller may read it (for listing)."""
        text, _ = table_source(self.catalog, table, self.context, (command,))
        return text

    def stored_row_allowed(
        self, table: Table, command: PolicyCommand, where: str, params: Mapping[str, Any]
    ) -> bool:
        """Whether the stored row matched by `where` passes `command`'s USING policies."""
        predicate = using_predicate(self.catalog, table, self.context, (command,))
        sql = f"SELECT 1 FROM {quote_name(table.sqlite_name)} WHERE {where}"
        if predicate is not None:
            sql += f" AND ({predicate})"
        return self.conn.execute(sql, self._bind(params)).fetchone() is not None

    def new_row_allowed(self, table: Table, command: PolicyCommand, row: Mapping[str, Any]) -> bool:
        """Whether `row` (the row a write would leave) passes `command`'s WITH CHECK."""
        predicate = check_predicate(self.catalog, table, self.context, command)
        if predicate is None:
            return True
        columns = ", ".join(
            f":pe_{column.name} AS {quote_name(column.name)}" for column in table.columns
        )
        sql = (
            f"SELECT 1 FROM (SELECT {columns}) AS {quote_name(table.sqlite_name)} WHERE {predicate}"
        )
        values = {f"pe_{column.name}": row.get(column.name) for column in table.columns}
        return self.conn.execute(sql, self._bind(values)).fetchone() is not None

    def object_allowed(self, command: PolicyCommand, bucket_id: str, name: str) -> bool:
        if self.bypass:
            return True
        return self.stored_row_allowed(
            OBJECTS,
            command,
            "bucket_id = :pe_bucket AND name = :pe_name",
            {"pe_bucket": bucket_id, "pe_name": name},
        )

    def bucket_allowed(self, command: PolicyCommand, bucket_id: str) -> bool:
        if self.bypass:
            return True
        return self.stored_row_allowed(BUCKETS, command, "id = :pe_id", {"pe_id": bucket_id})


def object_row(
    bucket_id: str, name: str, owner: str | None, metadata: Any = None, **times: str
) -> dict[str, Any]:
    """A candidate `storage.objects` row for a WITH CHECK (policy columns only)."""
    return {
        "bucket_id": bucket_id,
        "name": name,
        "owner": owner,
        "metadata": None if metadata is None else json.dumps(metadata),
        **times,
    }
