"""Import this first in a benchmark that imports the project (`performer_edge`, `sync`).

bench/sync.py's name shadows the project's `sync` package for every script here, because a
script's own directory is sys.path[0]: `import sync` would load bench/sync.py instead. This
module imports the package with bench/ off the path, so `sys.modules["sync"]` is the package
from then on, and puts the path back for the helpers next to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
_PATH = list(sys.path)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
try:
    import sync  # noqa: F401
finally:
    sys.path[:] = _PATH
