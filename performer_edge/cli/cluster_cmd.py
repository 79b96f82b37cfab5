"""`performer cluster init|invite|join|revoke|status`: make a cluster, admit and revoke nodes.

`init` and `join` change what the node is, so they need it stopped (they hold the data dir's
lock while they work). `invite` and `status` work beside a running node: invites live in a
node-local file a running server shares (`peers/invites.py`), status reads the database
read-only. `revoke` appends an event: through the running root node's revocations route when
it is serving (`--url`, default the `api_url` setting), else directly.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from typing import Any

from performer_edge.cli.common import add_settings_flags, open_readonly, settings_from
from performer_edge.config import Settings
from performer_edge.core.datadir import DataDir
from performer_edge.core.hlc import wall_clock_ms
from performer_edge.errors import (
    ConfigError,
    DataDirError,
    Forbidden,
    InvalidInput,
    Unavailable,
)
from performer_edge.node import Node
from performer_edge.peers import (
    admission,
    cluster_client,
    cluster_events,
    invites,
    membership,
    trust,
)

DURATION = re.compile(r"^(\d+)([smhd]?)$")
UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_INVITE_S = 365 * 86400


def register(commands: Any) -> None:
    parser = commands.add_parser("cluster", help="make a cluster, invite, admit and revoke nodes")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    init = actions.add_parser("init", help="make a cluster with this node as its root")
    add_settings_flags(init, ["data"])
    init.set_defaults(run=run_init)

    invite = actions.add_parser("invite", help="print a one-time invite (root node only)")
    add_settings_flags(invite, ["data"])
    invite.add_argument(
        "--url",
        action="append",
        default=[],
        help="where the new node reaches this one (repeatable; default: the api_url setting)",
    )
    invite.add_argument("--expires", default="24h", help="how long it works: 90s, 30m, 24h, 7d")
    invite.add_argument("--roles", default="node", help="the new node's roles: node or hub")
    invite.set_defaults(run=run_invite)

    join = actions.add_parser("join", help="join a cluster with an invite (node stopped)")
    add_settings_flags(join, ["data"])
    join.add_argument("invite", metavar="INVITE", help="the invite printed by `cluster invite`")
    join.set_defaults(run=run_join)

    revoke = actions.add_parser("revoke", help="revoke a node's membership (root node only)")
    add_settings_flags(revoke, ["data"])
    revoke.add_argument("node_id", metavar="NODE_ID", help="the node's id (64 hex digits)")
    revoke.add_argument(
        "--url", help="the running root node's URL, when it is serving (default: api_url)"
    )
    revoke.set_defaults(run=run_revoke)

    status = actions.add_parser("status", help="cluster id, roles, members, revoked nodes")
    add_settings_flags(status, ["data"])
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(run=run_status)


def run_init(args: argparse.Namespace) -> int:
    node = _open_stopped(settings_from(args), "cluster init")
    try:
        _refuse_second_cluster(node)
        made = membership.create_cluster(node.data_dir, node.identity, wall_clock_ms())
        node.cluster.joined(made, node.tokens)
    finally:
        node.close()
    print(f"cluster id  {made.cluster_id.hex()}")
    print(f"node id     {node.identity.node_id}  (roles {', '.join(made.roles)})")
    print(f"invite a node with: performer cluster invite --data {node.settings.data} --url URL")
    return 0


def run_invite(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    data_dir = DataDir(settings.data)
    data_dir.require_initialized()
    made = membership.load(data_dir)
    if made is None:
        raise DataDirError(f"{data_dir.root} is in no cluster (run `performer cluster init`)")
    if membership.load_root(data_dir) is None:
        raise Forbidden(
            "only the node holding the cluster's root key (the one that ran "
            "`performer cluster init`) can invite nodes",
            code="not_root",
        )
    urls = tuple(u.rstrip("/") for u in args.url) or (settings.public_url,)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"--url must be an http:// or https:// URL, not {url!r}")
    try:
        roles = invites.parse_roles(args.roles)
    except InvalidInput as exc:
        raise ConfigError(f"--roles: {exc.message}") from exc
    now = wall_clock_ms()
    expires_ms = now + parse_duration(args.expires) * 1000
    invite = invites.InviteBook(data_dir).issue(made.cluster_id, urls, roles, now, expires_ms)
    print(invite.encode())
    print(
        f"one use, for roles {', '.join(roles)}, until {_iso(expires_ms)}; "
        f"the new node joins through {', '.join(urls)}:\n"
        f"  performer cluster join INVITE --data DIR",
        file=sys.stderr,
    )
    return 0


def run_join(args: argparse.Namespace) -> int:
    invite = invites.decode(args.invite)
    now = wall_clock_ms()
    if now >= invite.expires_ms:
        raise Forbidden(
            f"the invite expired at {_iso(invite.expires_ms)}; ask for a new one",
            code="invite_expired",
        )
    node = _open_stopped(settings_from(args), "cluster join")
    try:
        _refuse_second_cluster(node)
        joined = cluster_client.request_membership(invite, node.identity.signing_key, now)
        membership.save(node.data_dir, joined)
        node.cluster.joined(joined, node.tokens)
    finally:
        node.close()
    print(f"joined cluster {joined.cluster_id.hex()}")
    print(f"node id     {node.identity.node_id}  (roles {', '.join(joined.roles)})")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    node_id = admission.parse_node_id(args.node_id)
    settings = settings_from(args)
    data_dir = DataDir(settings.data)
    data_dir.require_initialized()
    serving = data_dir.lock_holder()
    if serving is not None:
        url = (args.url or settings.public_url).rstrip("/")
        api_keys = data_dir.api_keys(data_dir.load_token_keys(settings.jwt_secret))
        try:
            event = cluster_client.request_revocation(url, api_keys.service_role_key, node_id)
        except Unavailable as exc:
            raise Unavailable(
                f"the node is serving (pid {serving}), but {exc.message}; give its URL with --url",
                code=exc.error_code,
            ) from exc
        where = f"event {str(event.get('origin', ''))[:12]}:{event.get('seq')}, through {url}"
    else:
        node = Node.open(settings)
        try:
            payload = admission.plan_revocation(
                node.data_dir, node.cluster, node_id, wall_clock_ms()
            )
            committed = node.db.write_sync(
                lambda tx: node.log.append(tx, cluster_events.REVOKED, node_id.hex(), payload)
            )
        finally:
            node.close()
        where = f"event {committed.origin.hex()[:12]}:{committed.seq}"
    print(f"revoked {node_id.hex()} ({where}); the revocation reaches the others as they sync")
    return 0


def run_status(args: argparse.Namespace) -> int:
    data_dir = DataDir(settings_from(args).data)
    data_dir.require_initialized()
    state = cluster_status(data_dir)
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    if state["cluster_id"] is None:
        print("not in a cluster (performer cluster init, or performer cluster join INVITE)")
        return 0
    certificate = state["certificate"]
    print(f"cluster id   {state['cluster_id']}")
    print(f"node id      {state['node_id']}")
    print(f"roles        {', '.join(state['roles'])}")
    print(f"certificate  issued {certificate['issued_at']}, expires {certificate['expires_at']}")
    if state["root_key"]:
        print(f"invites      {state['pending_invites']} pending")
    print(f"members      {len(state['members'])} known (from their jwt_key events)")
    for member in state["members"]:
        print(f"  {member['node_id']}  roles {', '.join(member['roles'])}  kids {member['kids']}")
    print(f"revoked      {len(state['revoked'])}")
    for revoked in state["revoked"]:
        print(f"  {revoked['node_id']}  at {revoked['revoked_at']}")
    return 0


def cluster_status(data_dir: DataDir) -> dict[str, Any]:
    """What `cluster status` shows, as one JSON-ready object."""
    node_id = data_dir.load_identity().node_id
    made = membership.load(data_dir)
    if made is None:
        return {"cluster_id": None, "node_id": node_id}
    certificate = trust.parse(made.certificate)
    holds_root = membership.load_root(data_dir) is not None
    members: dict[str, dict[str, Any]] = {}
    revoked: dict[bytes, int] = {}
    if data_dir.db_path.exists():
        conn = open_readonly(data_dir)
        try:
            revoked = cluster_events.revoked_nodes(conn, made.cluster_id)
            keys = cluster_events.member_keys(conn, made.cluster_id)
        finally:
            conn.close()
        for key in keys:
            member = members.setdefault(
                key.node_id.hex(),
                {"node_id": key.node_id.hex(), "roles": list(key.roles), "kids": []},
            )
            member["kids"].append(key.kid)
            member["certificate_expires_at"] = _iso(key.expires_ms) if key.expires_ms else None
    state: dict[str, Any] = {
        "cluster_id": made.cluster_id.hex(),
        "node_id": node_id,
        "roles": list(made.roles),
        "root_key": holds_root,
        "certificate": {
            "issued_at": _iso(certificate.issued_ms),
            "expires_at": _iso(certificate.expires_ms) if certificate.expires_ms else "never",
        },
        "members": list(members.values()),
        "revoked": [{"node_id": n.hex(), "revoked_at": _iso(at)} for n, at in revoked.items()],
    }
    if holds_root:
        state["pending_invites"] = invites.InviteBook(data_dir).pending(wall_clock_ms())
    return state


def parse_duration(text: str) -> int:
    """Seconds in `90s`, `30m`, `24h`, `7d` or a bare number of seconds."""
    match = DURATION.match(text.strip().lower())
    seconds = int(match.group(1)) * UNIT_S[match.group(2)] if match else 0
    if not 1 <= seconds <= MAX_INVITE_S:
        raise ConfigError(
            f"--expires must be a duration like 90s, 30m, 24h or 7d, at most 365d, not {text!r}"
        )
    return seconds


def _open_stopped(settings: Settings, command: str) -> Node:
    """The node, opened for this command alone: it must not be serving."""
    data_dir = DataDir(settings.data)
    holder = data_dir.lock_holder() if data_dir.root.exists() else None
    if holder is not None:
        raise DataDirError(
            f"data dir {data_dir.root} is being served (pid {holder}); stop the node, run "
            f"`performer {command}`, then start it again"
        )
    return Node.open(settings)


def _refuse_second_cluster(node: Node) -> None:
    held = node.cluster.membership
    if held is not None:
        raise DataDirError(
            f"{node.settings.data} already belongs to cluster {held.cluster_id.hex()} "
            "(a node is in one cluster at most)"
        )


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
