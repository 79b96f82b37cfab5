"""`performer auth users|outbox`: the users and the emails of a data dir, read directly."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from performer_edge.auth import store
from performer_edge.auth.admin import read_outbox
from performer_edge.cli.common import add_settings_flags, open_readonly, settings_from
from performer_edge.core.datadir import DataDir


def register(commands: Any) -> None:
    parser = commands.add_parser("auth", help="list users and the email outbox")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    users = actions.add_parser("users", help="list the users (newest first)")
    add_settings_flags(users, ["data"])
    users.add_argument("--limit", type=int, default=100, help="at most this many")
    users.add_argument("--json", action="store_true", help="one JSON object per line")
    users.set_defaults(run=run_users)

    outbox = actions.add_parser("outbox", help="the emails this node sent or holds")
    add_settings_flags(outbox, ["data"])
    outbox.add_argument("--limit", type=int, default=20, help="at most this many")
    outbox.add_argument("--json", action="store_true", help="one JSON object per line")
    outbox.set_defaults(run=run_outbox)


def run_users(args: argparse.Namespace) -> int:
    conn = open_readonly(DataDir(settings_from(args).data))
    try:
        rows = store.fetch_rows(
            conn,
            "SELECT id, email, phone, role, is_anonymous, email_confirmed_at, last_sign_in_at, "
            "banned_until, created_at FROM auth_users WHERE deleted_at IS NULL "
            "ORDER BY created_at DESC LIMIT ?",
            (args.limit,),
        )
    finally:
        conn.close()
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    table = Table("id", "email / phone", "role", "confirmed", "last sign-in", "created")
    for row in rows:
        who = row["email"] or row["phone"] or ("(anonymous)" if row["is_anonymous"] else "")
        if row["banned_until"]:
            who += f"  [banned until {row['banned_until']}]"
        table.add_row(
            row["id"],
            who,
            row["role"],
            "yes" if row["email_confirmed_at"] else "no",
            row["last_sign_in_at"] or "",
            row["created_at"],
        )
    console = Console() if Console().is_terminal else Console(width=200)
    console.print(table)
    print(f"{len(rows)} users")
    return 0


def run_outbox(args: argparse.Namespace) -> int:
    conn = open_readonly(DataDir(settings_from(args).data))
    try:
        messages = read_outbox(conn, args.limit)
    finally:
        conn.close()
    if args.json:
        for message in messages:
            print(json.dumps(message))
        return 0
    for message in messages:
        state = "sent " + message["sent_at"] if message["sent_at"] else "not sent (no SMTP)"
        if message["error"]:
            state = f"failed: {message['error']}"
        print(f"#{message['id']}  {message['created_at']}  to {message['recipient']}  [{state}]")
        print(f"  Subject: {message['subject']}")
        for line in message["body"].rstrip().splitlines():
            print(f"  {line}")
        print()
    if not messages:
        print("the outbox is empty")
    return 0
