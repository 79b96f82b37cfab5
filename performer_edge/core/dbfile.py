"""Checks a SQLite file is ours before anything writes to it, and runs internal migrations.

A foreign, corrupt or newer-version file is refused with a one-line reason and left untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import apsw

from performer_edge.errors import DataDirError

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100


def check_existing(path: Path, application_id: int, known_version: int) -> None:
    """Refuse a file that is not a SQLite database, not ours, or from a newer Performer."""
    if not path.exists():
        return
    try:
        with open(path, "rb") as handle:
            header = handle.read(HEADER_BYTES)
    except OSError as exc:
        raise DataDirError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not header:
        return  # an empty file is an empty database to SQLite
    if len(header) < HEADER_BYTES or not header.startswith(SQLITE_MAGIC):
        raise DataDirError(f"{path} is not a SQLite database (corrupt or foreign file)")
    # Ask SQLite rather than the header bytes: recent changes may still be in the WAL.
    found_id, version, tables = _identify(path)
    if found_id == 0 and version == 0:
        if tables:
            raise DataDirError(f"{path} is a SQLite database that Performer did not create")
        return
    if found_id != application_id:
        raise DataDirError(
            f"{path} is a SQLite database that Performer did not create "
            f"(application_id {found_id:#x})"
        )
    if version > known_version:
        raise DataDirError(
            f"{path} has schema version {version}, newer than this performer knows "
            f"({known_version}); upgrade performer"
        )


def migrate(conn: apsw.Connection, application_id: int, migrations: Sequence[str]) -> int:
    """Apply the steps past `user_version`, each in its own transaction. Returns the new version."""
    version = _pragma_int(conn, "user_version")
    for number, script in enumerate(migrations, start=1):
        if number <= version:
            continue
        with conn:
            conn.execute(script)
            conn.execute(f"PRAGMA application_id={application_id}")
            conn.execute(f"PRAGMA user_version={number}")
        version = number
    # A read of the whole schema and the first page of every table catches most corruption.
    conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()
    return version


def describe(exc: BaseException) -> str:
    if isinstance(exc, apsw.CorruptError | apsw.NotADBError):
        return "the database file is corrupt"
    if isinstance(exc, apsw.FullError):
        return "the disk is full"
    if isinstance(exc, apsw.ReadOnlyError | apsw.CantOpenError | apsw.PermissionsError):
        return f"the database file cannot be written ({exc})"
    return str(exc)


def _pragma_int(conn: apsw.Connection, name: str) -> int:
    row = conn.execute(f"PRAGMA {name}").fetchone()
    return int(row[0]) if row else 0


def _identify(path: Path) -> tuple[int, int, int]:
    """(application_id, user_version, number of schema objects), read without writing."""
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    except apsw.Error as exc:
        raise DataDirError(f"cannot open {path}: {describe(exc)}") from exc
    try:
        conn.set_busy_timeout(5000)
        found_id = _pragma_int(conn, "application_id")
        version = _pragma_int(conn, "user_version")
        row = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        return found_id, version, int(row[0]) if row else 0
    except apsw.Error as exc:
        raise DataDirError(f"{path} cannot be read: {describe(exc)}") from exc
    finally:
        conn.close()
