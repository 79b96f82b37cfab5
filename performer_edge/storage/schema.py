"""Storage's SQLite tables: the projection of `storage.*` events (a step of node.SCHEMA_STEPS).

The columns Postgres-flavoured policies and migrations may name are those of
`rest.catalog.SYSTEM_TABLES` (`storage.buckets`, `storage.objects`); the rest are Performer's.
Never edit this step once shipped: add a new one.
"""

from __future__ import annotations

STORAGE_SCHEMA = """
CREATE TABLE storage_buckets(
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner TEXT,
    public INTEGER NOT NULL DEFAULT 0,
    file_size_limit INTEGER,
    allowed_mime_types TEXT,
    created_at TEXT,
    updated_at TEXT
);
CREATE TABLE storage_objects(
    id TEXT PRIMARY KEY,
    bucket_id TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT,
    metadata TEXT,
    user_metadata TEXT,
    blob TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_accessed_at TEXT,
    hlc INTEGER NOT NULL,
    origin BLOB NOT NULL,
    UNIQUE(bucket_id, name)
);
CREATE INDEX storage_objects_blob ON storage_objects(blob);
"""

# Object names as last-writer-wins registers (storage.projection): a deleted name keeps its
# clock here, and each bucket's registers (row_registers' encoding) live in storage_bucket_state.
STORAGE_MERGE_SCHEMA = """
CREATE TABLE storage_object_tombstones(
    bucket_id TEXT NOT NULL,
    name TEXT NOT NULL,
    hlc INTEGER NOT NULL,
    origin BLOB NOT NULL,
    PRIMARY KEY(bucket_id, name)
) WITHOUT ROWID;
CREATE TABLE storage_bucket_state(
    id TEXT PRIMARY KEY,
    state BLOB NOT NULL
) WITHOUT ROWID;
"""

# A bucket whose objects' blobs every node fetches from its peers as soon as their metadata
# arrives (`eager_fetch`), instead of on their first read (storage.peer_eager).
STORAGE_EAGER_FETCH_SCHEMA = """
ALTER TABLE storage_buckets ADD COLUMN eager_fetch INTEGER NOT NULL DEFAULT 0;
"""
