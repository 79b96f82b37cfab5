"""`performer serve`: open (or create) a data dir and serve every API over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
from typing import Any

from performer_edge import __version__
from performer_edge.cli.common import add_settings_flags, settings_from
from performer_edge.http.server import serve
from performer_edge.logs import configure_logging
from performer_edge.node import Node
from performer_edge.rest.migrations import apply_migrations, read_migration_files

log = logging.getLogger("performer.serve")

UNLIMITED_NOFILE = 1 << 20  # Linux's default fs.nr_open
# The node's threads (SQLite writer and readers, upload threads) hand the GIL back and forth with
# the event loop around every SQLite call and syscall. At Python's default 5 ms, a thread back
# from one waits up to 5 ms for the loop to let go; at 0.5 ms small downloads went 8-30% faster
# (bench/storage.py, interleaved runs). A thread alone never switches, so the loop's own work
# is not slowed.
GIL_SWITCH_INTERVAL_S = 0.0005


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="start a node and serve the APIs")
    add_settings_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    configure_logging(settings.log_level, settings.log_format)
    raise_open_files_limit()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    node = Node.open(settings)
    try:
        if settings.migrations is not None:
            apply_migrations(
                node.db,
                node.log,
                read_migration_files([settings.migrations]),
                lambda name, status: print(f"migration {status}: {name}", flush=True),
            )
        asyncio.run(serve(node, on_ready=lambda host, port: _banner(node, host, port)))
    finally:
        node.close()
    return 0


def raise_open_files_limit() -> tuple[int, int]:
    """Lift the soft limit on open files to the hard one: every realtime client holds a socket,
    and a distribution's default soft limit (often 1,024) would refuse connections long before
    the node runs out of anything else. Returns (old soft limit, new soft limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Linux refuses an infinite NOFILE limit: an unlimited hard limit means the kernel's cap.
    target = hard if hard != resource.RLIM_INFINITY else UNLIMITED_NOFILE
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open files limit from %d: %s", soft, exc)
        return soft, soft
    log.info(
        "open files limit raised from %d to %d",
        soft,
        target,
        extra={"fields": {"nofile_soft_was": soft, "nofile_soft": target}},
    )
    return soft, target


def _banner(node: Node, host: str, port: int) -> None:
    url_host = f"[{host}]" if ":" in host else host
    if node.settings.api_url is None:
        shown = "localhost" if host in ("0.0.0.0", "::") else url_host
        node.auth.set_public_url(f"http://{shown}:{port}")
    lines = [
        f"Performer Edge {__version__}  node {node.identity.short_id}",
        f"  API URL           http://{url_host}:{port}",
        f"  anon key          {node.api_keys.anon_key}",
        f"  service_role key  {node.api_keys.service_role_key}",
        f"  data              {node.settings.data}",
        f"  JWT               {node.tokens.algorithm}",
    ]
    print("\n".join(lines), flush=True)
    sys.stdout.flush()
