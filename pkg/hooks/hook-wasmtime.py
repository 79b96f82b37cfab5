"""wasmtime's Python package loads its engine, `_libwasmtime.so`, with ctypes from a directory
inside the package: PyInstaller sees no import of it (and its default patterns want `lib*.so`),
so collect it as a binary, at the same place inside the bundle."""

from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("wasmtime", search_patterns=["*.so", "*.dylib", "*.dll"])
