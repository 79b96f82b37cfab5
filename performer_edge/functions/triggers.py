"""Trigger syntax (README, Functions: triggers): parse what a deploy gives, match committed
events against it, and the view of an event a triggered function receives. Pure: no I/O.

    event:KIND                 one kind: event:auth.user_signed_up, event:app.order_placed
    event:FAMILY.              every kind under it: event:row., event:auth., event:storage.
    event:row.OP:TABLE         row events of one table (OP insert|update|delete, or `row.:TABLE`
                               for all three); TABLE is `name` (schema public) or `schema.name`
    cron:SCHEDULE              five-field cron in UTC (`functions.cron`)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from performer_edge.core import hlc as hlc_mod
from performer_edge.core.events import Event, kind_problems
from performer_edge.errors import IntegrityError, InvalidInput
from performer_edge.functions.cron import CronSchedule
from performer_edge.rest.catalog import sqlite_table_name
from performer_edge.rest.row_format import (
    KIND_OF_OP,
    RowOp,
    parse_row_event,
    table_name_problem,
)

EVENT = "event:"
CRON = "cron:"
ROW = "row."
# What a trigger may follow. Not `function.` (a deployment carries a whole module), `cluster.`,
# `schema.` or `realtime.`: node machinery, not application events.
FAMILIES = ("row.", "auth.", "storage.", "app.")
# Auth events carry password hashes and token digests: a function sees only these user fields.
USER_FIELDS = (
    "id",
    "aud",
    "role",
    "email",
    "phone",
    "created_at",
    "updated_at",
    "email_confirmed_at",
    "phone_confirmed_at",
    "last_sign_in_at",
    "banned_until",
    "deleted_at",
    "is_anonymous",
)
USER_JSON_FIELDS = {"raw_user_meta_data": "user_metadata", "raw_app_meta_data": "app_metadata"}


# Triggers given as one string are comma-separated; a cron schedule's own commas (`0,30 * * * *`)
# are not followed by a trigger prefix.
TRIGGER_SEPARATOR = re.compile(r",\s*(?=event:|cron:)")


def split_triggers(text: str) -> list[str]:
    return [t for t in TRIGGER_SEPARATOR.split(text) if t]


def invalid(text: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"invalid trigger {text[:80]!r}: {why}. Give event:KIND (event:auth.user_signed_up, "
        "event:app.order_placed), event:row.insert:TABLE or cron:'*/5 * * * *'",
        code="invalid_triggers",
    )


@dataclass(frozen=True)
class EventTrigger:
    text: str
    kind: str  # a kind, or a family ending in `.`
    table: str | None  # row triggers of one table: its SQLite name (`orders`, `private_notes`)

    def matches(self, event: Event) -> bool:
        if self.kind.endswith("."):
            if not event.kind.startswith(self.kind):
                return False
        elif event.kind != self.kind:
            return False
        return self.table is None or event.scope == "table:" + self.table


@dataclass(frozen=True)
class CronTrigger:
    text: str
    schedule: CronSchedule


Trigger = EventTrigger | CronTrigger


def parse_trigger(text: str) -> Trigger:
    """A trigger from its text (InvalidInput saying what is wrong); `text` on the result is
    the canonical spelling, which is what a deployment stores."""
    if text.startswith(CRON):
        schedule = CronSchedule.parse(text.removeprefix(CRON))
        return CronTrigger(CRON + schedule.text, schedule)
    if not text.startswith(EVENT):
        raise invalid(text, "it must start with event: or cron:")
    kind, colon, table = text.removeprefix(EVENT).partition(":")
    if not kind or kind_problems(kind.removesuffix(".")):
        raise invalid(text, f"{kind!r} is not an event kind (dotted lowercase words)")
    if not kind.startswith(FAMILIES):
        raise invalid(text, f"triggers follow kinds under {', '.join(FAMILIES)}")
    if not colon:
        return EventTrigger(text, kind, None)
    row_kinds = {ROW, *KIND_OF_OP.values()}
    if kind not in row_kinds:
        raise invalid(text, "only row kinds (row., row.insert, ...) take a :TABLE")
    schema, dot, name = table.partition(".")
    if not dot:
        schema, name = "public", table
    problem = table_name_problem(name) or (None if schema else "the schema is empty")
    if problem:
        raise invalid(text, problem)
    return EventTrigger(f"{EVENT}{kind}:{schema}.{name}", kind, sqlite_table_name(schema, name))


def event_view(event: Event) -> dict[str, Any]:
    """What a triggered function gets as `event`: identity, kind, scope, time and `data`."""
    return {
        "id": f"{event.origin.hex()}:{event.seq}",
        "origin": event.origin.hex(),
        "seq": event.seq,
        "kind": event.kind,
        "scope": event.scope,
        "time": hlc_mod.to_iso(event.hlc),
        "data": event_data(event),
    }


def event_data(event: Event) -> Any:
    if event.kind.startswith(ROW):
        return _row_data(event)
    if event.kind.startswith("auth."):
        return _auth_data(event)
    return event.to_json()["payload"]


def _row_data(event: Event) -> dict[str, Any]:
    """Shaped like a Supabase database webhook: `type`, `table`, `record`. An update's record
    holds the key and the columns it wrote; a delete has the key only (`pk`)."""
    try:
        write = parse_row_event(event)
    except IntegrityError:
        return {"type": None, "raw": event.to_json()["payload"]}
    pk = _jsonable(dict(write.pk))
    record = None if write.op is RowOp.DELETE else {**pk, **_jsonable(dict(write.values))}
    return {"type": write.op.value, "table": write.table, "pk": pk, "record": record}


def _auth_data(event: Event) -> dict[str, Any]:
    """The users the event wrote, with no secrets: `{"users": [{id, email, ...}]}`."""
    payload = event.data
    ops = payload.get("ops") if isinstance(payload, dict) else None
    users: list[dict[str, Any]] = []
    for op in ops if isinstance(ops, list) else []:
        if isinstance(op, list) and len(op) >= 3 and op[:2] == ["upsert", "auth_users"]:
            row = op[2] if isinstance(op[2], dict) else {}
            user = {k: row[k] for k in USER_FIELDS if k in row}
            user.update({new: row[old] for old, new in USER_JSON_FIELDS.items() if old in row})
            users.append(user)
        elif isinstance(op, list) and len(op) >= 3 and op[:2] == ["update", "auth_users"]:
            changes = op[3] if len(op) > 3 and isinstance(op[3], dict) else {}
            user = {"id": op[2], **{k: changes[k] for k in USER_FIELDS if k in changes}}
            users.append(user)
    return {"users": users}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    # Blobs as PostgREST shows bytea: `\x` and hex.
    return {k: "\\x" + v.hex() if isinstance(v, bytes) else v for k, v in values.items()}
