"""The `storage` projection: `storage.*` events merged into `storage_buckets`/`storage_objects`.

Theory of operation. Every object name is a last-writer-wins register by (hlc, origin): an
upload, copy or move target writes the object's whole content, a remove or move source writes a
tombstone. The newest write of a name is kept, either as its `storage_objects` row or as a
`storage_object_tombstones` row, so a delete remembers its clock and an older write arriving
later from a peer stays dead. A bucket is a row of per-field registers (`rest.row_registers`,
the machinery table rows use), with existence as a register and a `purge` register whose winner
is the latest bucket deletion: an object write older than its bucket's latest deletion is a
tombstone. Each event's effect is a function of the event alone (a move carries the object it
moves), so any order of the same events, repeats included, projects identical tables.
"""

from __future__ import annotations

import json
from typing import Any

import apsw

from performer_edge.core import hlc as hlc_mod
from performer_edge.core.events import Event
from performer_edge.core.projections import Projection
from performer_edge.errors import IntegrityError
from performer_edge.rest.row_format import EXISTENCE, SqlValue
from performer_edge.rest.row_registers import (
    EMPTY_ROW,
    RowState,
    decode_row_state,
    encode_row_state,
)
from performer_edge.storage import store

BUCKET_FIELDS = ("name", "owner", "public", "file_size_limit", "allowed_mime_types", "eager_fetch")
PURGE = "purge"  # the bucket register whose winner is the bucket's latest deletion
Clock = tuple[int, bytes]


def _apply(conn: apsw.Connection, event: Event) -> None:
    data = event.data
    if not isinstance(data, dict):
        raise IntegrityError(f"{event.kind} event without a map payload")
    clock = (event.hlc, event.origin)
    try:
        if event.kind == store.BUCKET_CREATED:
            fields = {f: _field_value(f, data.get(f)) for f in BUCKET_FIELDS}
            _write_bucket(conn, event, data["id"], {**fields, EXISTENCE: 1})
        elif event.kind == store.BUCKET_UPDATED:
            fields = {f: _field_value(f, data[f]) for f in BUCKET_FIELDS[2:] if f in data}
            _write_bucket(conn, event, data["id"], fields)
        elif event.kind == store.BUCKET_DELETED:
            _write_bucket(conn, event, data["id"], {EXISTENCE: 0, PURGE: 1})
            _purge_objects(conn, data["id"], clock)
        elif event.kind == store.OBJECT_PUT:
            _write_object(conn, clock, data["bucket_id"], data["name"], data)
        elif event.kind == store.OBJECT_MOVED:
            target_bucket = data.get("destination_bucket") or data["bucket_id"]
            moved = data.get("object") or _legacy_moved(conn, data["bucket_id"], data["source"])
            _write_object(conn, clock, data["bucket_id"], data["source"], None)
            if moved is not None:
                _write_object(conn, clock, target_bucket, data["destination"], moved)
        elif event.kind == store.OBJECTS_DELETED:
            for name in data["names"]:
                _write_object(conn, clock, data["bucket_id"], name, None)
        else:
            raise IntegrityError(f"unknown storage event {event.kind}")
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"malformed {event.kind} event: {exc}") from exc
    except apsw.ConstraintError as exc:  # an object id another name holds: a peer's bug
        raise IntegrityError(f"{event.kind} event reuses an object id: {exc}") from exc


# -- objects -------------------------------------------------------------------------------------


def _held_clock(conn: apsw.Connection, bucket_id: str, name: str) -> Clock | None:
    """The clock of the newest write of the name seen so far, live or tombstone."""
    for table in ("storage_objects", "storage_object_tombstones"):
        row = conn.execute(
            f"SELECT hlc, origin FROM {table} WHERE bucket_id = ? AND name = ?", (bucket_id, name)
        ).fetchone()
        if row is not None:
            return (int(row[0]), bytes(row[1]))
    return None


def _write_object(
    conn: apsw.Connection, clock: Clock, bucket_id: str, name: str, content: Any
) -> None:
    """Merge one write of `bucket_id/name`: its content, or None for a tombstone."""
    held = _held_clock(conn, bucket_id, name)
    if held is not None and held >= clock:
        return  # a repeat, or older than what the name holds
    purged = _purge_clock(conn, bucket_id)
    conn.execute("DELETE FROM storage_objects WHERE bucket_id = ? AND name = ?", (bucket_id, name))
    conn.execute(
        "DELETE FROM storage_object_tombstones WHERE bucket_id = ? AND name = ?",
        (bucket_id, name),
    )
    if content is None or (purged is not None and clock < purged):
        _bury(conn, bucket_id, name, clock)
        return
    if not isinstance(content, dict):
        raise TypeError("object content is not a map")
    at = hlc_mod.to_iso(clock[0])
    blob, size = str(content["blob"]), int(content["size"])
    metadata = store.object_metadata(
        blob, size, str(content["mimetype"]), str(content["cache_control"]), at
    )
    conn.execute(
        "INSERT INTO storage_objects(id, bucket_id, name, owner, metadata, user_metadata, blob, "
        "created_at, updated_at, last_accessed_at, hlc, origin) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            str(content["id"]),
            bucket_id,
            name,
            content.get("owner"),
            json.dumps(metadata),
            json.dumps(content.get("user_metadata")),
            blob,
            content.get("created_at") or at,
            at,
            at,
            clock[0],
            clock[1],
        ),
    )


