"""Automatic compaction in a running node (`compact_interval` seconds apart, off when 0).

Each pass folds what `core.compaction.compaction_target` allows: every origin's events but the
newest `compact_keep_events`, and in a cluster only what every peer in session already holds.
A pass that would drop fewer than `compact_keep_events` events is skipped (a snapshot costs
O(state)). Compacting runs in a worker thread; the sessions then learn the new horizon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from performer_edge.core.compaction import Snapshots, compaction_target
from performer_edge.core.log import LogWriter
from performer_edge.peers.manager import PeerManager

log = logging.getLogger("performer.compaction")


class Compactor:
    def __init__(
        self,
        snapshots: Snapshots,
        log_writer: LogWriter,
        peers: PeerManager | None,
        *,
        interval: float,
        keep: int,
    ) -> None:
        self.snapshots = snapshots
        self.log = log_writer
        self.peers = peers
        self.interval = interval
        self.keep = keep
        self.passes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="compactor")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def compact_once(self) -> int:
        """One pass; the number of events folded away (0 when skipped)."""
        peers = None
        if self.peers is not None:
            peers = [c.peer_vector for c in self.peers.connections if c.session.live]
        target = compaction_target(self.log.vector(), peers, self.keep)
        horizon = self.snapshots.horizon
        gain = sum(max(0, seq - horizon.head(o)) for o, seq in target.items())
        if gain < max(1, self.keep):
            return 0
        report = await asyncio.to_thread(self.snapshots.compact, target)
        self.passes += 1
        if self.peers is not None:
            self.peers.state_replaced()
        return report.dropped

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.compact_once()
            except Exception:  # a failed pass is logged; the next one retries
                log.exception("automatic compaction failed")
