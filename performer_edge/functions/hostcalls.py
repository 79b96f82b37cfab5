"""The `edge` import module: `call`, `result` and `log`, defined once on a linker and bound to
the invocation running on the calling thread.

Host functions never raise: wasmtime-py keeps a host exception in a process-global slot that
another thread may pick up (wasm-functions.md §4.3). Failures become negative return codes; a
fault that must stop the guest records its reason and drains the store's fuel, so the guest
traps at its next fuel check, and the runtime reports the recorded reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import wasmtime
from wasmtime import _ffi as ffi

from performer_edge.functions.failures import FunctionFailed
from performer_edge.functions.limits import Limits
from performer_edge.functions.module_check import EDGE_IMPORTS, EDGE_MODULE

log = logging.getLogger("performer.functions")

# `edge.call` return codes (README, Functions: host calls).
DENIED = -1  # unknown operation, or the function lacks the permission
BAD_REQUEST = -2  # the request is not JSON of the operation's shape, or a pointer is wrong
FAILED = -3  # the operation ran and failed (the pending result says why)
TOO_LARGE = -4  # the result is over max_host_result_bytes
TOO_MANY_CALLS = -5  # over max_host_calls

MAX_OP_NAME = 64
LOG_LEVELS = {0: "debug", 1: "info", 2: "warn", 3: "error"}


class HostCallError(Exception):
    """An operation's failure, handed to the guest as `{"error": {...}}` with `code`."""

    def __init__(
        self, message: str, *, code: int = FAILED, error: str = "failed", status: int = 0
    ) -> None:
        super().__init__(message)
        self.code = code
        self.body: dict[str, Any] = {"code": error, "message": message}
        if status:
            self.body["status"] = status


class HostServices(Protocol):
    """The node's side of host calls: which permission an operation needs, and running it."""

    def permission_for(self, op: str) -> str | None: ...

    def perform(self, op: str, request: Any, call: Invocation) -> Any: ...