def _legacy_moved(conn: apsw.Connection, bucket_id: str, name: str) -> dict[str, Any] | None:
    """What a move event of the first format (without its `object`) moved: the source as it
    is here. Only this node's own early events have that format."""
    found = store.object_by_name(conn, bucket_id, name)
    if found is None:
        return None
    return {
        "id": found.id,
        "owner": found.owner,
        "created_at": found.created_at,
        "blob": found.blob,
        "size": found.size,
        "mimetype": found.mimetype,
        "cache_control": found.cache_control,
        "user_metadata": found.user_metadata,
    }


def _bury(conn: apsw.Connection, bucket_id: str, name: str, clock: Clock) -> None:
    conn.execute(
        "INSERT INTO storage_object_tombstones(bucket_id, name, hlc, origin) VALUES (?, ?, ?, ?)",
        (bucket_id, name, clock[0], clock[1]),
    )


def _purge_objects(conn: apsw.Connection, bucket_id: str, clock: Clock) -> None:
    """A bucket deletion at `clock` turns the bucket's older objects into tombstones."""
    older: list[Any] = conn.execute(
        "SELECT name, hlc, origin FROM storage_objects WHERE bucket_id = ? "
        "AND (hlc < ? OR (hlc = ? AND origin < ?))",
        (bucket_id, clock[0], clock[0], clock[1]),
    ).fetchall()
    for row in older:
        name, held = str(row[0]), (int(row[1]), bytes(row[2]))
        conn.execute(
            "DELETE FROM storage_objects WHERE bucket_id = ? AND name = ?", (bucket_id, name)
        )
        _bury(conn, bucket_id, name, held)


# -- buckets -------------------------------------------------------------------------------------


def _field_value(field: str, value: Any) -> SqlValue:
    if field in ("public", "eager_fetch"):
        return int(bool(value))
    if field == "allowed_mime_types":
        return None if value is None else json.dumps(list(value), ensure_ascii=False)
    if field == "file_size_limit":
        return None if value is None else int(value)
    return None if value is None else str(value)


def bucket_state(conn: apsw.Connection, bucket_id: str) -> RowState:
    row = conn.execute(
        "SELECT state FROM storage_bucket_state WHERE id = ?", (bucket_id,)
    ).fetchone()
    return EMPTY_ROW if row is None else decode_row_state(bytes(row[0]))


def _purge_clock(conn: apsw.Connection, bucket_id: str) -> Clock | None:
    winner = bucket_state(conn, bucket_id).winner(PURGE)
    return None if winner is None else (winner.clock.hlc, winner.clock.origin)


def _write_bucket(
    conn: apsw.Connection, event: Event, bucket_id: str, writes: dict[str, SqlValue]
) -> None:
    old = bucket_state(conn, bucket_id)
    new = old.with_write(event.origin, event.hlc, event.seq, writes, {})
    if new is old:
        return
    conn.execute(
        "INSERT INTO storage_bucket_state(id, state) VALUES (?, ?) "
        "ON CONFLICT(id) DO UPDATE SET state = excluded.state",
        (bucket_id, encode_row_state(new)),
    )
    _project_bucket(conn, bucket_id, new)


def _project_bucket(conn: apsw.Connection, bucket_id: str, state: RowState) -> None:
    """Bring the bucket's row in line with its registers. A bucket no event created (one a
    migration inserted) only has the fields events wrote laid over its row."""
    values = state.values(BUCKET_FIELDS)
    clocks = [w.slot.hlc for f in BUCKET_FIELDS if (w := state.winner(f)) is not None]
    updated = hlc_mod.to_iso(max(c for c in clocks if c is not None)) if clocks else None
    existence = state.winner(EXISTENCE)
    if existence is None:
        if values:
            assignments = ", ".join(f"{f} = ?" for f in values)
            conn.execute(
                f"UPDATE storage_buckets SET {assignments}, updated_at = ? WHERE id = ?",
                (*values.values(), updated, bucket_id),
            )
        return
    if not state.exists:
        conn.execute("DELETE FROM storage_buckets WHERE id = ?", (bucket_id,))
        return
    created = hlc_mod.to_iso(existence.clock.hlc)
    conn.execute(
        "INSERT OR REPLACE INTO storage_buckets(id, name, owner, public, file_size_limit, "
        "allowed_mime_types, created_at, updated_at, eager_fetch) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            bucket_id,
            values.get("name") or bucket_id,
            values.get("owner"),
            values.get("public") or 0,
            values.get("file_size_limit"),
            values.get("allowed_mime_types"),
            created,
            updated or created,
            values.get("eager_fetch") or 0,
        ),
    )


def stamp_seeded_buckets(conn: apsw.Connection, event: Event) -> None:
    """After a migration: buckets it inserted (`insert into storage.buckets ...`) get the
    migration event's time, the same on every node that applies it, and then whatever bucket
    events already arrived for them (from a peer, ahead of the migration)."""
    at = hlc_mod.to_iso(event.hlc)
    seeded = conn.execute(
        "SELECT id FROM storage_buckets WHERE created_at IS NULL OR updated_at IS NULL"
    ).fetchall()
    conn.execute(
        "UPDATE storage_buckets SET created_at = coalesce(created_at, ?), "
        "updated_at = coalesce(updated_at, ?) WHERE created_at IS NULL OR updated_at IS NULL",
        (at, at),
    )
    for (bucket_id,) in seeded:
        state = bucket_state(conn, str(bucket_id))
        if state.registers:
            _project_bucket(conn, str(bucket_id), state)


def _reset(conn: apsw.Connection) -> None:
    conn.execute("DELETE FROM storage_objects")
    conn.execute("DELETE FROM storage_object_tombstones")
    conn.execute("DELETE FROM storage_bucket_state")
    # Buckets a migration seeded are made again when its schema event replays.
    conn.execute("DELETE FROM storage_buckets")


PROJECTION = Projection("storage", ("storage.",), _apply, _reset)
