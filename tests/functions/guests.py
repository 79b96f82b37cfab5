"""WAT guests for the tests: each a function of the ABI, built with `wasmtime.wat2wasm`."""

from __future__ import annotations

import json

import wasmtime


def wasm(wat: str) -> bytes:
    return bytes(wasmtime.wat2wasm(wat))


def _data(text: str) -> str:
    """A WAT string literal for `text`."""
    return "".join(
        c if c.isalnum() or c in " {}:,[]._-" else f"\\{b:02x}"
        for c in text
        for b in [ord(c)]
        if b < 128
    )


def command_constant(response: dict) -> bytes:
    """A WASI command that writes `response` (JSON) to stdout."""
    text = json.dumps(response)
    return wasm(f"""
    (module
      (import "wasi_snapshot_preview1" "fd_write"
        (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 64) "{_data(text)}")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const {len(text)}))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))
    """)


# A raw-ABI guest answering `{"json": <the request>}`: the request JSON arrives at `alloc`'s
# pointer; `handle` writes the prefix and suffix around it with memory.copy.
RAW_ECHO = wasm("""
(module
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 0) "{\\"json\\":")
  (data (i32.const 16) "}")
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $ptr))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (local.set $out (global.get $next))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 8))
    (memory.copy (i32.add (local.get $out) (i32.const 8)) (local.get $ptr) (local.get $len))
    (memory.copy (i32.add (i32.add (local.get $out) (i32.const 8)) (local.get $len))
                 (i32.const 16) (i32.const 1))
    (global.set $next (i32.const 1024))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.add (local.get $len) (i32.const 9))))))
""")


def raw_handle(body: str, *, memory_pages: int = 1, extra: str = "") -> bytes:
    """A raw-ABI guest whose `handle` runs `body` (WAT instructions leaving an i64)."""
    return wasm(f"""
    (module
      (memory (export "memory") {memory_pages})
      (func (export "alloc") (param i32) (result i32) (i32.const 1024))
      {extra}
      (func (export "handle") (param $ptr i32) (param $len i32) (result i64) {body}))
    """)


INFINITE_LOOP = raw_handle("(loop $again (br $again)) (i64.const 0)")
DEEP_RECURSION = raw_handle(
    "(call $down (i32.const 0))",
    extra="(func $down (param i32) (result i64)"
    " (call $down (i32.add (local.get 0) (i32.const 1))))",
)
# Grows one page at a time until refused (memory.grow answers -1 at the cap), then traps.
GROW_PAST_CAP = raw_handle(
    "(loop $again (br_if $again (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable"
)
# A result pointer past the end of memory.
BAD_POINTER = raw_handle("(i64.const 0x7fff000000000010)")


def command(body: str, *, data: str = "") -> bytes:
    """A WASI command whose `_start` runs `body`; `$write` writes [ptr, ptr+len) to stdout."""
    return wasm(f"""
    (module
      (import "wasi_snapshot_preview1" "fd_write"
        (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_open"
        (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (memory (export "memory") 2)
      {data}
      (func $write (param $ptr i32) (param $len i32) (result i32)
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (func (export "_start") {body}))
    """)


# Writes 64 KiB to stdout 100 times (6.4 MiB), ignoring failed writes.
HUGE_OUTPUT = command(
    "(local $i i32)"
    "(loop $again"
    "  (drop (call $write (i32.const 1024) (i32.const 65536)))"
    "  (local.set $i (i32.add (local.get $i) (i32.const 1)))"
    "  (br_if $again (i32.lt_u (local.get $i) (i32.const 100))))"
)
# Opens /etc/passwd relative to fd 3, the first preopen: there are none, so the call fails
# and the function answers 403 with the errno as its body's one character (EBADF is 8).
OPEN_FILE = command(
    "(local $errno i32)"
    "(local.set $errno (call $path_open (i32.const 3) (i32.const 0) (i32.const 100)"
    "  (i32.const 11) (i32.const 0) (i64.const 2) (i64.const 2) (i32.const 0) (i32.const 16)))"
    "(if (i32.eqz (local.get $errno))"
    "  (then (drop (call $write (i32.const 200) (i32.const 15))))"
    "  (else (i32.store8 (i32.const 238) (i32.add (i32.const 48) (local.get $errno)))"
    "        (drop (call $write (i32.const 216) (i32.const 25)))))",
    data=(
        '(data (i32.const 100) "/etc/passwd")'
        '(data (i32.const 200) "{\\"body\\":\\"open\\"}")'
        '(data (i32.const 216) "{\\"status\\":403,\\"body\\":\\"?\\"}")'
    ),
)
UNKNOWN_IMPORT = wasm("""
(module
  (import "edge" "spawn_shell" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 0))
  (func (export "handle") (param i32 i32) (result i64) (i64.const 0)))
""")
FOREIGN_IMPORT = wasm("""
(module
  (import "env" "system" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 0))
  (func (export "handle") (param i32 i32) (result i64) (i64.const 0)))
""")


def host_call(op: str, request: dict) -> bytes:
    """A raw guest that makes one `edge.call(op, request)` and answers
    `{"status": 200 or 400+|code|, "json": <the pending result, or null>}`."""
    text = json.dumps(request)
    return wasm(f"""
    (module
      (import "edge" "call" (func $call (param i32 i32 i32 i32) (result i32)))
      (import "edge" "result" (func $result (param i32 i32) (result i32)))
      (memory (export "memory") 4)
      (data (i32.const 0) "{_data(op)}")
      (data (i32.const 256) "{_data(text)}")
      (data (i32.const 3072) "{{\\"status\\":")
      (data (i32.const 3088) ",\\"json\\":")
      (data (i32.const 3104) "null")
      (func (export "alloc") (param i32) (result i32) (i32.const 8192))
      (func (export "handle") (param i32 i32) (result i64)
        (local $code i32) (local $n i32)
        (local.set $code (call $call (i32.const 0) (i32.const {len(op)})
                                     (i32.const 256) (i32.const {len(text)})))
        (memory.copy (i32.const 4096) (i32.const 3072) (i32.const 10))
        (if (i32.ge_s (local.get $code) (i32.const 0))
          (then (i32.store8 (i32.const 4106) (i32.const 50))
                (i32.store8 (i32.const 4107) (i32.const 48))
                (i32.store8 (i32.const 4108) (i32.const 48)))
          (else (i32.store8 (i32.const 4106) (i32.const 52))
                (i32.store8 (i32.const 4107) (i32.const 48))
                (i32.store8 (i32.const 4108)
                  (i32.sub (i32.const 48) (local.get $code)))))
        (memory.copy (i32.const 4109) (i32.const 3088) (i32.const 8))
        (local.set $n (call $result (i32.const 4117) (i32.const 60000)))
        (if (i32.lt_s (local.get $n) (i32.const 0))
          (then (memory.copy (i32.const 4117) (i32.const 3104) (i32.const 4))
                (local.set $n (i32.const 4))))
        (i32.store8 (i32.add (i32.const 4117) (local.get $n)) (i32.const 125))
        (i64.or (i64.const 0x100000000000)
                (i64.extend_i32_u (i32.add (local.get $n) (i32.const 22))))))
    """)
