;; A Performer Edge function in WAT, on the raw ABI: the node calls alloc(len), writes the
;; request JSON there, then handle(ptr, len), which returns (out_ptr << 32) | out_len of the
;; response JSON. This one answers {"json": <the request>}. Instances are reused between
;; calls, so `handle` resets the bump allocator each time.
;; Build: python -c "import wasmtime,sys; sys.stdout.buffer.write(wasmtime.wat2wasm(open('NAME.wat').read()))" > NAME.wasm
;;    or: wat2wasm NAME.wat -o NAME.wasm   (Debian's wabt)
(module
  (import "edge" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 0) "{\"json\":")
  (data (i32.const 16) "}")
  (data (i32.const 32) "echoing a request")
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $ptr))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (call $log (i32.const 1) (i32.const 32) (i32.const 17))
    (local.set $out (global.get $next))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 8))
    (memory.copy (i32.add (local.get $out) (i32.const 8)) (local.get $ptr) (local.get $len))
    (memory.copy (i32.add (i32.add (local.get $out) (i32.const 8)) (local.get $len))
                 (i32.const 16) (i32.const 1))
    (global.set $next (i32.const 1024))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.add (local.get $len) (i32.const 9))))))
