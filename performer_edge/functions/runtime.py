"""Run one invocation of a module in a fresh (command) or warm (raw) sandboxed store.

Every store gets fuel, an epoch deadline, memory/instance/table limits and, when the module
imports WASI, a WASI context with nothing granted: no preopened directory (no filesystem), no
argv or env, the request on stdin, capped stdout and stderr, and `poll_oneoff` replaced by a
stub so a guest cannot sleep past its deadline (wasm-functions.md §1, §4). Call `invoke` from a
worker thread; it raises FunctionFailed, never a wasmtime exception.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi

from performer_edge.functions.engine import TICK_S, WasmEngine
from performer_edge.functions.failures import FunctionFailed
from performer_edge.functions.hostcalls import CappedBuffer, Invocation, bind, define_edge
from performer_edge.functions.hostcalls import log_too_large as log_too_large_failure
from performer_edge.functions.limits import Limits
from performer_edge.functions.module_check import COMMAND, WASI_MODULE, ModuleShape

MASK32 = 0xFFFFFFFF
WASM_PAGE = 65536
ENOTSUP = 58  # WASI errno for `poll_oneoff`'s stub
# wasmtime.Trap is not a WasmtimeError: every call into wasm catches both.
WASM_ERRORS = (wasmtime.Trap, wasmtime.WasmtimeError)
WARM_PER_FUNCTION = 4  # idle raw instances kept per module and limits (one per worker thread)


@dataclass(frozen=True)
class Loaded:
    """A deployed version ready to run."""

    name: str
    sha256: str
    module: wasmtime.Module
    shape: ModuleShape
    limits: Limits


@dataclass(frozen=True)
class Outcome:
    output: bytes
    fuel_used: int
    wall_ms: float
    warm: bool


class _Sink:
    """WASI output of a warm store, pointed at the current invocation's log."""

    def __init__(self) -> None:
        self.target: CappedBuffer | None = None

    def write(self, data: bytes) -> int:
        target = self.target
        return len(data) if target is None else target.write(data)


@dataclass
class _Warm:
    store: wasmtime.Store
    memory: wasmtime.Memory
    alloc: wasmtime.Func
    handle: wasmtime.Func
    dealloc: wasmtime.Func | None
    sink: _Sink


