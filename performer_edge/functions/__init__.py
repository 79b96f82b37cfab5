"""Functions: WebAssembly modules run in a wasmtime sandbox, deployed as events, invoked over
HTTP at `/functions/v1/{name}`. The runtime (engine, sandbox, ABIs, host calls) imports nothing
from `http`; `api` and `component` wire it to the node.
"""
