"""Postgres migration SQL → typed SQLite operations and the new catalog. Sans-IO: no database here.

Entry point: `translate(sql_text, catalog)`. Every statement becomes exactly one `Operation`;
a statement that cannot be translated raises `MigrationError` with its line, never skipped.
"""

from __future__ import annotations

import re

from sqlglot import exp

from performer_edge.rest.catalog import Catalog, relation_key
from performer_edge.rest.migrate_alter import alter_table
from performer_edge.rest.migrate_function import create_function, drop_function
from performer_edge.rest.migrate_plan import (
    MigrationPlan,
    Operation,
    OperationKind,
    Seed,
    SeedCommand,
    Step,
)
from performer_edge.rest.migrate_policy import (
    alter_policy,
    alter_row_security,
    create_policy,
    drop_policy,
    is_row_security,
)
from performer_edge.rest.migrate_replica import alter_replica_identity, is_replica_identity
from performer_edge.rest.migrate_schema import (
    create_enum,
    create_index,
    create_view,
    drop_index,
    drop_relations,
    drop_type,
)
from performer_edge.rest.migrate_seed import seed_step
from performer_edge.rest.migrate_source import (
    MigrationError,
    SourceStatement,
    StatementError,
    TokenReader,
    parse_postgres,
    split_statements,
    table_ref,
)
from performer_edge.rest.migrate_table import create_table, table_ddl
from performer_edge.rest.migrate_types import InvalidValue

__all__ = [
    "MigrationError",
    "MigrationPlan",
    "Operation",
    "OperationKind",
    "Seed",
    "SeedCommand",
    "translate",
]

_PRIVILEGES = "privileges are not enforced here; roles and row-level policies decide access"
_SESSION = "session settings do not apply: each migration runs on the node's own connection"
_TRANSACTION = "each migration file is applied in one transaction"
# Statements accepted as no-ops, by their leading words, with the note recorded in the plan.
NO_OP_STATEMENTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("grant",), f"grant: {_PRIVILEGES}"),
    (("revoke",), f"revoke: {_PRIVILEGES}"),
    (("alter", "default", "privileges"), f"alter default privileges: {_PRIVILEGES}"),
    (("comment", "on"), "comment: comments are not kept"),
    (
        ("create", "extension"),
        "create extension: gen_random_uuid(), uuid_generate_v4() and now() are built in",
    ),
    (
        ("create", "schema"),
        "create schema: schemas are table-name prefixes here (private.notes → private_notes)",
    ),
    (
        ("alter", "publication"),
        "alter publication: every table's row changes reach Realtime already",
    ),
    (("set",), f"set: {_SESSION}"),
    (("reset",), f"reset: {_SESSION}"),
    (("begin",), f"begin: {_TRANSACTION}"),
    (("start", "transaction"), f"start transaction: {_TRANSACTION}"),
    (("commit",), f"commit: {_TRANSACTION}"),
    (("end",), f"end: {_TRANSACTION}"),
)
_SET_CONFIG = re.compile(r"^select\s+(pg_catalog\s*\.\s*)?set_config\s*\(", re.IGNORECASE)
_OWNER_TO = re.compile(
    r"^alter\s+(table|function|view|schema|type|sequence)\b.*\bowner\s+to\s+\S+$", re.I | re.S
)


def translate(sql_text: str, catalog: Catalog | None = None) -> MigrationPlan:
    """Translate one migration file. Pure: the same text and catalog give the same plan."""
    current = catalog if catalog is not None else Catalog()
    operations: list[Operation] = []
    for statement in split_statements(sql_text):
        step = translate_statement(statement, current)
        operations.append(step.operation(statement))
        current = step.catalog
    return MigrationPlan(tuple(operations), current)


def translate_statement(statement: SourceStatement, catalog: Catalog) -> Step:
    try:
        return _dispatch(statement.text, catalog)
    except StatementError as error:
        line = statement.line + error.line - 1
        raise MigrationError(error.reason, line=line, statement=statement.text) from error
    except InvalidValue as error:
        raise MigrationError(
            error.message, line=statement.line, statement=statement.text
        ) from error
    except (
        RecursionError
    ) as error:  # a pathologically nested expression exhausts sqlglot's recursion
        raise MigrationError(
            "statement nests too deeply", line=statement.line, statement=statement.text
        ) from error


