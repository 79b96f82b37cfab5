"""What translating a migration produces: typed operations with their SQLite, and the new catalog.

Pure data; `to_dict`/`from_dict` give the form a migration event carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from performer_edge.rest.catalog import Catalog, JsonValue
from performer_edge.rest.migrate_source import SourceStatement, statement_head


class OperationKind(StrEnum):
    CREATE_TABLE = "create_table"
    ALTER_TABLE = "alter_table"
    DROP_TABLE = "drop_table"
    CREATE_INDEX = "create_index"
    DROP_INDEX = "drop_index"
    CREATE_VIEW = "create_view"
    DROP_VIEW = "drop_view"
    CREATE_FUNCTION = "create_function"
    DROP_FUNCTION = "drop_function"
    CREATE_TYPE = "create_type"
    DROP_TYPE = "drop_type"
    ENABLE_RLS = "enable_rls"
    CREATE_POLICY = "create_policy"
    DROP_POLICY = "drop_policy"
    SEED = "seed"  # insert/update/delete/truncate: data, to be written as row events
    NO_OP = "no_op"  # accepted and recorded, changes nothing here; `notes` says why


class SeedCommand(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Seed:
    """Data a migration writes. `rows` is set for a plain `insert ... values` of literals: each
    row maps the listed columns to values in API shape (bool, number, str, list, dict; temporal
    values in their stored text); omitted and `default` columns take their defaults. Otherwise
    `rows` is None and the operation's `sqlite` is the only form."""

    table: str  # catalog key, e.g. public.todos or storage.buckets
    sqlite_table: str
    command: SeedCommand
    rows: tuple[Mapping[str, JsonValue], ...] | None = None
    ignore_conflicts: bool = False  # `on conflict do nothing`


@dataclass(frozen=True)
class Operation:
    """One statement of the migration. Run `sqlite` in order, inside the migration's transaction,
    unless `foreign_keys_off`: a table rebuild, which must run with `PRAGMA foreign_keys=OFF`
    (set outside a transaction) and be followed by an empty `PRAGMA foreign_key_check`."""

    kind: OperationKind
    line: int  # 1-based line of the statement in the file
    source: str  # the Postgres statement as written
    sqlite: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what was ignored or approximated, and why
    subject: str = ""  # catalog key of what it changes
    seed: Seed | None = None
    foreign_keys_off: bool = False

    @property
    def head(self) -> str:
        return statement_head(self.source)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind.value,
            "line": self.line,
            "source": self.source,
            "sqlite": list(self.sqlite),
            "notes": list(self.notes),
            "subject": self.subject,
            "foreign_keys_off": self.foreign_keys_off,
            "seed": None,
        }
        if self.seed is not None:
            data["seed"] = {
                "table": self.seed.table,
                "sqlite_table": self.seed.sqlite_table,
                "command": self.seed.command.value,
                "rows": None if self.seed.rows is None else [dict(r) for r in self.seed.rows],
                "ignore_conflicts": self.seed.ignore_conflicts,
            }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operation:
        seed_data = data.get("seed")
        seed = None
        if seed_data is not None:
            rows = seed_data.get("rows")
            seed = Seed(
                table=seed_data["table"],
                sqlite_table=seed_data["sqlite_table"],
                command=SeedCommand(seed_data["command"]),
                rows=None if rows is None else tuple(dict(r) for r in rows),
                ignore_conflicts=bool(seed_data.get("ignore_conflicts")),
            )
        return cls(
            kind=OperationKind(data["kind"]),
            line=int(data["line"]),
            source=str(data["source"]),
            sqlite=tuple(data.get("sqlite", ())),
            notes=tuple(data.get("notes", ())),
            subject=str(data.get("subject", "")),
            seed=seed,
            foreign_keys_off=bool(data.get("foreign_keys_off")),
        )


@dataclass(frozen=True)
class MigrationPlan:
    operations: tuple[Operation, ...]
    catalog: Catalog  # the catalog after the whole migration

    @property
    def sqlite(self) -> tuple[str, ...]:
        """Every SQLite statement, in order."""
        return tuple(s for op in self.operations for s in op.sqlite)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operations": [op.to_dict() for op in self.operations],
            "catalog": self.catalog.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MigrationPlan:
        operations = tuple(Operation.from_dict(op) for op in data["operations"])
        return cls(operations, Catalog.from_dict(data["catalog"]))


@dataclass(frozen=True)
class Step:
    """What one statement's translator returns to `translate`."""

    kind: OperationKind
    catalog: Catalog
    sqlite: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    subject: str = ""
    seed: Seed | None = None
    foreign_keys_off: bool = False

    def operation(self, statement: SourceStatement) -> Operation:
        return Operation(
            kind=self.kind,
            line=statement.line,
            source=statement.text,
            sqlite=self.sqlite,
            notes=self.notes,
            subject=self.subject,
            seed=self.seed,
            foreign_keys_off=self.foreign_keys_off,
        )
