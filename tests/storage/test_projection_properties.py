"""Property: any order of the same storage events, with repeats, projects identical tables, and
the objects visible are those the rules give, computed here by brute force over the whole set:
per name the newest write by (hlc, origin) wins, a tombstone (remove, move source) included, and
a write older than its bucket's latest deletion is dead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from performer_edge.core.events import Event, encode_payload, sign_event
from performer_edge.core.hlc import pack
from performer_edge.storage import projection, store
from performer_edge.storage.schema import (
    STORAGE_EAGER_FETCH_SCHEMA,
    STORAGE_MERGE_SCHEMA,
    STORAGE_SCHEMA,
)

KEYS = tuple(SigningKey(bytes([n]) * 32) for n in (7, 8, 9))
T0 = 1_760_000_000_000
BUCKETS = ("b1", "b2")
NAMES = ("x", "y", "z")
BLOBS = tuple(f"{n:064x}" for n in range(3))


@dataclass(frozen=True)
class Drawn:
    node: int
    tick: int
    kind: str
    data: dict[str, Any]


def _content(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "owner": draw(st.sampled_from([None, "u1"])),
        "blob": draw(st.sampled_from(BLOBS)),
        "size": draw(st.integers(0, 9)),
        "mimetype": "text/plain",
        "cache_control": "max-age=60",
        "user_metadata": draw(st.sampled_from([None, {"k": 1}])),
    }


@st.composite
def drawn_events(draw: st.DrawFn) -> Drawn:
    kind = draw(
        st.sampled_from(
            [
                store.BUCKET_CREATED,
                store.BUCKET_UPDATED,
                store.BUCKET_DELETED,
                store.OBJECT_PUT,
                store.OBJECT_PUT,
                store.OBJECT_MOVED,
                store.OBJECTS_DELETED,
            ]
        )
    )
    bucket = draw(st.sampled_from(BUCKETS))
    data: dict[str, Any]
    if kind == store.BUCKET_CREATED:
        data = {"id": bucket, "name": bucket, "owner": None, "public": draw(st.booleans())}
    elif kind == store.BUCKET_UPDATED:
        data = {"id": bucket, "file_size_limit": draw(st.sampled_from([None, 10, 20]))}
        if draw(st.booleans()):
            data["eager_fetch"] = draw(st.booleans())
    elif kind == store.BUCKET_DELETED:
        data = {"id": bucket}
    elif kind == store.OBJECT_PUT:
        data = {"bucket_id": bucket, "name": draw(st.sampled_from(NAMES)), **_content(draw)}
    elif kind == store.OBJECT_MOVED:
        data = {
            "bucket_id": bucket,
            "source": draw(st.sampled_from(NAMES)),
            "destination_bucket": draw(st.sampled_from(BUCKETS)),
            "destination": draw(st.sampled_from(NAMES)),
            "object": _content(draw),
        }
    else:
        names = draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True))
        data = {"bucket_id": bucket, "names": names}
    return Drawn(draw(st.integers(0, 2)), draw(st.integers(1, 6)), kind, data)


def sign_all(drawn: list[Drawn]) -> list[Event]:
    """Each node's events get seq 1, 2, ... and strictly increasing HLCs; nodes share HLCs."""
    events = []
    for node in range(3):
        last = 0
        mine = sorted((d for d in drawn if d.node == node), key=lambda d: d.tick)
        for seq, d in enumerate(mine, start=1):
            last = max(d.tick, last + 1)
            # Object ids are fresh uuids on every write that names a new id; unique here too.
            data = {**d.data, "id": d.data.get("id", f"o{node}.{seq}")}
            if "object" in data:
                data["object"] = {**data["object"], "id": f"m{node}.{seq}"}
            payload = encode_payload(data)
            scope = store.scope_of(d.data.get("bucket_id") or d.data["id"])
            events.append(sign_event(KEYS[node], seq, pack(T0 + last, 0), d.kind, scope, payload))
    return events


def applied(order: list[Event]) -> apsw.Connection:
    conn = apsw.Connection(":memory:")
    conn.execute(STORAGE_SCHEMA)
    conn.execute(STORAGE_MERGE_SCHEMA)
    conn.execute(STORAGE_EAGER_FETCH_SCHEMA)
    for event in order:
        projection.PROJECTION.apply(conn, event)
    return conn


def tables(conn: apsw.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        for table in (
            "storage_buckets",
            "storage_objects",
            "storage_object_tombstones",
            "storage_bucket_state",
        )
    }


