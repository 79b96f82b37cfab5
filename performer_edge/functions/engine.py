"""The wasmtime engine: fuel and epoch interruption on, an epoch ticker thread, and compiled
native code cached on disk per module hash, wasmtime version and engine flags.

The cache directory holds machine code that `Module.deserialize_file` trusts, so only the node
writes it (mode 0700, under the data dir); see wasm-functions.md §1 "Module loading".
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from importlib.metadata import version
from pathlib import Path
from typing import Final

import wasmtime
from wasmtime import _wasi

from performer_edge.core.secrets import write_secret_file

log = logging.getLogger("performer.functions")

TICK_S: Final = 0.010  # one epoch; deadlines are whole ticks
MAX_WASM_STACK: Final = 512 * 1024  # deep recursion traps in ~1 ms instead of growing the host's
# Every flag that changes the native code: a cached module compiled under other flags is refused.
ENGINE_FLAGS: Final = f"fuel-epoch-stack{MAX_WASM_STACK}-nothreads"
WASMTIME_VERSION: Final = version("wasmtime")


class EpochTicker:
    """Advances the engine's epoch every TICK_S while any invocation runs, and sleeps otherwise,
    so an idle node does not wake 100 times a second."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._active = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="performer-wasm-epoch", daemon=True)
        self._thread.start()

    def enter(self) -> None:
        with self._cond:
            self._active += 1
            self._cond.notify()

    def leave(self) -> None:
        with self._cond:
            self._active -= 1

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._active > 0 or self._closed)
                if self._closed:
                    return
            time.sleep(TICK_S)
            self._engine.increment_epoch()


class WasmEngine:
    """One engine per node, shared by every worker thread (stores are never shared)."""

    def __init__(self, cache_dir: Path, memory_cache: int = 64) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        config.max_wasm_stack = MAX_WASM_STACK
        config.wasm_threads = False
        self.engine = wasmtime.Engine(config)
        self.ticker = EpochTicker(self.engine)
        self.cache_dir = cache_dir / f"wasmtime-{WASMTIME_VERSION}-{_flags_digest()}"
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.cache_dir, 0o700)
        self._modules: OrderedDict[str, wasmtime.Module] = OrderedDict()
        self._capacity = memory_cache
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def compile(self, wasm: bytes) -> wasmtime.Module:
        """Compile (raises wasmtime.WasmtimeError for an invalid module) without caching."""
        return wasmtime.Module(self.engine, wasm)

    def load(self, sha256: str, wasm: bytes) -> wasmtime.Module:
        """The module for `wasm` (whose SHA-256 is `sha256`): from memory, from the disk cache,
        or compiled now and written to the disk cache."""
        with self._lock:
            found = self._modules.get(sha256)
            if found is not None:
                self._modules.move_to_end(sha256)
                return found
        path = self.cache_dir / f"{sha256}.cwasm"
        module: wasmtime.Module | None = None
        if path.exists():
            try:
                module = wasmtime.Module.deserialize_file(self.engine, str(path))
            except wasmtime.WasmtimeError as exc:
                log.warning("recompiling %s: cached code refused (%s)", sha256[:12], exc)
        if module is None:
            if hashlib.sha256(wasm).hexdigest() != sha256:
                raise ValueError(f"module bytes do not hash to {sha256}")
            module = self.compile(wasm)
            self.remember(sha256, module)
        else:
            self._keep(sha256, module)
        return module

    def remember(self, sha256: str, module: wasmtime.Module) -> None:
        """Cache a module compiled from bytes hashing to `sha256`, in memory and on disk."""
        code = bytes(module.serialize())
        with self._write_lock:  # two deploys of one module would share the temp file
            write_secret_file(str(self.cache_dir / f"{sha256}.cwasm"), code)
        self._keep(sha256, module)

    def _keep(self, sha256: str, module: wasmtime.Module) -> None:
        with self._lock:
            self._modules[sha256] = module
            while len(self._modules) > self._capacity:
                self._modules.popitem(last=False)

    def close(self) -> None:
        self.ticker.close()
        with self._lock:
            self._modules.clear()


def _flags_digest() -> str:
    return hashlib.sha256(ENGINE_FLAGS.encode()).hexdigest()[:12]


def release_outputs(timeout_s: float = 2.0) -> None:
    """Wait until wasmtime has released every custom stdout/stderr callback.

    A store with `stdout_custom` alive at interpreter exit makes a tokio worker call into a
    finalizing interpreter and abort the process (wasm-functions.md §4.2); registered atexit.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        gc.collect()
        if not _wasi.CUSTOM_OUTPUTS.handles or time.monotonic() > deadline:
            return
        time.sleep(0.01)


atexit.register(release_outputs)
