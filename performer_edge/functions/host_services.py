"""The node's side of `edge.call`: each operation, the permission it needs, and how it runs.

Database operations run through the REST layer's own compile and write entry points, as the
caller under its row-level policies (as service_role only with the `db.service_role`
permission). Runs on a function's worker thread: reads use a pooled reader directly, writes
and Storage reads go to the event loop and wait for it, bounded by the invocation's deadline.
`storage.get` of an object whose blob is on a peer fetches it first, as a download does.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

import orjson

from performer_edge.core.events import MAX_SCOPE_LENGTH, kind_problems
from performer_edge.errors import PerformerError
from performer_edge.functions.hostcalls import BAD_REQUEST, HostCallError, Invocation
from performer_edge.rest import api_write
from performer_edge.rest.compile import RequestContext, compile_read, run_read
from performer_edge.rest.query import parse_accept, parse_prefer, parse_query
from performer_edge.storage import errors as storage_errors
from storage_blobs import BlobNotFound

if TYPE_CHECKING:
    from performer_edge.core.db import Database
    from performer_edge.core.log import LogWriter
    from performer_edge.rest.component import RestComponent
    from performer_edge.storage.component import StorageComponent

T = TypeVar("T")

# Operation -> the permission a deploy must grant for it (README, Functions: permissions).
PERMISSIONS: dict[str, str] = {
    "db.select": "db.read",
    "db.insert": "db.write",
    "db.upsert": "db.write",
    "db.update": "db.write",
    "db.delete": "db.write",
    "storage.get": "storage.read",
    "events.append": "events.append",
}
SERVICE_ROLE_PERMISSION = "db.service_role"
KNOWN_PERMISSIONS = frozenset({*PERMISSIONS.values(), SERVICE_ROLE_PERMISSION})
WRITE_METHODS = {
    "db.insert": "POST",
    "db.upsert": "POST",
    "db.update": "PATCH",
    "db.delete": "DELETE",
}
APP_KIND_PREFIX = "app."


def bad_request(message: str) -> HostCallError:
    return HostCallError(message, code=BAD_REQUEST, error="bad_request")


class NodeHostServices:
    def __init__(
        self, db: Database, log: LogWriter, rest: RestComponent, storage: StorageComponent
    ) -> None:
        self.db = db
        self.log = log
        self.rest = rest
        self.storage = storage
        self.loop: asyncio.AbstractEventLoop | None = None

    def permission_for(self, op: str) -> str | None:
        return PERMISSIONS.get(op)

    def perform(self, op: str, request: Any, call: Invocation) -> Any:
        if not isinstance(request, dict):
            raise bad_request(f"{op} takes a JSON object")
        try:
            if op == "db.select":
                return self._select(request, call)
            if op in WRITE_METHODS:
                return self._write(op, request, call)
            if op == "storage.get":
                return self._storage_get(request, call)
            if op == "events.append":
                return self._append(request, call)
        except PerformerError as exc:
            raise _failed(exc) from None
        raise HostCallError(f"no operation {op}", error="unknown_operation")

    # -- the Database ----------------------------------------------------------------------------

    def _context(self, call: Invocation) -> RequestContext:
        if SERVICE_ROLE_PERMISSION in call.grants:
            return RequestContext.for_claims({"role": "service_role"})
        return RequestContext.for_claims(call.claims)

    def _select(self, request: dict[str, Any], call: Invocation) -> Any:
        table = _table(request)
        query = parse_query(_query_pairs(request))
        context = self._context(call)

        def run(conn: Any) -> Any:
            compiled = compile_read(table, query, self.rest.catalog.get(conn), context)
            return run_read(conn, compiled, context)[0]

        body = self.db.read_sync(run)
        return {"data": orjson.loads(body) if body else []}

    def _write(self, op: str, request: dict[str, Any], call: Invocation) -> Any:
        table = _table(request)
        prefer = ["return=representation"]
        if op == "db.upsert":
            prefer.append("resolution=merge-duplicates")
        write = api_write.WriteRequest(
            self.rest,
            table,
            self._context(call),
            parse_query(_query_pairs(request)),
            parse_prefer(prefer),
            parse_accept(None),
        )
        body = request.get("values") if op == "db.update" else request.get("rows")
        outcome = self._on_loop(api_write.run_write(write, WRITE_METHODS[op], body), call)
        return {
            "data": orjson.loads(outcome.body) if outcome.body else [],
            "count": outcome.affected,
        }

    # -- Storage and events ----------------------------------------------------------------------

    def _storage_get(self, request: dict[str, Any], call: Invocation) -> Any:
        bucket, path = request.get("bucket"), request.get("path")
        if not isinstance(bucket, str) or not isinstance(path, str):
            raise bad_request("storage.get takes {bucket, path}")
        context = self._context(call)
        found = self._on_loop(self.storage.objects.find(context, bucket, path), call)
        if found.size > call.limits.max_host_result_bytes:
            raise HostCallError(
                f"the object is over {call.limits.max_host_result_bytes} bytes", error="too_large"
            )
        try:
            data = self._read_blob(found.blob)
        except BlobNotFound:
            # Metadata that came by sync, the bytes still on a peer: fetch them as downloads do.
            self._on_loop(self.storage.fetcher.ensure(found.blob, found.size), call)
            try:
                data = self._read_blob(found.blob)
            except BlobNotFound:
                raise storage_errors.no_such_key() from None
        return {
            "content_type": found.mimetype,
            "size": found.size,
            "body_base64": base64.b64encode(data).decode(),
        }

    def _read_blob(self, blob: str) -> bytes:
        with self.storage.blobs.open(blob) as stream:
            return stream.read()

    def _append(self, request: dict[str, Any], call: Invocation) -> Any:
        kind, scope = request.get("kind"), request.get("scope", "")
        if not isinstance(kind, str) or not kind.startswith(APP_KIND_PREFIX) or kind_problems(kind):
            raise bad_request("events.append takes a kind under `app.` (like app.order_placed)")
        if not isinstance(scope, str) or len(scope) > MAX_SCOPE_LENGTH:
            raise bad_request(f"scope must be a string of at most {MAX_SCOPE_LENGTH} characters")
        data = request.get("data")
        event = self.db.write_sync(lambda tx: self.log.append(tx, kind, scope, data))
        return {"origin": event.origin.hex(), "seq": event.seq, "pos": event.pos}

    def _on_loop(self, work: Coroutine[Any, Any, T], call: Invocation) -> T:
        """Run `work` on the node's event loop and wait, at most until the deadline."""
        loop = self.loop
        if loop is None or loop.is_closed():
            work.close()
            raise HostCallError("the node is not serving", error="unavailable")
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            return future.result(timeout=max(call.remaining_s(), 0.001))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise HostCallError("the host call ran past the deadline", error="timeout") from None


def _failed(exc: PerformerError) -> HostCallError:
    """The REST layer's error as the guest sees it: PostgREST's code, message and details."""
    failure = HostCallError(exc.message, error=exc.error_code)
    if exc.details is not None:
        failure.body["details"] = exc.details
    if exc.hint is not None:
        failure.body["hint"] = exc.hint
    return failure


def _table(request: dict[str, Any]) -> str:
    table = request.get("table")
    if not isinstance(table, str) or not table:
        raise bad_request('name the table: {"table": "..."}')
    return table


def _query_pairs(request: dict[str, Any]) -> list[tuple[str, str]]:
    """`query` as PostgREST's query string (`select=id&done=eq.false`) or an object."""
    query = request.get("query") or ""
    if isinstance(query, str):
        return parse_qsl(query, keep_blank_values=True)
    if isinstance(query, dict) and all(isinstance(v, str) for v in query.values()):
        return [(str(k), v) for k, v in query.items()]
    raise bad_request("query is a query string or an object of strings")