def expected_objects(events: list[Event]) -> list[tuple[str, str, str]]:
    """(bucket, name, blob) of every live object, by the rules."""
    writes: dict[tuple[str, str], list[tuple[tuple[int, bytes], Any]]] = {}
    purges: dict[str, tuple[int, bytes]] = {}
    for event in events:
        clock, data = (event.hlc, event.origin), event.data
        if event.kind == store.BUCKET_DELETED:
            purges[data["id"]] = max(purges.get(data["id"], clock), clock)
        elif event.kind == store.OBJECT_PUT:
            writes.setdefault((data["bucket_id"], data["name"]), []).append((clock, data))
        elif event.kind == store.OBJECT_MOVED:
            writes.setdefault((data["bucket_id"], data["source"]), []).append((clock, None))
            target = (data["destination_bucket"], data["destination"])
            writes.setdefault(target, []).append((clock, data["object"]))
        elif event.kind == store.OBJECTS_DELETED:
            for name in data["names"]:
                writes.setdefault((data["bucket_id"], name), []).append((clock, None))
    live = []
    for (bucket, name), candidates in sorted(writes.items()):
        clock, content = max(candidates, key=lambda c: c[0])
        purged = purges.get(bucket)
        if content is not None and (purged is None or clock > purged):
            live.append((bucket, name, content["blob"]))
    return live


@settings(max_examples=200, deadline=None)
@given(data=st.data(), drawn=st.lists(drawn_events(), min_size=1, max_size=20))
def test_any_order_with_repeats_projects_identical_tables(
    data: st.DataObject, drawn: list[Drawn]
) -> None:
    events = sign_all(drawn)
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=6))
    first = applied(data.draw(st.permutations(events)))
    second = applied(data.draw(st.permutations(events + repeats)))

    assert tables(first) == tables(second)
    found = first.execute(
        "SELECT bucket_id, name, blob FROM storage_objects ORDER BY 1, 2"
    ).fetchall()
    assert found == expected_objects(events)


def test_a_delete_outlives_an_older_write_arriving_after_it() -> None:
    """The bug this projection fixes: a remove, then a peer's older upload of the same name."""
    put = {"bucket_id": "b1", "name": "x", "id": "i1", "blob": BLOBS[0], "size": 1}
    put |= {"mimetype": "text/plain", "cache_control": "no-cache"}
    older = sign_event(KEYS[1], 1, pack(T0 + 1, 0), store.OBJECT_PUT, "storage/b1", b"")
    older = sign_event(KEYS[1], 1, older.hlc, older.kind, older.scope, encode_payload(put))
    delete = encode_payload({"bucket_id": "b1", "names": ["x"]})
    newer = sign_event(KEYS[0], 1, pack(T0 + 2, 0), store.OBJECTS_DELETED, "storage/b1", delete)
    conn = applied([newer, older])
    assert conn.execute("SELECT count(*) FROM storage_objects").fetchone() == (0,)
    assert conn.execute("SELECT name FROM storage_object_tombstones").fetchall() == [("x",)]


def seed_bucket(conn: apsw.Connection) -> None:
    """What `insert into storage.buckets (id, name, public) values ('seeded', ...)` in a
    migration leaves, before `stamp_seeded_buckets` dates it."""
    conn.execute("INSERT INTO storage_buckets(id, name, public) VALUES ('seeded', 'seeded', 0)")


def test_events_for_a_migration_seeded_bucket_apply_whichever_arrives_first() -> None:
    """A bucket a migration inserted has no registers of its own: an update event lays its
    fields over the row, whether the event arrives after the migration or before it."""
    update = encode_payload({"id": "seeded", "public": True, "file_size_limit": 10})
    updated = sign_event(KEYS[0], 1, pack(T0 + 5, 0), store.BUCKET_UPDATED, "storage/x", update)
    migration = sign_event(KEYS[1], 1, pack(T0 + 1, 0), "schema.migrated", "schema", b"")

    after = applied([])
    seed_bucket(after)
    projection.stamp_seeded_buckets(after, migration)
    projection.PROJECTION.apply(after, updated)

    before = applied([updated])  # from a peer, ahead of the migration
    seed_bucket(before)
    projection.stamp_seeded_buckets(before, migration)

    assert tables(after) == tables(before)
    row = after.execute("SELECT public, file_size_limit FROM storage_buckets").fetchall()
    assert row == [(1, 10)]