def no_op_note(words: list[str], text: str) -> str | None:
    for prefix, note in NO_OP_STATEMENTS:
        if tuple(words[: len(prefix)]) == prefix:
            return note
    if _SET_CONFIG.match(text):
        return f"set_config: {_SESSION}"
    if _OWNER_TO.match(text):
        return "owner to: object ownership does not exist here"
    return None


def _dispatch(text: str, catalog: Catalog) -> Step:
    reader = TokenReader(text)
    words = [reader.word(i) for i in range(6)]
    note = no_op_note(words, text)
    if note is not None:
        return Step(OperationKind.NO_OP, catalog, notes=(note,))
    head = tuple(words[:2])
    by_words = {
        ("create", "policy"): create_policy,
        ("alter", "policy"): alter_policy,
        ("drop", "policy"): drop_policy,
    }
    if head in by_words:
        return by_words[head](text, catalog)
    if head == ("alter", "table") and is_row_security(text):
        return alter_row_security(text, catalog)
    if head == ("alter", "table") and is_replica_identity(text):
        return alter_replica_identity(text, catalog)
    if words[0] == "create" and "function" in words[1:4]:
        return create_function(text, catalog)
    if words[0] == "rollback":
        raise StatementError("rollback would undo the migration; remove it")
    fixed = (
        _array_suffix(text, reader) if head in (("create", "table"), ("alter", "table")) else text
    )
    return _parsed(parse_postgres(fixed), catalog)


def _parsed(node: exp.Expr, catalog: Catalog) -> Step:
    kind = str(node.args.get("kind") or "").upper()
    if isinstance(node, exp.Create) and kind == "TABLE":
        return _create_table(node, catalog)
    if isinstance(node, exp.Create) and kind == "INDEX":
        return create_index(node, catalog)
    if isinstance(node, exp.Create) and kind == "VIEW":
        return create_view(node, catalog)
    if isinstance(node, exp.Create) and kind == "TYPE":
        return create_enum(node, catalog)
    if isinstance(node, exp.Alter) and kind == "TABLE":
        return alter_table(node, catalog)
    if isinstance(node, exp.Drop) and kind in ("TABLE", "VIEW"):
        return drop_relations(node, catalog)
    if isinstance(node, exp.Drop) and kind == "INDEX":
        return drop_index(node, catalog)
    if isinstance(node, exp.Drop) and kind == "FUNCTION":
        return drop_function(node, catalog)
    if isinstance(node, exp.Drop) and kind == "TYPE":
        return drop_type(node, catalog)
    if isinstance(node, exp.Insert | exp.Update | exp.Delete | exp.TruncateTable):
        return seed_step(node, catalog)
    raise StatementError("unsupported statement")


def _create_table(node: exp.Expr, catalog: Catalog) -> Step:
    target = node.this.this if isinstance(node.this, exp.Schema) else node.this
    key = relation_key(*table_ref(target))
    if node.args.get("exists") and key in catalog.tables:
        return Step(
            OperationKind.NO_OP, catalog, notes=(f'relation "{key}" already exists, skipped',)
        )
    table, notes = create_table(node, catalog)
    return Step(
        OperationKind.CREATE_TABLE,
        catalog.with_table(table),
        (table_ddl(table),),
        tuple(notes),
        key,
    )


def _array_suffix(text: str, reader: TokenReader) -> str:
    """`integer array` → `integer[]`: sqlglot reads the suffix form only before `)`."""
    pieces, cursor = [], 0
    for index, token in enumerate(reader.tokens):
        following = reader.tokens[index + 1].text if index + 1 < len(reader.tokens) else ""
        if token.text.lower() == "array" and following not in ("[", "(") and index > 0:
            pieces += [text[cursor : token.start], "[]"]
            cursor = token.end + 1
    return "".join(pieces) + text[cursor:]
