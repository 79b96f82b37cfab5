"""Version vectors: per-origin count of contiguous events held, the summary peers exchange.

An entry `origin -> n` means "I hold events 1..n of origin, with no gap". Imports nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class VersionVector(Mapping[bytes, int]):
    """An immutable map from origin key (bytes) to the highest contiguous sequence held."""

    __slots__ = ("_heads",)

    def __init__(self, heads: Mapping[bytes, int] | None = None) -> None:
        clean: dict[bytes, int] = {}
        for origin, seq in (heads or {}).items():
            if not isinstance(origin, bytes) or not isinstance(seq, int) or seq < 0:
                raise ValueError(f"bad version vector entry {origin!r}: {seq!r}")
            if seq:
                clean[origin] = seq
        self._heads = clean

    def __getitem__(self, origin: bytes) -> int:
        return self._heads[origin]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._heads)

    def __len__(self) -> int:
        return len(self._heads)

    def __repr__(self) -> str:
        inner = ", ".join(f"{o.hex()[:8]}:{s}" for o, s in sorted(self._heads.items()))
        return f"VersionVector({{{inner}}})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, VersionVector):
            return self._heads == other._heads
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._heads.items()))

    def head(self, origin: bytes) -> int:
        """Highest contiguous sequence held for `origin`; 0 when none."""
        return self._heads.get(origin, 0)

    def total(self) -> int:
        """Number of events the vector covers."""
        return sum(self._heads.values())

    def merge(self, other: Mapping[bytes, int]) -> VersionVector:
        """The pointwise maximum: what a node holds after receiving everything both hold."""
        merged = dict(self._heads)
        for origin, seq in other.items():
            if seq > merged.get(origin, 0):
                merged[origin] = seq
        return VersionVector(merged)

    def dominates(self, other: Mapping[bytes, int]) -> bool:
        """True when this vector holds at least everything `other` holds."""
        return all(self.head(origin) >= seq for origin, seq in other.items())

    def missing_from(self, other: Mapping[bytes, int]) -> dict[bytes, tuple[int, int]]:
        """Ranges `(first, last)` inclusive that this vector holds and `other` lacks."""
        ranges: dict[bytes, tuple[int, int]] = {}
        for origin, seq in self._heads.items():
            theirs = other.get(origin, 0)
            if seq > theirs:
                ranges[origin] = (theirs + 1, seq)
        return ranges

    def to_wire(self) -> dict[bytes, int]:
        """A plain dict, for CBOR encoding."""
        return dict(self._heads)
