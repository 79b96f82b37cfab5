"""Snapshots: a node's derived state at a version vector, as one SQLite file.

A snapshot is what every projection made of the events up to its `vector`: the row tables and
their shadow state, the auth tables, the schema that migrations made (tables, FTS5 indexes,
views, triggers) and the catalog. It holds no event log and nothing that belongs to one node
(`LOCAL_TABLES`). It is made with `VACUUM INTO` from a read-only connection, so it is one
consistent commit of the source, and it costs O(state), not O(history).

Loading one (`load_state`) replaces the derived state of a database with the snapshot's: every
projection is reset, then the snapshot's schema objects are created and its tables copied. The
caller then applies the events that came after it (see `core.compaction`).

A snapshot may come from a peer, so nothing in it is trusted beyond its shape: only CREATE
statements of the four kinds a node makes are run, never one naming a node-local table.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import apsw
import cbor2

from performer_edge.core import dbfile
from performer_edge.core.projections import Projections
from performer_edge.errors import IntegrityError
from sync.version_vector import VersionVector

FORMAT: Final = 1
# Tables that describe this node's own log and mailbox, never part of a snapshot; components
# add theirs (`Snapshots(local_tables=...)`), such as work only this node does.
LOCAL_TABLES: Final = frozenset({"events", "origins", "meta", "log_horizon", "auth_outbox"})
SUFFIX: Final = ".snapshot"
_READ_CHUNK: Final = 1 << 20
_CREATE = re.compile(
    r"^CREATE (TABLE|VIRTUAL TABLE|INDEX|UNIQUE INDEX|VIEW|TRIGGER) ", re.IGNORECASE
)


def _local_write(local: frozenset[str]) -> re.Pattern[str]:
    """A trigger is the one object that could write elsewhere: none may touch a local table."""
    return re.compile(
        r"\b(INSERT(\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(\s+OR\s+\w+)?|DELETE\s+FROM)\s+"
        r"(main\s*\.\s*)?[\"`\[]?(" + "|".join(sorted(map(re.escape, local))) + r")\b",
        re.IGNORECASE,
    )


@dataclass(frozen=True)
class Snapshot:
    """A snapshot file: the state after the events in `vector`, `size` bytes, SHA-256 `digest`."""

    path: Path
    vector: VersionVector
    size: int
    digest: bytes
    max_hlc: int = 0

    @property
    def id(self) -> str:
        return self.digest.hex()


@dataclass(frozen=True)
class SnapshotInfo:
    vector: VersionVector
    max_hlc: int
    schema_version: int


def file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.digest()


Prepare = Callable[[apsw.Connection], apsw.Connection]


def write_snapshot(
    source: Path,
    directory: Path,
    prepare: Prepare = lambda conn: conn,
    local: frozenset[str] = LOCAL_TABLES,
) -> Snapshot:
    """Copy the state of the database at `source` into a new snapshot file in `directory`.
    `prepare` gives a connection the SQL functions the schema calls (`Database.prepare`)."""
    directory.mkdir(parents=True, exist_ok=True)
    making = directory / f"making-{uuid.uuid4().hex}.db"
    try:
        reader = prepare(apsw.Connection(str(source), flags=apsw.SQLITE_OPEN_READONLY))
        try:
            reader.set_busy_timeout(10_000)
            reader.execute("VACUUM INTO ?", (str(making),))
        finally:
            reader.close()
        info = _strip(prepare(apsw.Connection(str(making))), local)
        digest = file_digest(making)
        path = directory / f"{digest.hex()}{SUFFIX}"
        os.replace(making, path)
        _fsync_dir(directory)
    finally:
        making.unlink(missing_ok=True)
    return Snapshot(path, info.vector, path.stat().st_size, digest, info.max_hlc)


def _strip(conn: apsw.Connection, local: frozenset[str]) -> SnapshotInfo:
    """Turn a full copy into a snapshot: note its vector, keep the events that parked migrations
    still need, drop the log and the node's own tables. Closes `conn`."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        vector = _log_vector(conn)
        row = conn.execute("SELECT max(hlc) FROM events").fetchone()
        max_hlc = int(row[0]) if row and row[0] else 0
        schema_version = _user_version(conn, "main")
        conn.execute(
            "CREATE TABLE snapshot_info(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
            "CREATE TABLE snapshot_events(origin BLOB, seq INTEGER, hlc INTEGER, kind TEXT, "
            "scope TEXT, payload BLOB, sig BLOB, PRIMARY KEY(origin, seq)) WITHOUT ROWID"
        )
        if _has_table(conn, "main", "rest_migrations_pending"):
            conn.execute(
                "INSERT INTO snapshot_events SELECT e.origin, e.seq, e.hlc, e.kind, e.scope, "
                "e.payload, e.sig FROM events e JOIN rest_migrations_pending p "
                "ON p.origin = e.origin AND p.seq = e.seq"
            )
        for table in local:  # emptied, not dropped: later schema steps may alter them
            if _has_table(conn, "main", table):
                conn.execute(f'DELETE FROM "{table}"')
        info = {
            "format": FORMAT,
            "vector": vector.to_wire(),
            "max_hlc": max_hlc,
            "schema_version": schema_version,
        }
        conn.executemany(
            "INSERT INTO snapshot_info(key, value) VALUES (?, ?)",
            [(key, cbor2.dumps(value)) for key, value in info.items()],
        )
        conn.execute("COMMIT")
        conn.execute("VACUUM")
    finally:
        conn.close()
    return SnapshotInfo(vector, max_hlc, schema_version)


