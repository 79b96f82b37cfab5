"""`alter table t replica identity default | full | nothing | using index i`.

Postgres writes this much of a changed row's old version to the WAL, and Supabase Realtime
sends it as `old_record`: the primary key by default (or the columns of the named unique index),
the whole row with `full`, nothing with `nothing`. Here it is a catalog setting that Realtime
reads (`realtime.changes`); no SQLite schema changes.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from performer_edge.rest.catalog import Catalog, ReplicaIdentity, relation_key
from performer_edge.rest.migrate_plan import OperationKind, Step
from performer_edge.rest.migrate_policy import read_alter_table
from performer_edge.rest.migrate_source import StatementError, TokenReader


def is_replica_identity(text: str) -> bool:
    reader = TokenReader(text)
    words = [reader.word(i) for i in range(min(len(reader.tokens), 12))]
    pairs = set(itertools.pairwise(words))
    return words[:2] == ["alter", "table"] and ("replica", "identity") in pairs


def alter_replica_identity(text: str, catalog: Catalog) -> Step:
    reader, exists, (schema, name) = read_alter_table(text)
    key = relation_key(schema, name)
    reader.expect("replica", "identity")
    index_columns: tuple[str, ...] = ()
    if reader.accept("using", "index"):
        identity = ReplicaIdentity.INDEX
        index_name = reader.name()
        index = catalog.indexes.get(relation_key(schema, index_name))
        if index is None or not index.unique or index.table != key:
            raise StatementError(
                f'"{index_name}" is not a unique index of {key}', line=reader.line()
            )
        index_columns = tuple(k.strip('"') for k in index.keys)
    else:
        word = reader.word()
        try:
            identity = ReplicaIdentity(word)
        except ValueError:
            raise StatementError(
                "expected default, full, nothing or using index", line=reader.line()
            ) from None
        reader.accept(word)
    if not reader.at_end():
        raise StatementError(f"unexpected {reader.word()!r}", line=reader.line())
    table = catalog.tables.get(key)
    if table is None:
        if exists:
            return Step(
                OperationKind.NO_OP, catalog, notes=(f'relation "{key}" does not exist, skipped',)
            )
        raise StatementError(f'relation "{key}" does not exist')
    changed = replace(table, replica_identity=identity, replica_index_columns=index_columns)
    return Step(OperationKind.ALTER_TABLE, catalog.with_table(changed), subject=key)
