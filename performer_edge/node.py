"""The composition root: open the data dir and its store, wire the capabilities, own their life.

Transports (the HTTP server, later sync peers) receive a `Node`; nothing below imports this.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import apsw

from performer_edge import __version__
from performer_edge.auth.component import AuthComponent
from performer_edge.auth.schema import AUTH_SCHEMA
from performer_edge.auth.store import PROJECTION as AUTH_PROJECTION
from performer_edge.config import Settings
from performer_edge.core.bus import EventBus
from performer_edge.core.compaction import Snapshots
from performer_edge.core.datadir import ApiKeys, DataDir
from performer_edge.core.db import Database
from performer_edge.core.dbfile import describe
from performer_edge.core.events import Event, encode_checked
from performer_edge.core.identity import NodeIdentity
from performer_edge.core.log import LogWriter
from performer_edge.core.projections import Projections
from performer_edge.core.schema import CORE_MIGRATIONS, LOG_HORIZON_SCHEMA
from performer_edge.core.snapshot import LOCAL_TABLES
from performer_edge.core.tokens import TokenKeys, TrustedKeys
from performer_edge.errors import DataDirError
from performer_edge.functions.component import FunctionsComponent
from performer_edge.functions.registry import FUNCTIONS_SCHEMA
from performer_edge.functions.registry import PROJECTION as FUNCTIONS_PROJECTION
from performer_edge.functions.trigger_runs import TRIGGER_RUNS_SCHEMA, TRIGGER_TABLES
from performer_edge.peers import membership
from performer_edge.peers.blob_peers import ClusterBlobPeers
from performer_edge.peers.cluster_events import CLUSTER_SCHEMA
from performer_edge.peers.cluster_events import PROJECTION as CLUSTER_PROJECTION
from performer_edge.peers.cluster_state import ClusterState
from performer_edge.peers.manager import PeerManager
from performer_edge.realtime.component import RealtimeComponent
from performer_edge.realtime.history import REALTIME_SCHEMA
from performer_edge.realtime.ydoc_store import PROJECTION as YDOC_PROJECTION
from performer_edge.realtime.ydoc_store import YDOC_SCHEMA, YDOC_STATE_SCHEMA
from performer_edge.rest.catalog import Catalog
from performer_edge.rest.compile import install_functions
from performer_edge.rest.component import RestComponent
from performer_edge.rest.row_constraints import ROW_HIDDEN_SCHEMA
from performer_edge.rest.row_events import RowStore
from performer_edge.rest.row_tables import ROW_EVENTS_SCHEMA
from performer_edge.rest.schema import REST_PENDING_SCHEMA, REST_SCHEMA, make_projection
from performer_edge.storage import projection as storage_projection
from performer_edge.storage.component import StorageComponent, StorageOptions
from performer_edge.storage.schema import (
    STORAGE_EAGER_FETCH_SCHEMA,
    STORAGE_MERGE_SCHEMA,
    STORAGE_SCHEMA,
)
from performer_edge.streams.component import StreamsComponent
from performer_edge.streams.reducers import StreamFamilies, default_families
from performer_edge.streams.store import STREAM_TABLES, STREAMS_SCHEMA, index_projection

# The database's schema steps: the core's, then each capability's, in the order they shipped.
SCHEMA_STEPS: tuple[str, ...] = (
    *CORE_MIGRATIONS,
    AUTH_SCHEMA,
    REST_SCHEMA,
    ROW_EVENTS_SCHEMA,
    ROW_HIDDEN_SCHEMA,
    REST_PENDING_SCHEMA,
    CLUSTER_SCHEMA,
    LOG_HORIZON_SCHEMA,
    STORAGE_SCHEMA,
    STORAGE_MERGE_SCHEMA,
    FUNCTIONS_SCHEMA,
    REALTIME_SCHEMA,
    TRIGGER_RUNS_SCHEMA,
    YDOC_SCHEMA,
    YDOC_STATE_SCHEMA,
    STREAMS_SCHEMA,
    STORAGE_EAGER_FETCH_SCHEMA,
)


class Node:
    """One running node: settings, identity, keys, database, log writer and bus."""

    def __init__(
        self,
        settings: Settings,
        data_dir: DataDir,
        identity: NodeIdentity,
        tokens: TokenKeys,
        api_keys: ApiKeys,
        db: Database,
        log: LogWriter,
        bus: EventBus,
        projections: Projections,
        auth: AuthComponent,
        rest: RestComponent,
        cluster: ClusterState,
        snapshots: Snapshots,
        peers: PeerManager | None = None,
        *,
        storage: StorageComponent,
        functions: FunctionsComponent,
        stream_families: StreamFamilies,
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.identity = identity
        self.tokens = tokens
        self.api_keys = api_keys
        self.db = db
        self.log = log
        self.bus = bus
        self.projections = projections
        self.auth = auth
        self.rest = rest
        self.cluster = cluster  # membership, revoked keys, members' JWT keys (kept current)
        self.snapshots = snapshots  # the base snapshot, compaction, snapshots for peers
        self.peers = peers  # None: this node belongs to no cluster and syncs with nobody
        self.storage = storage
        self.functions = functions
        self.version = __version__
        self.started_at = time.monotonic()
        self.realtime = RealtimeComponent(
            db,
            self.append,
            self.append_many,
            tokens,
            rest.catalog.get,
            bus,
            outbox_size=settings.bus_queue_size,
            retention_s=settings.realtime_retention,
        )
        self.streams = StreamsComponent(
            db,
            log,
            stream_families,
            tokens,
            rest.catalog.get,
            bus,
            snapshot_every=settings.stream_snapshot_every,
            snapshot_keep=settings.stream_snapshot_keep,
        )

    @classmethod
    def open(cls, settings: Settings, *, lock: bool = True) -> Node:
        """Open (creating on first use) the data dir; with `lock`, claim it for this process."""
        data_dir = DataDir(settings.data)
        data_dir.initialize()
        if lock:
            data_dir.acquire_lock()
        try:
            identity = data_dir.load_identity()
            cluster = membership.load(data_dir)
            # The members' JWT keys, learnt from `cluster.jwt_key` events as they commit.
            ring = TrustedKeys()
            tokens = replace(data_dir.load_token_keys(settings.jwt_secret), trusted=ring)
            cluster_state = ClusterState(data_dir, identity, ring)
            api_keys = data_dir.api_keys(tokens)
            projections = Projections()
            projections.register(AUTH_PROJECTION)
            rows = RowStore()
            hooks: list[RestComponent] = []
            # Rows before schema: a replay's reset empties user tables before they are dropped.
            projections.register(rows.projection)

            def sync_tables(conn: apsw.Connection, event: Event, catalog: Catalog) -> None:
                if hooks:  # the component exists once db and log do; it then loads the rest
                    hooks[0].after_migration(conn, event, catalog)
                # `insert into storage.buckets`
                storage_projection.stamp_seeded_buckets(conn, event)

            projections.register(make_projection(sync_tables))
            projections.register(CLUSTER_PROJECTION)
            projections.register(storage_projection.PROJECTION)
            projections.register(FUNCTIONS_PROJECTION)
            projections.register(YDOC_PROJECTION)
            # Families register before the index projection, which takes their kinds.
            stream_families = default_families()
            projections.register(index_projection(stream_families))
            bus = EventBus(settings.bus_queue_size)

            def committed(events: list[Any]) -> None:
                cluster_state.on_commit(events)  # trust changes before subscribers see events
                bus.publish(events)

            db = Database(
                data_dir.db_path,
                migrations=SCHEMA_STEPS,
                synchronous=settings.synchronous,
                max_group=settings.write_group_max,
                on_commit=committed,
                on_connect=install_functions,
            )
            try:
                log = db.run_exclusive(
                    lambda conn: LogWriter.open(
                        conn, identity, projections, max_skew_ms=settings.max_clock_skew_ms
                    )
                )
            except apsw.Error as exc:
                db.close()
                raise DataDirError(f"{data_dir.db_path}: {describe(exc)}") from exc
            except BaseException:
                db.close()
                raise
            block = cluster.block if cluster is not None else 0
            rest = RestComponent(db, log, rows, id_block=block)
            hooks.append(rest)
            db.run_exclusive(rest.load_tables)
            auth = AuthComponent.build(db, log, tokens, settings, data_dir.auth_secret_key())
            storage = StorageComponent.build(
                db,
                log,
                data_dir.root,
                tokens,
                rest.catalog.get,
                StorageOptions(
                    max_file_bytes=settings.storage_max_file_bytes,
                    gc_interval=settings.storage_gc_interval,
                    gc_grace=settings.storage_gc_grace,
                    resumable_expiry=settings.storage_resumable_expiry,
                ),
                sole_owner=lock,
            )
            functions = FunctionsComponent(db, log, data_dir.root, rest, storage, bus)
            cluster_state.open(db, log, tokens)

            def state_replaced(conn: apsw.Connection) -> None:
                """A snapshot replaced the derived state: drop what components cache of it."""
                rest.reload(conn)
                cluster_state.load(conn)
                functions.forget_current()

            snapshots = Snapshots(
                db,
                log,
                projections,
                data_dir.snapshots_dir,
                state_replaced,
                local_tables=LOCAL_TABLES | TRIGGER_TABLES | STREAM_TABLES,
            )
            peers = None
            if cluster is not None:
                # The live revoked set: a revocation refuses the key at its next handshake.
                peers = PeerManager(
                    db,
                    log,
                    bus,
                    identity,
                    cluster,
                    revoked=cluster_state.revoked,
                    snapshots=snapshots,
                )
                storage.use_peers(ClusterBlobPeers(peers), bus, identity.public_key)
        except BaseException:
            data_dir.release_lock()
            raise
        return cls(
            settings,
            data_dir,
            identity,
            tokens,
            api_keys,
            db,
            log,
            bus,
            projections,
            auth,
            rest,
            cluster_state,
            snapshots,
            peers,
            storage=storage,
            functions=functions,
            stream_families=stream_families,
        )

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_at

    async def append(self, kind: str, scope: str, data: Any) -> Event:
        """Append one local event; returns once it is durably committed."""
        # Validate and encode here, on the caller's thread: the writer thread is the bottleneck.
        payload = encode_checked(kind, data)
        return await self.db.write(lambda tx: self.log.append_encoded(tx, kind, scope, payload))

    async def append_many(self, items: list[tuple[str, str, Any]]) -> list[Event]:
        """Append several events atomically: all commit or none do."""
        encoded = [(kind, scope, encode_checked(kind, data)) for kind, scope, data in items]
        return await self.db.write(
            lambda tx: [self.log.append_encoded(tx, k, s, payload) for k, s, payload in encoded]
        )

    def close(self) -> None:
        self.functions.close()
        self.bus.close()
        self.db.close()
        self.data_dir.release_lock()
