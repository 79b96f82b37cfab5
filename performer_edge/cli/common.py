"""What every command shares: the settings flags (from the one settings table) and error output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import apsw

from performer_edge.config import SETTINGS, Settings, load_settings
from performer_edge.core import dbfile
from performer_edge.core.datadir import DataDir
from performer_edge.core.schema import APPLICATION_ID
from performer_edge.errors import DataDirError
from performer_edge.node import SCHEMA_STEPS


def add_settings_flags(parser: argparse.ArgumentParser, names: Iterable[str] | None = None) -> None:
    """Add `--config` and a flag per setting (all of them, or those in `names`)."""
    wanted = set(names) if names is not None else None
    parser.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="settings file (default: ./performer.toml when present, or $PERFORMER_CONFIG)",
    )
    for setting in SETTINGS:
        if wanted is not None and setting.name not in wanted:
            continue
        extra: dict[str, Any] = {}
        if setting.choices:
            extra["choices"] = setting.choices
            extra["type"] = str.upper if setting.choices[0].isupper() else str.lower
        if setting.kind is tuple:
            extra["action"] = "append"
        parser.add_argument(
            setting.flag,
            dest=setting.name,
            default=argparse.SUPPRESS,
            metavar="BOOL" if setting.kind is bool else setting.name.upper(),
            help=f"{setting.help} (default: {setting.default}; env {setting.env})",
            **extra,
        )
        if setting.kind is bool:  # `--no-discovery` for `--discovery false`
            parser.add_argument(
                "--no-" + setting.flag.removeprefix("--"),
                dest=setting.name,
                action="store_const",
                const=False,
                default=argparse.SUPPRESS,
                help=f"the same as {setting.flag} false",
            )


def settings_from(args: argparse.Namespace) -> Settings:
    given = {s.name: getattr(args, s.name) for s in SETTINGS if hasattr(args, s.name)}
    return load_settings(given, config_file=getattr(args, "config", None))


def open_readonly(data_dir: DataDir) -> apsw.Connection:
    """A read-only connection to a data dir's database, safe beside a running server."""
    data_dir.require_initialized()
    path = data_dir.db_path
    if not path.exists():
        raise DataDirError(f"{path} does not exist yet (start the node once)")
    dbfile.check_existing(path, APPLICATION_ID, len(SCHEMA_STEPS))
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
        conn.set_busy_timeout(5000)
        conn.execute("SELECT count(*) FROM events").fetchone()
    except apsw.Error as exc:
        raise DataDirError(f"{path} cannot be read: {dbfile.describe(exc)}") from exc
    return conn


def fail(message: str, code: int) -> int:
    print(f"performer: error: {message}", file=sys.stderr)
    return code