class CappedBuffer:
    """Bytes written by a guest up to a cap; thread-safe (WASI output callbacks run on a tokio
    worker thread, not the caller's)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.overflowed = False
        self._parts: list[bytes] = []
        self._size = 0
        self._lock = threading.Lock()

    def write(self, data: bytes) -> int:
        with self._lock:
            if self._size + len(data) > self.cap:
                self.overflowed = True
                return -27  # EFBIG: the guest's write fails
            self._parts.append(data)
            self._size += len(data)
            return len(data)

    def getvalue(self) -> bytes:
        with self._lock:
            return b"".join(self._parts)

    def reset(self) -> None:
        with self._lock:
            self._parts.clear()
            self._size = 0
            self.overflowed = False


@dataclass
class Invocation:
    """One call of a function, owned by the thread running it."""

    function: str
    limits: Limits
    grants: frozenset[str]
    claims: dict[str, Any]
    services: HostServices
    deadline: float  # time.monotonic() after which host calls refuse to start
    logs: CappedBuffer
    host_calls: int = 0
    fuel_used: int = 0
    pending: bytes | None = None
    failure: FunctionFailed | None = None

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()


_current = threading.local()


def bind(call: Invocation | None) -> None:
    """Make `call` the invocation host calls on this thread belong to (None: unbind)."""
    _current.call = call


def _bound() -> Invocation | None:
    found: Invocation | None = getattr(_current, "call", None)
    return found


def read_guest(caller: wasmtime.Caller, ptr: int, length: int) -> bytes | None:
    """Guest memory [ptr, ptr+length), or None when out of bounds. Masks the signed i32s:
    `Memory.read` follows slice rules, so -6 would read the last 6 bytes (§4.4)."""
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        return None
    ptr &= 0xFFFFFFFF
    length &= 0xFFFFFFFF
    if ptr + length > memory.data_len(caller):
        return None
    return bytes(memory.read(caller, ptr, ptr + length))


def write_guest(caller: wasmtime.Caller, ptr: int, data: bytes) -> bool:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        return False
    ptr &= 0xFFFFFFFF
    if ptr + len(data) > memory.data_len(caller):
        return False
    memory.write(caller, data, ptr)
    return True


def _stop(caller: wasmtime.Caller, call: Invocation, failure: FunctionFailed) -> None:
    """Stop the guest without raising: it traps with OUT_OF_FUEL at its next fuel check."""
    if call.failure is None:
        call.failure = failure
    ffi.wasmtime_context_set_fuel(caller._context(), 0)


def _pend(call: Invocation, code: int, body: dict[str, Any]) -> int:
    call.pending = orjson.dumps({"error": body})
    return code


def _call(caller: wasmtime.Caller, op_ptr: int, op_len: int, req_ptr: int, req_len: int) -> int:
    call = _bound()
    if call is None:
        return FAILED
    try:
        return _run_call(caller, call, op_ptr, op_len, req_ptr, req_len)
    except Exception as exc:  # a host function must never raise (module doc)
        log.exception("host call of %s failed", call.function)
        return _pend(call, FAILED, {"code": "failed", "message": f"host error: {exc}"})


def _run_call(
    caller: wasmtime.Caller, call: Invocation, op_ptr: int, op_len: int, req_ptr: int, req_len: int
) -> int:
    call.pending = None
    if (op_len & 0xFFFFFFFF) > MAX_OP_NAME or (
        req_len & 0xFFFFFFFF
    ) > call.limits.max_request_bytes:
        return _pend(call, TOO_LARGE, {"code": "too_large", "message": "operation too large"})
    op_raw = read_guest(caller, op_ptr, op_len)
    raw = read_guest(caller, req_ptr, req_len)
    if op_raw is None or raw is None:
        _stop(caller, call, FunctionFailed("bad_pointer", "edge.call got a pointer out of bounds"))
        return BAD_REQUEST
    call.host_calls += 1
    if call.host_calls > call.limits.max_host_calls:
        message = f"more than {call.limits.max_host_calls} host calls in one invocation"
        return _pend(call, TOO_MANY_CALLS, {"code": "too_many_calls", "message": message})
    op = op_raw.decode("utf-8", "replace")
    permission = call.services.permission_for(op)
    if permission is None:
        return _pend(call, DENIED, {"code": "unknown_operation", "message": f"no operation {op}"})
    if permission and permission not in call.grants:
        message = f"{op} needs the permission {permission!r}, which this function was not granted"
        return _pend(call, DENIED, {"code": "permission_denied", "message": message})
    try:
        request = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        return _pend(call, BAD_REQUEST, {"code": "bad_request", "message": f"not JSON: {exc}"})
    if call.remaining_s() <= 0:
        _stop(caller, call, FunctionFailed("timeout", "the function ran past its deadline"))
        return _pend(call, FAILED, {"code": "timeout", "message": "deadline passed"})
    try:
        result = call.services.perform(op, request, call)
    except HostCallError as exc:
        return _pend(call, exc.code, exc.body)
    encoded = orjson.dumps(result)
    if len(encoded) > call.limits.max_host_result_bytes:
        message = f"the result is over {call.limits.max_host_result_bytes} bytes"
        return _pend(call, TOO_LARGE, {"code": "too_large", "message": message})
    call.pending = encoded
    return len(encoded)


def _result(caller: wasmtime.Caller, buf_ptr: int, buf_cap: int) -> int:
    call = _bound()
    if call is None or call.pending is None:
        return BAD_REQUEST
    pending = call.pending
    if not write_guest(caller, buf_ptr, pending[: buf_cap & 0xFFFFFFFF]):
        _stop(caller, call, FunctionFailed("bad_pointer", "edge.result got a buffer out of bounds"))
        return BAD_REQUEST
    return len(pending)


def _log(caller: wasmtime.Caller, level: int, ptr: int, length: int) -> None:
    call = _bound()
    if call is None:
        return
    data = read_guest(caller, ptr, min(length & 0xFFFFFFFF, call.limits.max_log_bytes + 1))
    if data is None:
        _stop(caller, call, FunctionFailed("bad_pointer", "edge.log got a pointer out of bounds"))
        return
    line = f"[{LOG_LEVELS.get(level, 'info')}] ".encode() + data.rstrip(b"\n") + b"\n"
    if call.logs.write(line) < 0:
        _stop(caller, call, log_too_large(call.limits))


def log_too_large(limits: Limits) -> FunctionFailed:
    return FunctionFailed(
        "log_too_large", f"the function logged more than {limits.max_log_bytes} bytes"
    )


def define_edge(linker: wasmtime.Linker) -> None:
    """Add `edge.call`, `edge.result` and `edge.log` to `linker`."""
    handlers: dict[str, Callable[..., Any]] = {"call": _call, "result": _result, "log": _log}
    for name, (params, results) in EDGE_IMPORTS.items():
        kind = wasmtime.FuncType(
            [wasmtime.ValType.i32() for _ in params], [wasmtime.ValType.i32() for _ in results]
        )
        linker.define_func(EDGE_MODULE, name, kind, handlers[name], access_caller=True)
