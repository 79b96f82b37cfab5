"""Deployments as events, and the tables they project: `function.*` kinds and the reads of them.

Theory of operation. `function.deployed` carries the whole module (bytes, SHA-256) with its
name, version, triggers, permissions and limits, so a deployment replicates like any event and
a replay or a snapshot rebuilds every version; modules are small (the deploy cap is 3 MiB:
the event must fit one sync frame).
Which version a name runs is a last-writer-wins register by (hlc, origin): a deploy or a
rollback points it at a version, a delete points it at nothing and drops the versions deployed
before it. Each event's effect depends on the event alone, so peers converge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import apsw

from performer_edge.core import hlc as hlc_mod
from performer_edge.core.events import Event
from performer_edge.core.projections import Projection
from performer_edge.errors import IntegrityError

DEPLOYED = "function.deployed"
ROLLED_BACK = "function.rolled_back"
DELETED = "function.deleted"

# A step of node.SCHEMA_STEPS; never edit it once shipped, add a new one.
FUNCTIONS_SCHEMA = """
CREATE TABLE function_modules(
    sha256 TEXT PRIMARY KEY,
    wasm BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE function_versions(
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    abi TEXT NOT NULL,
    description TEXT NOT NULL,
    triggers TEXT NOT NULL,
    permissions TEXT NOT NULL,
    limits TEXT NOT NULL,
    size INTEGER NOT NULL,
    deployed_at TEXT NOT NULL,
    hlc INTEGER NOT NULL,
    origin BLOB NOT NULL,
    PRIMARY KEY(name, version)
);
CREATE INDEX function_versions_sha ON function_versions(name, sha256);
CREATE TABLE functions(
    name TEXT PRIMARY KEY,
    version TEXT,
    hlc INTEGER NOT NULL,
    origin BLOB NOT NULL
) WITHOUT ROWID;
"""


def scope_of(name: str) -> str:
    return f"functions/{name}"


@dataclass(frozen=True)
class Version:
    name: str
    version: str
    sha256: str
    abi: str
    description: str
    triggers: tuple[str, ...]
    permissions: tuple[str, ...]
    limits: dict[str, int]
    size: int
    deployed_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "abi": self.abi,
            "description": self.description,
            "triggers": list(self.triggers),
            "permissions": list(self.permissions),
            "limits": self.limits,
            "size": self.size,
            "deployed_at": self.deployed_at,
        }


_COLUMNS = (
    "name, version, sha256, abi, description, triggers, permissions, limits, size, deployed_at"
)


def _version(row: tuple[Any, ...]) -> Version:
    return Version(
        name=str(row[0]),
        version=str(row[1]),
        sha256=str(row[2]),
        abi=str(row[3]),
        description=str(row[4]),
        triggers=tuple(json.loads(row[5])),
        permissions=tuple(json.loads(row[6])),
        limits=dict(json.loads(row[7])),
        size=int(row[8]),
        deployed_at=str(row[9]),
    )


# -- reads ---------------------------------------------------------------------------------------


def current(conn: apsw.Connection, name: str) -> Version | None:
    row = conn.execute(
        f"SELECT {_prefixed('v')} FROM functions f JOIN function_versions v "
        "ON v.name = f.name AND v.version = f.version WHERE f.name = ?",
        (name,),
    ).fetchone()
    return None if row is None else _version(row)


def find(conn: apsw.Connection, name: str, ref: str) -> Version | None:
    """A version of `name` by its version string or its module's SHA-256 (the latest deployed
    of that hash)."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM function_versions WHERE name = ? AND (version = ? OR sha256 = ?) "
        "ORDER BY version = ? DESC, hlc DESC LIMIT 1",
        (name, ref, ref.lower(), ref),
    ).fetchone()
    return None if row is None else _version(row)


def versions(conn: apsw.Connection, name: str) -> list[Version]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM function_versions WHERE name = ? ORDER BY hlc, origin", (name,)
    ).fetchall()
    return [_version(row) for row in rows]


def all_current(conn: apsw.Connection) -> list[Version]:
    rows = conn.execute(
        f"SELECT {_prefixed('v')} FROM functions f JOIN function_versions v "
        "ON v.name = f.name AND v.version = f.version ORDER BY f.name"
    ).fetchall()
    return [_version(row) for row in rows]


def module_bytes(conn: apsw.Connection, sha256: str) -> bytes | None:
    row = conn.execute("SELECT wasm FROM function_modules WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else bytes(row[0])


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _COLUMNS.split(","))


# -- the projection ------------------------------------------------------------------------------

Clock = tuple[int, bytes]


def _held(conn: apsw.Connection, name: str) -> Clock | None:
    row = conn.execute("SELECT hlc, origin FROM functions WHERE name = ?", (name,)).fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]))


