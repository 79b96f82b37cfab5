"""The hybrid logical clock: monotonic, follows remote clocks, refuses clocks too far ahead."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from performer_edge.core import hlc
from performer_edge.core.hlc import HybridClock


class FakeWall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_now_follows_the_wall_clock_and_never_goes_back() -> None:
    wall = FakeWall(1_000)
    clock = HybridClock(wall=wall)
    first = clock.now()
    assert hlc.physical_ms(first) == 1_000 and hlc.logical(first) == 0
    wall.ms = 900  # the wall clock steps back
    second = clock.now()
    assert second > first and hlc.physical_ms(second) == 1_000
    wall.ms = 2_000
    assert hlc.physical_ms(clock.now()) == 2_000


def test_observe_moves_past_remote_but_not_beyond_the_skew_limit() -> None:
    wall = FakeWall(10_000)
    clock = HybridClock(max_skew_ms=500, wall=wall)
    remote = hlc.pack(10_400, 7)
    assert clock.observe(remote) == 0
    assert clock.now() > remote
    assert clock.observe(hlc.pack(10_000 + 3_600_000, 0)) == 3_600_000 - 500
    assert hlc.physical_ms(clock.now()) == 10_500  # dragged only to the limit


def test_logical_overflow_borrows_the_next_millisecond() -> None:
    clock = HybridClock(wall=FakeWall(5), last=hlc.pack(5, hlc.LOGICAL_MASK))
    assert clock.now() == hlc.pack(6, 0)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.booleans(), st.integers(0, 10_000))))
def test_timestamps_strictly_increase_whatever_the_wall_and_remotes_do(
    steps: list[tuple[int, bool, int]],
) -> None:
    wall = FakeWall(0)
    clock = HybridClock(max_skew_ms=1 << 40, wall=wall)
    previous = -1
    for wall_ms, observe, remote_ms in steps:
        wall.ms = wall_ms
        if observe:
            clock.observe(hlc.pack(remote_ms, 0))
        stamp = clock.now()
        assert stamp > previous
        previous = stamp


def test_iso_rendering() -> None:
    assert hlc.to_iso(hlc.pack(0, 3)) == "1970-01-01T00:00:00.000Z"
