"""Presence on one node: who is tracked under which key in each topic, and the diffs to send.

Pure. Presence is node-local and never logged (it describes live connections, which end with
the process); a reconnecting client gets the whole `presence_state` again. Every meta carries a
`phx_ref` (the Python client pops it; a missing one kills its listener). A second `track` from
the same join replaces its meta: one diff that joins the new meta (with `phx_ref_prev`) and
leaves the old, as Phoenix does.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Meta = dict[str, Any]
Diff = dict[str, dict[str, dict[str, list[Meta]]]]


@dataclass
class TopicPresence:
    """Metas per presence key, per tracker (one join of one connection)."""

    entries: dict[str, dict[str, Meta]] = field(default_factory=dict)  # key → tracker → meta
    tracked: dict[str, str] = field(default_factory=dict)  # tracker → key

    def state(self) -> dict[str, dict[str, list[Meta]]]:
        return {
            key: {"metas": list(metas.values())} for key, metas in self.entries.items() if metas
        }

    def track(self, tracker: str, key: str, payload: Mapping[str, Any]) -> Diff:
        meta: Meta = {**payload, "phx_ref": _next_ref()}
        leaves: dict[str, list[Meta]] = {}
        old_key = self.tracked.get(tracker)
        if old_key is not None:
            old = self.entries.get(old_key, {}).pop(tracker, None)
            if old is not None:
                leaves[old_key] = [old]
                if old_key == key:
                    meta["phx_ref_prev"] = old["phx_ref"]
            self._prune(old_key)
        self.entries.setdefault(key, {})[tracker] = meta
        self.tracked[tracker] = key
        return _diff({key: [meta]}, leaves)

    def untrack(self, tracker: str) -> Diff | None:
        key = self.tracked.pop(tracker, None)
        if key is None:
            return None
        old = self.entries.get(key, {}).pop(tracker, None)
        self._prune(key)
        return _diff({}, {key: [old]}) if old is not None else None

    def empty(self) -> bool:
        return not self.tracked

    def _prune(self, key: str) -> None:
        if not self.entries.get(key):
            self.entries.pop(key, None)


def _diff(joins: dict[str, list[Meta]], leaves: dict[str, list[Meta]]) -> Diff:
    return {
        "joins": {k: {"metas": v} for k, v in joins.items()},
        "leaves": {k: {"metas": v} for k, v in leaves.items()},
    }


_prefix = secrets.token_hex(3)
_counter = itertools.count(1)


def _next_ref() -> str:
    """A ref unique on this node (Phoenix uses a base64 term; clients only compare them)."""
    return f"{_prefix}{next(_counter):x}"