def _log_vector(conn: apsw.Connection) -> VersionVector:
    heads: dict[bytes, int] = {}
    for origin, seq in conn.execute("SELECT origin, max(seq) FROM events GROUP BY origin"):
        heads[origin] = int(seq)
    horizon: list[tuple[Any, ...]] = conn.execute("SELECT origin, seq FROM log_horizon").fetchall()
    return VersionVector(heads).merge({origin: int(seq) for origin, seq in horizon})


# -- loading -------------------------------------------------------------------------------------


def read_info(conn: apsw.Connection, schema: str = "snap") -> SnapshotInfo:
    """The attached snapshot's description; IntegrityError when it is not a usable snapshot."""
    try:
        rows: list[tuple[Any, ...]] = conn.execute(
            f"SELECT key, value FROM {schema}.snapshot_info"
        ).fetchall()
        info: dict[str, Any] = {key: cbor2.loads(value) for key, value in rows}
        if info.get("format") != FORMAT:
            raise IntegrityError(f"snapshot format {info.get('format')!r} is not {FORMAT}")
        vector = VersionVector(info["vector"])
        return SnapshotInfo(vector, int(info["max_hlc"]), int(info["schema_version"]))
    except (apsw.Error, KeyError, TypeError, ValueError, cbor2.CBORDecodeError) as exc:
        raise IntegrityError(f"not a snapshot: {exc}", code="bad_snapshot") from exc


def load_state(
    conn: apsw.Connection,
    projections: Projections,
    schema: str = "snap",
    local: frozenset[str] = LOCAL_TABLES,
) -> None:
    """In the caller's transaction, replace every projection's state with the attached
    snapshot's. The snapshot must come from the same schema version as this database."""
    info = read_info(conn, schema)
    ours = _user_version(conn, "main")
    if info.schema_version != ours:
        raise IntegrityError(
            f"the snapshot has schema version {info.schema_version}, this node {ours}: "
            "run the same performer version on both",
            code="bad_snapshot",
        )
    objects = _objects(conn, schema, local)
    projections.reset(conn)
    virtual = [name for kind, name, sql in objects if sql.upper().startswith("CREATE VIRTUAL")]

    def shadow(name: str) -> bool:
        return any(name.startswith(f"{table}_") for table in virtual)

    for kind, name, sql in objects:
        if kind == "table" and not shadow(name) and not _has_table(conn, "main", name):
            conn.execute(sql)
    for kind, name, sql in objects:
        if kind == "table" and not sql.upper().startswith("CREATE VIRTUAL"):
            table = _quote(name)
            columns = ", ".join(_quote(c) for c in _stored_columns(conn, schema, name))
            conn.execute(f"DELETE FROM main.{table}")
            conn.execute(
                f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM {schema}.{table}"
            )
    for kind, name, sql in objects:  # after the data: triggers must not fire on the copy
        if kind != "table" and not _has_object(conn, name):
            conn.execute(sql)


