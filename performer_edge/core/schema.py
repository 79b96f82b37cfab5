"""The node's internal SQLite schema, migrated in order and tracked with `PRAGMA user_version`.

These are the core's steps; `performer_edge.node.SCHEMA_STEPS` appends each capability's.
Never edit or reorder a step that has shipped.
"""

from __future__ import annotations

# "Perf" in ASCII: marks a SQLite file as a Performer data file, so a foreign file is refused.
APPLICATION_ID = 0x50657266

CORE_MIGRATIONS: tuple[str, ...] = (
    # 1: the event log. `pos` is the local commit order; (origin, seq) is the global identity.
    """
    CREATE TABLE events(
        pos INTEGER PRIMARY KEY,
        origin BLOB NOT NULL,
        seq INTEGER NOT NULL,
        hlc INTEGER NOT NULL,
        kind TEXT NOT NULL,
        scope TEXT NOT NULL,
        payload BLOB NOT NULL,
        sig BLOB NOT NULL,
        UNIQUE(origin, seq)
    );
    CREATE TABLE origins(
        origin BLOB PRIMARY KEY,
        first_pos INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE meta(
        key TEXT PRIMARY KEY,
        value
    ) WITHOUT ROWID;
    """,
)

# The compaction horizon: events of `origin` up to `seq` were folded into a snapshot and may be
# gone from `events`; the log holds that origin's events after it, densely.
LOG_HORIZON_SCHEMA = """
CREATE TABLE log_horizon(
    origin BLOB PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
"""
