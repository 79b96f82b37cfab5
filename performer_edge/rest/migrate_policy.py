"""Row-level security: `create/alter/drop policy` and `alter table ... row level security`.

Pure. `using`/`with check` become SQLite predicates a query compiler ANDs into its WHERE;
they call the request functions named in `migrate_runtime`.
"""

from __future__ import annotations

from dataclasses import replace

from performer_edge.rest.catalog import (
    SYSTEM_TABLES,
    Catalog,
    Policy,
    PolicyCommand,
    Table,
    relation_key,
)
from performer_edge.rest.migrate_expr import Scope, expression_sql
from performer_edge.rest.migrate_plan import OperationKind, Step
from performer_edge.rest.migrate_source import StatementError, TokenReader, parse_postgres

API_ROLES = frozenset({"anon", "authenticated", "service_role", "public"})
# Storage's tables take policies (bucket access rules); the Storage component compiles them.
# realtime.messages takes the policies that authorize private Realtime channels.
POLICY_SYSTEM_TABLES = frozenset({"storage.objects", "storage.buckets", "realtime.messages"})


def _policy_table(reader: TokenReader, catalog: Catalog) -> Table:
    schema, name = reader.qualified_name()
    key = relation_key(schema, name)
    table = catalog.tables.get(key)
    if table is None and key in POLICY_SYSTEM_TABLES:
        table = SYSTEM_TABLES[key]
    if table is None:
        raise StatementError(f'relation "{key}" does not exist', line=reader.line())
    return table


def _predicate(reader: TokenReader, table: Table, catalog: Catalog) -> str:
    text, line = reader.parenthesized()
    try:
        return expression_sql(parse_postgres(text), Scope(catalog, table=table))
    except StatementError as error:
        raise StatementError(error.reason, line=line + error.line - 1) from error


def _roles(reader: TokenReader) -> tuple[tuple[str, ...], list[str]]:
    roles, notes = [reader.name()], []
    while reader.symbol(","):
        roles.append(reader.name())
    for role in roles:
        if role not in API_ROLES:
            notes.append(f"role {role} is not anon, authenticated or service_role: never applies")
    return tuple(roles), notes


def create_policy(text: str, catalog: Catalog) -> Step:
    reader = TokenReader(text)
    reader.expect("create", "policy")
    name = reader.name()
    reader.expect("on")
    table = _policy_table(reader, catalog)
    if any(p.name == name for p in catalog.policies_for(table.key)):
        raise StatementError(f'policy "{name}" for table "{table.key}" already exists')
    permissive = True
    if reader.accept("as"):
        if reader.accept("restrictive"):
            permissive = False
        else:
            reader.expect("permissive")
    command = PolicyCommand.ALL
    if reader.accept("for"):
        word = reader.word()
        if word not in PolicyCommand.__members__.values():
            raise StatementError(
                "expected all, select, insert, update or delete after for", line=reader.line()
            )
        command = PolicyCommand(word)
        reader.position += 1
    roles, notes = _roles(reader) if reader.accept("to") else (("public",), [])
    using = _predicate(reader, table, catalog) if reader.accept("using") else None
    with_check = _predicate(reader, table, catalog) if reader.accept("with", "check") else None
    _expect_end(reader)
    if with_check is not None and command in (PolicyCommand.SELECT, PolicyCommand.DELETE):
        raise StatementError("WITH CHECK cannot be applied to SELECT or DELETE")
    if using is not None and command is PolicyCommand.INSERT:
        raise StatementError("only WITH CHECK expression allowed for INSERT")
    policy = Policy(name, table.key, command, roles, permissive, using, with_check)
    if not table.rls_enabled and table.key in catalog.tables:
        notes.append(
            f"row level security is not enabled on {table.key} yet; the policy applies once it is"
        )
    return Step(
        OperationKind.CREATE_POLICY,
        catalog.with_policy(policy),
        notes=tuple(notes),
        subject=table.key,
    )