class Runtime:
    def __init__(self, engine: WasmEngine) -> None:
        self.engine = engine
        self._wasi_linker = _linker(engine.engine, with_wasi=True)
        self._plain_linker = _linker(engine.engine, with_wasi=False)
        self._warm: dict[tuple[str, Limits], list[_Warm]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- the store ------------------------------------------------------------------------------

    def _store(self, limits: Limits) -> wasmtime.Store:
        store = wasmtime.Store(self.engine.engine)
        store.set_limits(memory_size=limits.memory_bytes, instances=1, tables=4, memories=1)
        self._arm(store, limits)
        return store

    @staticmethod
    def _arm(store: wasmtime.Store, limits: Limits) -> None:
        """Fuel and deadline, before every call: a passed deadline stays passed (§4.5)."""
        store.set_fuel(limits.fuel)
        store.set_epoch_deadline(max(1, math.ceil(limits.timeout_ms / 1000 / TICK_S)))

    def _linker(self, shape: ModuleShape) -> wasmtime.Linker:
        return self._wasi_linker if shape.uses_wasi else self._plain_linker

    def probe(self, module: wasmtime.Module, shape: ModuleShape, limits: Limits) -> None:
        """Instantiate once under the limits (deploy time): an unknown WASI import or an initial
        memory over the cap is refused here, not at the first request."""
        store = self._store(limits)
        try:
            if shape.uses_wasi:
                store.set_wasi(wasmtime.WasiConfig())  # a WASI call without one aborts (§4.1)
            self.engine.ticker.enter()
            try:
                self._linker(shape).instantiate(store, module)
            finally:
                self.engine.ticker.leave()
        finally:
            store.close()

    # -- invoking -------------------------------------------------------------------------------

    def invoke(self, loaded: Loaded, request: bytes, call: Invocation) -> Outcome:
        limits = loaded.limits
        if len(request) > limits.max_request_bytes:
            raise FunctionFailed(
                "request_too_large", f"the request is over {limits.max_request_bytes} bytes"
            )
        started = time.perf_counter()
        self.engine.ticker.enter()
        bind(call)
        try:
            if loaded.shape.abi == COMMAND:
                output, fuel_left = self._run_command(loaded, request, call)
                warm = False
            else:
                output, fuel_left, warm = self._run_raw(loaded, request, call)
        finally:
            bind(None)
            self.engine.ticker.leave()
        if call.logs.overflowed:
            raise log_too_large_failure(limits)
        return Outcome(
            output, limits.fuel - fuel_left, (time.perf_counter() - started) * 1000, warm
        )

    def _run_command(self, loaded: Loaded, request: bytes, call: Invocation) -> tuple[bytes, int]:
        limits = loaded.limits
        stdout = CappedBuffer(limits.max_response_bytes)
        store = self._store(limits)
        try:
            wasi = wasmtime.WasiConfig()
            _set_stdin(wasi, request)
            wasi.stdout_custom = stdout.write
            wasi.stderr_custom = call.logs.write
            store.set_wasi(wasi)
            memory: wasmtime.Memory | None = None
            try:
                instance = self._linker(loaded.shape).instantiate(store, loaded.module)
                exports = instance.exports(store)
                found = exports.get("memory")
                memory = found if isinstance(found, wasmtime.Memory) else None
                start = exports["_start"]
                assert isinstance(start, wasmtime.Func)
                start(store)
            except wasmtime.ExitTrap as exc:
                if exc.code != 0:
                    raise _failure(
                        call,
                        stdout,
                        FunctionFailed(
                            "exit_nonzero", f"the function exited with status {exc.code}"
                        ),
                    ) from None
            except WASM_ERRORS as exc:
                raise _failure(call, stdout, _classify(exc, store, memory, limits)) from None
            if call.failure is not None or stdout.overflowed:
                raise _failure(call, stdout, None)
            return stdout.getvalue(), store.get_fuel()
        finally:
            call.fuel_used = _fuel_used(store, limits)
            store.close()  # drops the WASI context and its output callbacks now (§4.2)

    def _run_raw(self, loaded: Loaded, request: bytes, call: Invocation) -> tuple[bytes, int, bool]:
        limits = loaded.limits
        key = (loaded.sha256, limits)
        warm = self._take(key)
        reused = warm is not None
        try:
            if warm is None:
                warm = self._instantiate_raw(loaded, call)
            else:
                self._arm(warm.store, limits)
            warm.sink.target = call.logs
            output = self._handle(warm, request, call, limits)
        except FunctionFailed:
            if warm is not None:
                call.fuel_used = _fuel_used(warm.store, limits)
                warm.store.close()  # never reuse an instance after a trap (§4.10)
            raise
        fuel_left = warm.store.get_fuel()
        call.fuel_used = limits.fuel - fuel_left
        warm.sink.target = None
        self._give_back(key, warm)
        return output, fuel_left, reused

    def _instantiate_raw(self, loaded: Loaded, call: Invocation) -> _Warm:
        store = self._store(loaded.limits)
        sink = _Sink()
        if loaded.shape.uses_wasi:
            wasi = wasmtime.WasiConfig()
            wasi.stdout_custom = sink.write
            wasi.stderr_custom = sink.write
            store.set_wasi(wasi)
        memory: wasmtime.Memory | None = None
        try:
            instance = self._linker(loaded.shape).instantiate(store, loaded.module)
            exports = instance.exports(store)
            found = exports["memory"]
            memory = found if isinstance(found, wasmtime.Memory) else None
            initialize = exports.get("_initialize")
            if isinstance(initialize, wasmtime.Func):
                initialize(store)  # a reactor's constructors (clang -mexec-model=reactor)
        except WASM_ERRORS as exc:
            store.close()
            raise _failure(call, None, _classify(exc, store, memory, loaded.limits)) from None
        assert memory is not None
        funcs = {n: exports.get(n) for n in ("alloc", "handle", "dealloc")}
        alloc, handle, dealloc = (
            f if isinstance(f, wasmtime.Func) else None for f in funcs.values()
        )
        assert alloc is not None
        assert handle is not None
        return _Warm(store, memory, alloc, handle, dealloc, sink)

    def _handle(self, warm: _Warm, request: bytes, call: Invocation, limits: Limits) -> bytes:
        store, memory = warm.store, warm.memory
        try:
            ptr = int(warm.alloc(store, len(request))) & MASK32
            if ptr + len(request) > memory.data_len(store):
                raise FunctionFailed("bad_pointer", "alloc returned a pointer out of bounds")
            memory.write(store, request, ptr)
            packed = int(warm.handle(store, ptr, len(request)))
            if call.failure is not None:
                raise call.failure  # straight-line code can return after fuel was drained
            out_ptr, out_len = (packed >> 32) & MASK32, packed & MASK32
            if out_len > limits.max_response_bytes:
                raise FunctionFailed(
                    "output_too_large",
                    f"the response is over {limits.max_response_bytes} bytes",
                )
            if out_ptr + out_len > memory.data_len(store):
                raise FunctionFailed("bad_pointer", "handle returned a result out of bounds")
            output = bytes(memory.read(store, out_ptr, out_ptr + out_len))
            if warm.dealloc is not None:
                warm.dealloc(store, out_ptr, out_len)
        except WASM_ERRORS as exc:
            raise _failure(call, None, _classify(exc, store, memory, limits)) from None
        return output

    # -- warm instances -------------------------------------------------------------------------

    def _take(self, key: tuple[str, Limits]) -> _Warm | None:
        with self._lock:
            idle = self._warm.get(key)
            return idle.pop() if idle else None

    def _give_back(self, key: tuple[str, Limits], warm: _Warm) -> None:
        with self._lock:
            idle = self._warm.setdefault(key, [])
            if not self._closed and len(idle) < WARM_PER_FUNCTION:
                idle.append(warm)
                return
        warm.store.close()

    def forget(self, sha256: str) -> None:
        """Drop the warm instances of a module (its function was deleted or replaced)."""
        with self._lock:
            dropped = [w for k in list(self._warm) if k[0] == sha256 for w in self._warm.pop(k)]
        for warm in dropped:
            warm.store.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            dropped = [w for idle in self._warm.values() for w in idle]
            self._warm.clear()
        for warm in dropped:
            warm.store.close()
        self.engine.close()


def _failure(
    call: Invocation, stdout: CappedBuffer | None, found: FunctionFailed | None
) -> FunctionFailed:
    """The reason to report: a host call's recorded fault first (it drained the fuel), then a
    capped output, then what the trap said."""
    if call.failure is not None:
        return call.failure
    if stdout is not None and stdout.overflowed:
        return FunctionFailed(
            "output_too_large", f"the response is over {stdout.cap} bytes", "stdout capped"
        )
    if call.logs.overflowed:
        return log_too_large_failure(call.limits)
    assert found is not None
    return found


def _classify(
    exc: Exception,
    store: wasmtime.Store,
    memory: wasmtime.Memory | None,
    limits: Limits,
) -> FunctionFailed:
    detail = str(exc)
    code = exc.trap_code if isinstance(exc, wasmtime.Trap) else None
    if code == wasmtime.TrapCode.OUT_OF_FUEL:
        return FunctionFailed(
            "cpu_limit", f"the function used all its fuel ({limits.fuel})", detail
        )
    if code == wasmtime.TrapCode.INTERRUPT:
        return FunctionFailed(
            "timeout", f"the function ran past its deadline ({limits.timeout_ms} ms)", detail
        )
    if code == wasmtime.TrapCode.STACK_OVERFLOW:
        return FunctionFailed("stack_overflow", "the function overflowed its stack", detail)
    if memory is not None and _memory_full(memory, store, limits):
        return FunctionFailed(
            "memory_limit",
            f"the function failed after its memory reached the cap ({limits.memory_bytes} bytes)",
            detail,
        )
    if "exceeds memory limits" in detail:
        return FunctionFailed("memory_limit", "the module's initial memory is over the cap", detail)
    if code is None and not isinstance(exc, wasmtime.Trap):
        return FunctionFailed("instantiate_failed", "the module could not be instantiated", detail)
    name = code.name.lower() if code is not None else "trap"
    return FunctionFailed("trap", f"the function trapped: {name}", detail)


def _fuel_used(store: wasmtime.Store, limits: Limits) -> int:
    try:
        return limits.fuel - store.get_fuel()
    except wasmtime.WasmtimeError:
        return 0


def _memory_full(memory: wasmtime.Memory, store: wasmtime.Store, limits: Limits) -> bool:
    try:
        return memory.data_len(store) + WASM_PAGE > limits.memory_bytes
    except wasmtime.WasmtimeError:
        return False


def _set_stdin(wasi: wasmtime.WasiConfig, data: bytes) -> None:
    """Stdin from bytes: bound in `_ffi` but not wrapped in wasmtime-py 50 (§1 "WASI"). The C
    side takes ownership of the vector."""
    vec = ffi.wasm_byte_vec_t()
    buf = (ffi.wasm_byte_t * len(data)).from_buffer_copy(data)
    ffi.wasm_byte_vec_new(ctypes.byref(vec), len(data), buf)
    ffi.wasi_config_set_stdin_bytes(wasi.ptr(), ctypes.byref(vec))


def _poll_oneoff(*_args: Any) -> int:
    return ENOTSUP


def _linker(engine: wasmtime.Engine, *, with_wasi: bool) -> wasmtime.Linker:
    linker = wasmtime.Linker(engine)
    if with_wasi:
        linker.define_wasi()
        linker.allow_shadowing = True
        i32 = wasmtime.ValType.i32()
        kind = wasmtime.FuncType([i32, i32, i32, i32], [i32])
        linker.define_func(WASI_MODULE, "poll_oneoff", kind, _poll_oneoff)
    define_edge(linker)
    return linker
