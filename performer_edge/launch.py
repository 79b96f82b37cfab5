"""The `performer` executable's entry: `serve` runs on the C allocator, then the command line.

A node that served 1,000 realtime clients must give their memory back once they are gone.
Python's small-object allocator cannot: it returns a 1 MiB arena only when every object in it
is freed, and the few long-lived objects made during a burst of connections (bus events, caches)
pin most of the arenas the burst filled. On the C allocator, `core.memory` returns freed pages
with `malloc_trim`. `PYTHONMALLOC` set by the user wins; the frozen executable keeps pymalloc.
Imports nothing heavy: it runs before the command line is built.
"""

from __future__ import annotations

import gc
import os
import sys

ALLOCATOR = "malloc"


def main() -> int:
    if needs_c_allocator(sys.argv[1:], os.environ):
        env = {**os.environ, "PYTHONMALLOC": ALLOCATOR}
        os.execve(sys.executable, sys.orig_argv, env)  # same pid, same arguments
    from performer_edge.cli import main as cli_main

    try:
        return cli_main()
    finally:
        # The command is done: freezing what it made spares the interpreter's teardown its full
        # collections over all of it, ~0.4 s of CPU per command (more for `serve`, on malloc).
        gc.freeze()


def needs_c_allocator(args: list[str], environ: os._Environ[str] | dict[str, str]) -> bool:
    return (
        bool(args)
        and args[0] == "serve"
        and "PYTHONMALLOC" not in environ
        and not getattr(sys, "frozen", False)
        and os.name == "posix"  # where exec replaces the process (same pid, same signals)
    )
