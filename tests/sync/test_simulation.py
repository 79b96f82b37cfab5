"""The seeded network simulation (tests/sync/simulation.py): a fixed set of seeds in every run,
many more in the slow run. Each reports its seed, so a failure is replayed with that seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from simulation import Network

FAST_SEEDS = range(6)
SLOW_SEEDS = range(100, 140)


def simulate(seed: int, directory: Path, rounds: int = 3, steps: int = 150) -> dict[str, int]:
    size = 3 + seed % 5  # 3 to 7 nodes
    network = Network(seed, size, directory)
    try:
        for _ in range(rounds):
            network.chaos(steps)
            network.heal_and_check()
        return network.stats
    finally:
        network.close()


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_nodes_converge_and_lose_no_acknowledged_write(seed: int, tmp_path: Path) -> None:
    stats = simulate(seed, tmp_path)
    assert stats["writes"] > 0 and stats["heals"] == 3
    print(f"seed {seed}: {stats}")


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_many_more_seeds(seed: int, tmp_path: Path) -> None:
    simulate(seed, tmp_path, rounds=4, steps=300)
