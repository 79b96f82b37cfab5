"""Who may read or append to a stream: the caller's policies on `realtime.messages` for the
scope's family (topic `family.policy_topic(scope)`, extension `family.extension`), as
private channels and Yjs documents are authorised; service_role passes."""

from __future__ import annotations

from performer_edge.core.db import Database
from performer_edge.realtime.access import CatalogSource, channel_allowed
from performer_edge.rest.catalog import PolicyCommand
from performer_edge.rest.compile_context import RequestContext
from performer_edge.streams.service import Stream


class StreamPolicies:
    def __init__(self, db: Database, catalog: CatalogSource) -> None:
        self.db = db
        self.catalog = catalog

    async def allows(self, context: RequestContext, stream: Stream, command: PolicyCommand) -> bool:
        if context.bypass_rls:
            return True
        topic = stream.family.policy_topic(stream.scope)
        extensions = (stream.family.extension,)
        catalog = self.catalog
        return await self.db.read(
            lambda conn: channel_allowed(conn, catalog(conn), context, topic, command, extensions)
        )