@contextlib.contextmanager
def upgraded(path: Path, migrations: Sequence[str], prepare: Prepare) -> Iterator[Path]:
    """The snapshot at `path`, brought to this node's schema: a snapshot made before an upgrade
    gets the schema steps it lacks, on a temporary copy (the file keeps its digest)."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        version = _user_version(conn, "main")
    finally:
        conn.close()
    if version > len(migrations):
        raise IntegrityError(
            f"the snapshot has schema version {version}, newer than this node's "
            f"{len(migrations)}: upgrade performer",
            code="bad_snapshot",
        )
    if version == len(migrations):
        yield path
        return
    copy = path.with_name(f"upgrading-{uuid.uuid4().hex}.db")
    try:
        shutil.copyfile(path, copy)
        conn = prepare(apsw.Connection(str(copy)))
        try:
            application_id = conn.execute("PRAGMA application_id").fetchone()
            dbfile.migrate(conn, int(application_id[0]) if application_id else 0, migrations)
            conn.execute(
                "UPDATE snapshot_info SET value = ? WHERE key = 'schema_version'",
                (cbor2.dumps(len(migrations)),),
            )
        except apsw.Error as exc:
            raise IntegrityError(
                f"the snapshot cannot be brought from schema version {version} to "
                f"{len(migrations)}: {exc}",
                code="bad_snapshot",
            ) from exc
        finally:
            conn.close()
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def snapshot_events(conn: apsw.Connection, schema: str = "snap") -> list[tuple[Any, ...]]:
    """Events the snapshot carries because its parked migrations still need them."""
    return conn.execute(
        f"SELECT origin, seq, hlc, kind, scope, payload, sig FROM {schema}.snapshot_events "
        "ORDER BY origin, seq"
    ).fetchall()


def _objects(
    conn: apsw.Connection, schema: str, local: frozenset[str]
) -> list[tuple[str, str, str]]:
    """The snapshot's schema objects to copy: not its own tables, SQLite's, or the (empty)
    node-local tables and their indexes."""
    rows: list[tuple[Any, ...]] = conn.execute(
        f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_master "
        "WHERE sql IS NOT NULL ORDER BY rowid"
    ).fetchall()
    objects = []
    writes_local = _local_write(local)
    for kind, name, table, sql in rows:
        if name in ("snapshot_info", "snapshot_events") or name.startswith("sqlite_"):
            continue
        local_write = kind == "trigger" and writes_local.search(sql)
        if not _CREATE.match(sql) or local_write:
            raise IntegrityError(f"snapshot object {name!r} is not allowed", code="bad_snapshot")
        if str(table).lower() in local:
            continue
        objects.append((str(kind), str(name), str(sql)))
    return objects


def _stored_columns(conn: apsw.Connection, schema: str, table: str) -> list[str]:
    """The columns an INSERT writes: not the generated ones (SQLite computes those)."""
    rows = conn.execute(f"PRAGMA {schema}.table_xinfo({_quote(table)})").fetchall()
    return [str(row[1]) for row in rows if row[6] == 0]  # hidden: 2, 3 = generated


def _user_version(conn: apsw.Connection, schema: str) -> int:
    row = conn.execute(f"PRAGMA {schema}.user_version").fetchone()
    return int(row[0]) if row and isinstance(row[0], int) else 0


def _has_table(conn: apsw.Connection, schema: str, name: str) -> bool:
    row = conn.execute(
        f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _has_object(conn: apsw.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = ?", (name,)).fetchone()
    return row is not None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
