"""Version vectors: merge is a join; missing ranges are exactly what the other side lacks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.version_vector import VersionVector

origins = st.sampled_from([bytes([i]) * 32 for i in range(4)])
vectors = st.dictionaries(origins, st.integers(0, 50)).map(VersionVector)


@given(vectors, vectors)
def test_merge_is_commutative_and_dominates_both(a: VersionVector, b: VersionVector) -> None:
    merged = a.merge(b)
    assert merged == b.merge(a)
    assert merged.dominates(a) and merged.dominates(b)
    assert merged.merge(a) == merged


@given(vectors, vectors)
def test_missing_ranges_bring_the_other_side_up_to_date(a: VersionVector, b: VersionVector) -> None:
    ranges = a.missing_from(b)
    updated = dict(b)
    for origin, (first, last) in ranges.items():
        assert first == b.head(origin) + 1 and last == a.head(origin)
        updated[origin] = last
    assert VersionVector(updated).dominates(a)
    assert VersionVector(updated) == b.merge(a)


def test_zero_entries_vanish_and_bad_entries_are_refused() -> None:
    assert len(VersionVector({b"a": 0})) == 0
    assert VersionVector({b"a": 2}).total() == 2
    with pytest.raises(ValueError, match="bad version vector"):
        VersionVector({b"a": -1})
    with pytest.raises(ValueError, match="bad version vector"):
        VersionVector({"a": 1})  # type: ignore[dict-item]
