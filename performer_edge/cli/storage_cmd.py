"""`performer storage gc`: collect blobs no object references (the node must be stopped).

A running node does the same on its own schedule (`storage_gc_interval`).
"""

from __future__ import annotations

import argparse
from typing import Any

from performer_edge.cli.common import add_settings_flags, fail, settings_from
from performer_edge.node import Node
from performer_edge.storage.blob_gc import collect_garbage


def register(commands: Any) -> None:
    parser = commands.add_parser("storage", help="storage maintenance")
    actions = parser.add_subparsers(dest="storage_command", metavar="ACTION")
    actions.required = True
    gc = actions.add_parser(
        "gc", help="collect blobs no object references (the node must be stopped)"
    )
    add_settings_flags(gc, ["data", "storage_gc_grace"])
    gc.add_argument(
        "--dry-run", action="store_true", help="report what would be collected, delete nothing"
    )
    gc.set_defaults(run=run_gc)


def run_gc(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    node = Node.open(settings)
    try:
        storage = node.storage
        cleaned = storage.blobs.cleanup_tmp()
        report = collect_garbage(
            storage, grace_seconds=settings.storage_gc_grace, dry_run=args.dry_run
        )
    except OSError as exc:
        return fail(f"storage gc failed: {exc}", 1)
    finally:
        node.close()
    verb = "would delete" if report.dry_run else "deleted"
    print(
        f"{verb} {len(report.deleted)} of {report.scanned} blobs ({report.bytes_freed} bytes); "
        f"kept {report.kept_referenced} referenced and {report.kept_recent} younger than "
        f"{settings.storage_gc_grace} s; removed {cleaned.removed} temp files"
    )
    return 0