def _point(conn: apsw.Connection, name: str, version: str | None, clock: Clock) -> None:
    conn.execute(
        "INSERT INTO functions(name, version, hlc, origin) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET version = excluded.version, hlc = excluded.hlc, "
        "origin = excluded.origin",
        (name, version, clock[0], clock[1]),
    )


def _deleted_at(conn: apsw.Connection, name: str) -> Clock | None:
    row = conn.execute(
        "SELECT hlc, origin FROM functions WHERE name = ? AND version IS NULL", (name,)
    ).fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]))


def _deployed(conn: apsw.Connection, event: Event, data: dict[str, Any]) -> None:
    name, clock = str(data["name"]), (event.hlc, event.origin)
    deleted = _deleted_at(conn, name)
    if deleted is not None and deleted > clock:
        return  # deployed before a delete this node already has
    _store_version(conn, event, data)
    held = _held(conn, name)
    if held is None or held < clock:
        _point(conn, name, str(data["version"]), clock)


def _rolled_back(conn: apsw.Connection, event: Event, data: dict[str, Any]) -> None:
    name, clock = str(data["name"]), (event.hlc, event.origin)
    exists = conn.execute(
        "SELECT 1 FROM function_versions WHERE name = ? AND version = ?",
        (name, str(data["version"])),
    ).fetchone()
    held = _held(conn, name)
    if exists and (held is None or held < clock):
        _point(conn, name, str(data["version"]), clock)


def _deleted(conn: apsw.Connection, event: Event, data: dict[str, Any]) -> None:
    name, clock = str(data["name"]), (event.hlc, event.origin)
    held = _held(conn, name)
    if held is None or held < clock:
        _point(conn, name, None, clock)
    conn.execute(
        "DELETE FROM function_versions WHERE name = ? AND (hlc < ? OR (hlc = ? AND origin < ?))",
        (name, clock[0], clock[0], clock[1]),
    )
    conn.execute(
        "DELETE FROM function_modules WHERE sha256 NOT IN (SELECT sha256 FROM function_versions)"
    )


_APPLY = {DEPLOYED: _deployed, ROLLED_BACK: _rolled_back, DELETED: _deleted}


def _apply(conn: apsw.Connection, event: Event) -> None:
    try:
        payload = event.data
        _APPLY[event.kind](conn, event, payload if isinstance(payload, dict) else {})
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"malformed {event.kind} event: {exc}") from exc


def _store_version(conn: apsw.Connection, event: Event, data: dict[str, Any]) -> None:
    wasm = data["wasm"]
    if not isinstance(wasm, bytes):
        raise TypeError("wasm is not bytes")
    conn.execute(
        "INSERT OR IGNORE INTO function_modules(sha256, wasm) VALUES (?, ?)",
        (str(data["sha256"]), wasm),
    )
    conn.execute(
        f"INSERT OR IGNORE INTO function_versions({_COLUMNS}, hlc, origin) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            str(data["name"]),
            str(data["version"]),
            str(data["sha256"]),
            str(data["abi"]),
            str(data.get("description") or ""),
            json.dumps(list(data.get("triggers") or [])),
            json.dumps(list(data.get("permissions") or [])),
            json.dumps(dict(data.get("limits") or {})),
            len(wasm),
            hlc_mod.to_iso(event.hlc),
            event.hlc,
            event.origin,
        ),
    )


def _reset(conn: apsw.Connection) -> None:
    for table in ("functions", "function_versions", "function_modules"):
        conn.execute(f"DELETE FROM {table}")


PROJECTION = Projection("functions", (DEPLOYED, ROLLED_BACK, DELETED), _apply, _reset)


# -- what triggers follow ------------------------------------------------------------------------


@dataclass(frozen=True)
class Triggered:
    """A current version with triggers; `owner` is the node whose deploy or rollback made it
    current (it runs the cron triggers), `since_hlc` the clock of the name's first deployment
    still held (event triggers follow events stamped after it)."""

    version: Version
    owner: bytes
    since_hlc: int


def all_triggered(conn: apsw.Connection) -> list[Triggered]:
    rows = conn.execute(
        f"SELECT {_prefixed('v')}, f.origin, "
        "(SELECT min(hlc) FROM function_versions w WHERE w.name = f.name) "
        "FROM functions f JOIN function_versions v ON v.name = f.name AND v.version = f.version "
        "WHERE v.triggers != '[]' ORDER BY f.name"
    ).fetchall()
    found = []
    for row in rows:
        owner, since = row[-2], row[-1]
        assert isinstance(owner, bytes)
        assert isinstance(since, int)
        found.append(Triggered(_version(row[:-2]), owner, since))
    return found
