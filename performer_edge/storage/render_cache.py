"""Transformed images on disk, by source blob and transformation (`DIR/render-cache`).

A cache, node-local and disposable: an entry is named `<blob hash>-<transform key>` (the key
covers the output format chosen for the request, so a WebP answer for one client and the
source's format for another are two entries), written to a temp file and renamed into place
(readers see whole entries or none). `trim` (the node's
maintenance pass) drops entries whose source blob is gone, then the least recently written
until the cache fits its budget.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_BUDGET = 512 * 1024 * 1024
STALE_TEMP_S = 600
_HASH = re.compile(r"^[0-9a-f]{64}$")


class RenderCache:
    def __init__(self, root: Path, budget: int = DEFAULT_BUDGET) -> None:
        self.root = root
        self.budget = budget

    def _path(self, blob: str, key: str) -> Path:
        return self.root / f"{blob}-{key}"  # blob: a checked sha256 hex, key: a hex digest

    def get(self, blob: str, key: str) -> bytes | None:
        try:
            return self._path(blob, key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, blob: str, key: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temp, self._path(blob, key))
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def trim(self, blob_exists: Callable[[str], bool]) -> int:
        """Drop entries of vanished blobs, then the oldest over budget; how many went."""
        if not self.root.is_dir():
            return 0
        kept: list[tuple[float, int, Path]] = []
        removed = 0
        for entry in self.root.iterdir():
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            if entry.name.startswith(".tmp-"):
                if stat.st_mtime < time.time() - STALE_TEMP_S:  # a crashed writer's
                    entry.unlink(missing_ok=True)
                continue
            blob = entry.name.split("-", 1)[0]
            if not _HASH.match(blob) or not blob_exists(blob):
                entry.unlink(missing_ok=True)
                removed += 1
            else:
                kept.append((stat.st_mtime, stat.st_size, entry))
        total = sum(size for _, size, _ in kept)
        for _, size, entry in sorted(kept):
            if total <= self.budget:
                break
            entry.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed
