#!/bin/sh
# Rebuilds the example functions; the .wasm files are committed so nothing here is needed to
# deploy them. C: Debian's clang + lld + wasi-libc (apt-get install clang lld wasi-libc
# libclang-rt-dev-wasm32), or `pip install ziglang` and use `python -m ziglang cc` instead.
# AssemblyScript: node v20+ and npm; the compiler's version is pinned in assemblyscript/package.json.
set -eu
cd "$(dirname "$0")"
clang --target=wasm32-wasi -O2 -Wl,--strip-all -o hello-c.wasm hello-c.c
clang --target=wasm32-wasi -O2 -Wl,--strip-all -o order-log.wasm order-log.c
python3 -c "import wasmtime,sys; sys.stdout.buffer.write(wasmtime.wat2wasm(open('hello-wat.wat').read()))" > hello-wat.wasm
(cd assemblyscript && npm ci --no-audit --no-fund --loglevel=error && npm run build)
