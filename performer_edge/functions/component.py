"""Assembles the Functions capability: engine, runtime, host services, metrics, a worker pool;
deploys as events and runs invocations off the event loop. Routes are in `api`/`api_manage`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apsw
import wasmtime
from aiohttp import web

from performer_edge.core.bus import EventBus
from performer_edge.core.db import Database, WriteTx
from performer_edge.core.log import LogWriter
from performer_edge.errors import Conflict, NotFound, Unavailable
from performer_edge.functions import registry
from performer_edge.functions import trigger_runs as runs
from performer_edge.functions.deploy import DeploySpec, check_name
from performer_edge.functions.engine import WasmEngine
from performer_edge.functions.envelope import BadResponse, Response, decode_response
from performer_edge.functions.failures import FunctionFailed
from performer_edge.functions.host_services import NodeHostServices
from performer_edge.functions.hostcalls import CappedBuffer, Invocation
from performer_edge.functions.limits import Limits
from performer_edge.functions.metrics import Metrics
from performer_edge.functions.module_check import check_module, refuse
from performer_edge.functions.runtime import Loaded, Runtime
from performer_edge.functions.trigger_runner import TriggerRunner

if TYPE_CHECKING:
    from performer_edge.rest.component import RestComponent
    from performer_edge.storage.component import StorageComponent

log = logging.getLogger("performer.functions")

FUNCTIONS_DIR = "functions"
WORKERS = 4
LOADED_KEPT = 256
# How long a name's current version is trusted without reading it again. Changes made or received
# here clear it at once (deploy, rollback, delete; `function.*` events on the bus); the bound
# covers state replaced wholesale (a snapshot installed from a peer).
CURRENT_TTL_S = 5.0


@dataclass(frozen=True)
class Ran:
    """An invocation's answer: the function's response, or why there is none."""

    response: Response | None
    failure: FunctionFailed | None


class FunctionsComponent:
    def __init__(
        self,
        db: Database,
        log_writer: LogWriter,
        data_root: Path,
        rest: RestComponent,
        storage: StorageComponent,
        bus: EventBus,
        *,
        workers: int = WORKERS,
    ) -> None:
        self.db = db
        self.log = log_writer
        self.engine = WasmEngine(data_root / FUNCTIONS_DIR / "compiled")
        self.runtime = Runtime(self.engine)
        self.services = NodeHostServices(db, log_writer, rest, storage)
        self.metrics = Metrics()
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="performer-fn")
        self._loaded: dict[tuple[str, str, str], Loaded] = {}
        self._current: dict[str, tuple[registry.Version, float]] = {}
        self._generation = 0  # bumped by every forget: a read begun before it is not cached
        self.triggers = TriggerRunner(self, bus, log_writer.identity.public_key)

    def install(self, app: web.Application) -> None:
        from performer_edge.functions import api, api_manage

        app[api.FUNCTIONS] = self
        api_manage.register(app)
        api.register(app)
        app.cleanup_ctx.append(self._running_triggers)

    async def _running_triggers(self, app: web.Application) -> AsyncIterator[None]:
        await self.triggers.start()
        yield
        await self.triggers.close()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self._loaded.clear()
        self.runtime.close()

    async def _in_worker(self, fn: Any, *args: Any) -> Any:
        self.services.loop = asyncio.get_running_loop()
        return await self.services.loop.run_in_executor(self.executor, fn, *args)

    # -- deploy, roll back, delete ---------------------------------------------------------------

    async def deploy(self, spec: DeploySpec) -> tuple[registry.Version, bool]:
        """Compile and check the module off the loop, then append the deployment. False when
        the same module with the same settings is already the current version (a no-op)."""
        sha256 = hashlib.sha256(spec.wasm).hexdigest()
        abi = await self._in_worker(self._check, spec, sha256)
        fields = {
            "name": spec.name,
            "sha256": sha256,
            "abi": abi,
            "description": spec.description,
            "triggers": list(spec.triggers),
            "permissions": list(spec.permissions),
            "limits": spec.limits.to_json(),
        }

        def write(tx: WriteTx) -> tuple[registry.Version, bool]:
            conn = tx.conn
            found = registry.current(conn, spec.name)
            if spec.version is not None:
                same = registry.find(conn, spec.name, spec.version)
                if same is not None and same.version == spec.version:
                    if _same_settings(same, fields):
                        return same, False
                    raise Conflict(
                        f"{spec.name} version {spec.version} is already deployed with other "
                        "content; give a new version",
                        code="version_exists",
                    )
                version = spec.version
            else:
                if found is not None and _same_settings(found, fields):
                    return found, False
                version = _next_version(conn, spec.name)
            data = {**fields, "version": version, "wasm": spec.wasm}
            self.log.append(tx, registry.DEPLOYED, registry.scope_of(spec.name), data)
            deployed = registry.current(conn, spec.name)
            assert deployed is not None
            return deployed, True

        try:
            return await self.db.write(write)
        finally:
            self.forget_current()

    def _check(self, spec: DeploySpec, sha256: str) -> str:
        try:
            module = self.engine.compile(spec.wasm)
        except wasmtime.WasmtimeError as exc:
            raise refuse(f"the module is not valid WebAssembly: {_first_line(exc)}") from None
        shape = check_module(module)
        try:
            self.runtime.probe(module, shape, spec.limits)
        except wasmtime.WasmtimeError as exc:
            raise refuse(f"the module cannot be instantiated: {_first_line(exc)}") from None
        self.engine.remember(sha256, module)
        return shape.abi

    async def rollback(self, name: str, ref: str) -> registry.Version:
        def write(tx: WriteTx) -> registry.Version:
            target = registry.find(tx.conn, name, ref)
            if target is None:
                raise NotFound(f"{name} has no version or hash {ref!r}", code="not_found")
            data = {"name": name, "version": target.version}
            self.log.append(tx, registry.ROLLED_BACK, registry.scope_of(name), data)
            return target

        try:
            return await self.db.write(write)
        finally:
            self.forget_current()

    async def delete(self, name: str) -> None:
        def write(tx: WriteTx) -> None:
            if registry.current(tx.conn, name) is None:
                raise NotFound(f"no function named {name}", code="not_found")
            self.log.append(tx, registry.DELETED, registry.scope_of(name), {"name": name})

        try:
            await self.db.write(write)
        finally:
            self.forget_current()
        self.metrics.forget(name)

    # -- trigger runs ----------------------------------------------------------------------------

    async def trigger_runs(
        self, name: str, status: str | None, limit: int, before: int | None
    ) -> tuple[list[runs.Run], dict[str, int]]:
        def read(conn: apsw.Connection) -> tuple[list[runs.Run], dict[str, int]]:
            return runs.runs_of(conn, name, status, limit, before), runs.counts(conn, name)

        return await self.db.read(read)

    async def retry_run(self, name: str, run_id: int) -> runs.Run:
        now = time.time()
        run = await self.db.write(lambda tx: runs.retry(tx.conn, name, run_id, now))
        if run is None:
            raise NotFound(f"{name} has no trigger run {run_id}", code="not_found")
        self.triggers.wake()
        return run

    # -- invoke ----------------------------------------------------------------------------------

    async def resolve(self, name: str, ref: str | None) -> tuple[registry.Version, Loaded]:
        """The version to run (the current one, or `ref`: a version or a module hash)."""
        check_name(name)
        cached = self._current.get(name) if ref is None else None
        if cached is not None and time.monotonic() - cached[1] < CURRENT_TTL_S:
            version = cached[0]
        else:
            version = await self._read_version(name, ref)
        key = (version.name, version.sha256, repr(sorted(version.limits.items())))
        loaded = self._loaded.get(key)
        if loaded is None:
            loaded = await self._in_worker(self._load, version)
            if len(self._loaded) >= LOADED_KEPT:
                self._loaded.clear()
            self._loaded[key] = loaded
        return version, loaded

    async def _read_version(self, name: str, ref: str | None) -> registry.Version:
        def read(conn: apsw.Connection) -> registry.Version | None:
            return registry.current(conn, name) if ref is None else registry.find(conn, name, ref)

        generation = self._generation
        version = await self.db.read(read)
        if version is None:
            raise NotFound("Requested function was not found", code="not_found")
        if ref is None and generation == self._generation:
            if len(self._current) >= LOADED_KEPT:
                self._current.clear()
            self._current[name] = (version, time.monotonic())
        return version

    def forget_current(self) -> None:
        """Deployments changed: read every name's current version again."""
        self._generation += 1
        self._current.clear()

    def _load(self, version: registry.Version) -> Loaded:
        wasm = self.db.read_sync(lambda conn: registry.module_bytes(conn, version.sha256))
        if wasm is None:
            raise Unavailable(f"the module of {version.name} is missing", code="module_missing")
        module = self.engine.load(version.sha256, wasm)
        limits = Limits.parse(version.limits)
        return Loaded(version.name, version.sha256, module, check_module(module), limits)

    async def run(
        self,
        version: registry.Version,
        loaded: Loaded,
        request: bytes,
        claims: dict[str, Any],
    ) -> Ran:
        call = Invocation(
            function=version.name,
            limits=loaded.limits,
            grants=frozenset(version.permissions),
            claims=claims,
            services=self.services,
            deadline=time.monotonic() + loaded.limits.timeout_ms / 1000,
            logs=CappedBuffer(loaded.limits.max_log_bytes),
        )
        started = time.perf_counter()
        ran: Ran = await self._in_worker(self._run_in_worker, loaded, request, call)
        wall_ms = (time.perf_counter() - started) * 1000
        failure, response = ran.failure, ran.response
        status = failure.status if failure is not None else response.status if response else 0
        reason = failure.reason if failure is not None else None
        self.metrics.record(
            version.name,
            version=version.version,
            status=status,
            wall_ms=wall_ms,
            fuel=call.fuel_used,
            reason=reason,
            logs=call.logs.getvalue(),
        )
        if ran.failure is not None:
            log.warning(
                "function %s@%s failed: %s (%s)",
                version.name,
                version.version,
                ran.failure.reason,
                ran.failure.detail or ran.failure.message,
            )
        return ran

    def _run_in_worker(self, loaded: Loaded, request: bytes, call: Invocation) -> Ran:
        try:
            outcome = self.runtime.invoke(loaded, request, call)
        except FunctionFailed as failure:
            return Ran(None, failure)
        try:
            return Ran(decode_response(outcome.output), None)
        except BadResponse as exc:
            return Ran(None, FunctionFailed("bad_response", str(exc)))


def _same_settings(version: registry.Version, fields: dict[str, Any]) -> bool:
    current = version.to_json()
    return all(current[key] == value for key, value in fields.items() if key != "name")


def _next_version(conn: apsw.Connection, name: str) -> str:
    taken = {v.version for v in registry.versions(conn, name)}
    number = len(taken) + 1
    while str(number) in taken:
        number += 1
    return str(number)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