def alter_policy(text: str, catalog: Catalog) -> Step:
    reader = TokenReader(text)
    reader.expect("alter", "policy")
    name = reader.name()
    reader.expect("on")
    table = _policy_table(reader, catalog)
    policy = next((p for p in catalog.policies_for(table.key) if p.name == name), None)
    if policy is None:
        raise StatementError(f'policy "{name}" for table "{table.key}" does not exist')
    notes: list[str] = []
    if reader.accept("rename", "to"):
        changed = replace(policy, name=reader.name())
    else:
        changed = policy
        if reader.accept("to"):
            roles, notes = _roles(reader)
            changed = replace(changed, roles=roles)
        if reader.accept("using"):
            changed = replace(changed, using=_predicate(reader, table, catalog))
        if reader.accept("with", "check"):
            changed = replace(changed, with_check=_predicate(reader, table, catalog))
    _expect_end(reader)
    policies = tuple(changed if p is policy else p for p in catalog.policies)
    return Step(
        OperationKind.CREATE_POLICY,
        replace(catalog, policies=policies),
        notes=tuple(notes),
        subject=table.key,
    )


def drop_policy(text: str, catalog: Catalog) -> Step:
    reader = TokenReader(text)
    reader.expect("drop", "policy")
    exists = reader.accept("if", "exists")
    name = reader.name()
    reader.expect("on")
    table = _policy_table(reader, catalog)
    if not reader.accept("cascade"):
        reader.accept("restrict")
    _expect_end(reader)
    if not any(p.name == name for p in catalog.policies_for(table.key)):
        if exists:
            return Step(
                OperationKind.NO_OP, catalog, notes=(f'policy "{name}" does not exist, skipped',)
            )
        raise StatementError(f'policy "{name}" for table "{table.key}" does not exist')
    return Step(
        OperationKind.DROP_POLICY, catalog.without_policy(table.key, name), subject=table.key
    )


def is_row_security(text: str) -> bool:
    reader = TokenReader(text)
    words = [reader.word(i) for i in range(len(reader.tokens))]
    return words[-3:] == ["row", "level", "security"]


def read_alter_table(text: str) -> tuple[TokenReader, bool, tuple[str, str]]:
    """`alter table [if exists] [only] name`: the reader after the name, `if exists`, the name."""
    reader = TokenReader(text)
    reader.expect("alter", "table")
    exists = reader.accept("if", "exists")
    reader.accept("only")
    return reader, exists, reader.qualified_name()


def alter_row_security(text: str, catalog: Catalog) -> Step:
    """`alter table t enable|disable|force|no force row level security`."""
    reader, exists, (schema, name) = read_alter_table(text)
    key = relation_key(schema, name)
    table = catalog.tables.get(key)
    if reader.accept("enable"):
        enabled: bool | None = True
    elif reader.accept("disable"):
        enabled = False
    elif reader.accept("force") or reader.accept("no", "force"):
        enabled = None
    else:
        raise StatementError("expected enable, disable, force or no force", line=reader.line())
    reader.expect("row", "level", "security")
    _expect_end(reader)
    if table is None:
        if key in POLICY_SYSTEM_TABLES:
            return Step(
                OperationKind.NO_OP, catalog, notes=(f"{key} always has row level security here",)
            )
        if exists:
            return Step(
                OperationKind.NO_OP, catalog, notes=(f'relation "{key}" does not exist, skipped',)
            )
        raise StatementError(f'relation "{key}" does not exist')
    if enabled is None:
        note = "force/no force ignored: no role owns tables; policies apply to all but service_role"
        return Step(OperationKind.NO_OP, catalog, notes=(note,), subject=key)
    return Step(
        OperationKind.ENABLE_RLS,
        catalog.with_table(replace(table, rls_enabled=enabled)),
        subject=key,
    )


def _expect_end(reader: TokenReader) -> None:
    if not reader.at_end():
        raise StatementError(
            f"unexpected {reader.current.text if reader.current else ''}", line=reader.line()
        )
