"""What a module may be: checked once, at deploy, so access fails closed.

A module imports only WASI preview1 (`wasi_snapshot_preview1`) and the `edge` host module, and
exports either a WASI command (`_start`) or the raw ABI (`memory`, `alloc`, `handle`).
"""

from __future__ import annotations

from dataclasses import dataclass

import wasmtime

from performer_edge.errors import InvalidInput

WASI_MODULE = "wasi_snapshot_preview1"
EDGE_MODULE = "edge"
WASM_MAGIC = b"\0asm"

I32 = "i32"
I64 = "i64"
# The `edge` imports (README, Functions: host calls) and their signatures.
EDGE_IMPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "call": ((I32, I32, I32, I32), (I32,)),
    "result": ((I32, I32), (I32,)),
    "log": ((I32, I32, I32), ()),
}
RAW_EXPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "alloc": ((I32,), (I32,)),
    "handle": ((I32, I32), (I64,)),
}
DEALLOC = ((I32, I32), ())

COMMAND = "command"
RAW = "raw"


@dataclass(frozen=True)
class ModuleShape:
    abi: str  # COMMAND or RAW
    uses_wasi: bool
    has_dealloc: bool
    edge_imports: tuple[str, ...]


def _signature(kind: object) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if not isinstance(kind, wasmtime.FuncType):
        return None
    return (tuple(str(p) for p in kind.params), tuple(str(r) for r in kind.results))


def refuse(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_module")


def check_module(module: wasmtime.Module) -> ModuleShape:
    """The module's ABI and needs, or InvalidInput(code=invalid_module) saying what is wrong."""
    uses_wasi = False
    edge: list[str] = []
    for item in module.imports:
        where = f"{item.module}.{item.name}"
        if item.module == WASI_MODULE:
            if not isinstance(item.type, wasmtime.FuncType):
                raise refuse(f"import {where} must be a function")
            uses_wasi = True
        elif item.module == EDGE_MODULE:
            wanted = EDGE_IMPORTS.get(item.name or "")
            if wanted is None:
                known = ", ".join(EDGE_IMPORTS)
                raise refuse(f"unknown host function {where} (the edge module has: {known})")
            if _signature(item.type) != wanted:
                raise refuse(f"import {where} must have the signature {_show(wanted)}")
            edge.append(item.name or "")
        else:
            raise refuse(
                f"import {where} is not allowed: a function may import only "
                f"{WASI_MODULE} and {EDGE_MODULE}"
            )
    exports = {e.name: e.type for e in module.exports}
    if "handle" in exports or "alloc" in exports:
        if not isinstance(exports.get("memory"), wasmtime.MemoryType):
            raise refuse("the raw ABI needs an exported memory named `memory`")
        for name, wanted in RAW_EXPORTS.items():
            if _signature(exports.get(name)) != wanted:
                raise refuse(f"the raw ABI needs an export {name}{_show(wanted)}")
        dealloc = "dealloc" in exports
        if dealloc and _signature(exports["dealloc"]) != DEALLOC:
            raise refuse(f"export dealloc must have the signature {_show(DEALLOC)}")
        return ModuleShape(RAW, uses_wasi, dealloc, tuple(edge))
    if _signature(exports.get("_start")) == ((), ()):
        if not uses_wasi:
            raise refuse("a command module reads stdin and writes stdout: it must import WASI")
        return ModuleShape(COMMAND, uses_wasi, False, tuple(edge))
    raise refuse(
        "the module exports neither `_start` (a WASI command) nor `memory`, `alloc` and "
        "`handle` (the raw ABI)"
    )


def _show(signature: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    params, results = signature
    return f"({', '.join(params)}) -> ({', '.join(results)})"
