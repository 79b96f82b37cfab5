"""GIN (or GiST) indexes on a tsvector as FTS5 tables, kept in step with their table by triggers.

Pure: statements only. `create index ... using gin (fts)` on a tsvector column, or `using gin
(to_tsvector('english', body))`, makes a contentless FTS5 table named as the index, holding for
each row (by rowid) the `fts_document` of the tsvector (compile_fts_index explains the tokens),
and AFTER INSERT/UPDATE/DELETE triggers on the table. Row events write user tables with plain
INSERT/UPDATE/DELETE, and a replay empties them with DELETE, so the triggers see every change.

Contentless (`content=''`) rather than external content: the index holds lexemes, not a copy of
a column, so FTS5 could not rebuild it from the table; `contentless_delete=1` lets the triggers
delete by rowid. A table rebuild (ALTER TABLE via copy) gives rows new rowids, so the triggers
are made again and the index refilled (`refresh_statements`).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from performer_edge.rest.catalog import Catalog, Index, Table, sqlite_table_name
from performer_edge.rest.migrate_calls import tsvector_config
from performer_edge.rest.migrate_expr import quote_name, sqlite_sql
from performer_edge.rest.migrate_runtime import FTS_DOCUMENT, FTS_TOKENIZER
from performer_edge.rest.migrate_source import identifier_name
from performer_edge.rest.migrate_table import index_ddl

FULL_TEXT_METHODS = ("gin", "gist")
_TEXT_TYPES = ("text", "varchar", "char")
_TRIGGERS = ("insert", "update", "delete")


def search_target(key: exp.Expr, table: Table) -> tuple[str, str] | None:
    """(search_column, search_config) when the index key is a tsvector, else None. The column is
    "" when no filter can name what is indexed (`to_tsvector('english', a || b)`)."""
    if isinstance(key, exp.Column) and not key.args.get("table"):
        column = table.column(identifier_name(key.this))
        if column is not None and column.pg_type == "tsvector" and not column.array_dims:
            return column.name, ""
        return None
    if not (isinstance(key, exp.Anonymous) and str(key.this).lower() == "to_tsvector"):
        return None
    config = tsvector_config(key)
    document = key.expressions[-1] if key.expressions else None
    if isinstance(document, exp.Column) and not document.args.get("table"):
        column = table.column(identifier_name(document.this))
        if column is not None and column.base_type in _TEXT_TYPES and not column.array_dims:
            return column.name, config
    return "", config


def index_statements(index: Index, catalog: Catalog, *, rebuilt: bool = False) -> tuple[str, ...]:
    """What makes `index` exist; `rebuilt` when only its table was made again (a rebuild)."""
    if not index.full_text:
        return (index_ddl(index, catalog),)
    table = catalog.tables[index.table]
    if rebuilt:
        return _refresh_statements(index, table)
    fts = _fts_name(index)
    create = (
        f"CREATE VIRTUAL TABLE {fts} USING fts5(doc, content='', contentless_delete=1, "
        f'tokenize="{FTS_TOKENIZER}")'
    )
    return (create, *_trigger_statements(index, table), _fill_statement(index, table))


def drop_statements(index: Index) -> tuple[str, ...]:
    """What removes the FTS5 table of `index` and its triggers (some may be gone already)."""
    triggers = (f"DROP TRIGGER IF EXISTS {_trigger_name(index, t)}" for t in _TRIGGERS)
    return (*triggers, f"DROP TABLE IF EXISTS {_fts_name(index)}")


def _refresh_statements(index: Index, table: Table) -> tuple[str, ...]:
    fts = _fts_name(index)
    triggers = (f"DROP TRIGGER IF EXISTS {_trigger_name(index, t)}" for t in _TRIGGERS)
    return (
        *triggers,
        *_trigger_statements(index, table),
        f"INSERT INTO {fts}({fts}) VALUES ('delete-all')",
        _fill_statement(index, table),
    )


def _fts_name(index: Index) -> str:
    return quote_name(sqlite_table_name(index.schema, index.name))


def _trigger_name(index: Index, event: str) -> str:
    return quote_name(f"{sqlite_table_name(index.schema, index.name)}__{event}")


def _over(row: str, key: str) -> str:
    """The index key (over unqualified columns) read from a trigger's `new` or `old` row."""
    tree = sqlglot.parse_one(key, read="sqlite")
    for column in tree.find_all(exp.Column):
        column.set("table", exp.to_identifier(row))
    return sqlite_sql(tree)


def _trigger_statements(index: Index, table: Table) -> tuple[str, str, str]:
    fts, target, key = _fts_name(index), quote_name(table.sqlite_name), index.keys[0]
    document = f"{FTS_DOCUMENT}({_over('new', key)})"
    insert = f"INSERT INTO {fts}(rowid, doc) VALUES (new.rowid, {document})"
    delete = f"DELETE FROM {fts} WHERE rowid = old.rowid"
    columns = sorted({c.name for c in sqlglot.parse_one(key, read="sqlite").find_all(exp.Column)})
    changed = " OR ".join(
        f"old.{quote_name(c)} IS NOT new.{quote_name(c)}" for c in ("rowid", *columns)
    )
    return (
        f"CREATE TRIGGER {_trigger_name(index, 'insert')} AFTER INSERT ON {target} "
        f"BEGIN {insert}; END",
        f"CREATE TRIGGER {_trigger_name(index, 'update')} AFTER UPDATE ON {target} "
        f"WHEN {changed} BEGIN {delete}; {insert}; END",
        f"CREATE TRIGGER {_trigger_name(index, 'delete')} AFTER DELETE ON {target} "
        f"BEGIN {delete}; END",
    )


def _fill_statement(index: Index, table: Table) -> str:
    fts, key = _fts_name(index), index.keys[0]
    return (
        f"INSERT INTO {fts}(rowid, doc) "
        f"SELECT rowid, {FTS_DOCUMENT}({key}) FROM {quote_name(table.sqlite_name)}"
    )
