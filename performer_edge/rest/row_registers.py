"""A row's last-writer-wins registers, merged so that any order of the same writes agrees. Pure.

Theory of operation. A row is a map of registers: one per column, plus the existence register
(column `""`) holding 1 (inserted or updated) or 0 (deleted). A register keeps one `Slot` per
origin that wrote it: that origin's latest write (hlc, seq, value) and `max_base`, the newest of
that origin's clocks that another write names as the value it replaced ("base"). Merging a write is
a per-origin maximum, so it is commutative, associative and idempotent: the registers are a
function of the set of writes seen, never of their order or repetition.

From the slots, per register:
- the winner is the slot with the greatest (hlc, origin): its value is the visible one;
- a slot is superseded when a write replaced it knowingly: a later write of the same origin, or
  a write whose base is that clock or a later clock of that origin (`max_base >= hlc`);
- a conflict is a slot that is neither the winner nor superseded and whose value differs from the
  winner's: a concurrent write that lost. Sequential edits, even across nodes, produce none.
A superseded slot that does not win can never matter again except for its clock (it keeps newer
writes of its origin from being mistaken for unseen ones), so its value is dropped. A register holds
at most one slot per origin, so the state stays bounded by the number of writers, not of writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import cbor2

from performer_edge.errors import IntegrityError
from performer_edge.rest.row_format import EXISTENCE, Clock, SqlValue, same_value

Register = Mapping[bytes, "Slot"]  # origin -> that origin's slot


@dataclass(frozen=True, slots=True)
class Slot:
    """One origin's part of a register. `hlc` is None when the origin is known only as a base."""

    hlc: int | None
    seq: int = 0
    max_base: int | None = None
    value: SqlValue = None
    has_value: bool = False

    @property
    def superseded(self) -> bool:
        return self.hlc is None or (self.max_base is not None and self.max_base >= self.hlc)


@dataclass(frozen=True, slots=True)
class Winner:
    origin: bytes
    slot: Slot

    @property
    def clock(self) -> Clock:
        assert self.slot.hlc is not None
        return Clock(self.slot.hlc, self.origin)


@dataclass(frozen=True, slots=True)
class LostWrite:
    """A conflict: the write of `origin` to `column` lost to `winner` without having been seen."""

    column: str
    origin: bytes
    slot: Slot
    winner: Winner


def write_slot(register: Register, origin: bytes, hlc: int, seq: int, value: SqlValue) -> Register:
    slot = register.get(origin)
    if slot is not None and slot.hlc is not None and (slot.hlc, slot.seq) >= (hlc, seq):
        return register  # this origin has written the register since (or this is a repeat)
    max_base = slot.max_base if slot is not None else None
    return {**register, origin: Slot(hlc, seq, max_base, value, True)}


def note_base(register: Register, base: Clock) -> Register:
    slot = register.get(base.origin)
    if slot is None:
        return {**register, base.origin: Slot(None, max_base=base.hlc)}
    if slot.max_base is not None and slot.max_base >= base.hlc:
        return register
    return {**register, base.origin: replace(slot, max_base=base.hlc)}


def winner_of(register: Register) -> Winner | None:
    if len(register) == 1:  # the common case: one writer
        ((origin, slot),) = register.items()
        return None if slot.hlc is None else Winner(origin, slot)
    best: Winner | None = None
    for origin, slot in register.items():
        if slot.hlc is None:
            continue
        if best is None or (slot.hlc, origin) > (best.slot.hlc, best.origin):
            best = Winner(origin, slot)
    return best


def settle(register: Register) -> Register:
    """Drop the values of superseded slots that do not win: nothing can need them again."""
    if len(register) < 2:
        return register  # a lone slot either wins or holds no value
    winner = winner_of(register)
    stale = [
        origin
        for origin, slot in register.items()
        if slot.has_value and slot.superseded and (winner is None or origin != winner.origin)
    ]
    if not stale:
        return register
    settled = dict(register)
    for origin in stale:
        settled[origin] = replace(settled[origin], value=None, has_value=False)
    return settled


@dataclass(frozen=True)
class RowState:
    """Every register of one row, by column (`EXISTENCE` included)."""

    registers: Mapping[str, Register]

    @property
    def exists(self) -> bool:
        winner = winner_of(self.registers.get(EXISTENCE, {}))
        return winner is not None and winner.slot.value == 1

    def winner(self, column: str) -> Winner | None:
        return winner_of(self.registers.get(column, {}))

    def values(self, columns: tuple[str, ...]) -> dict[str, SqlValue]:
        """The winning value of each of `columns` that has been written."""
        values: dict[str, SqlValue] = {}
        for column in columns:
            register = self.registers.get(column)
            if register:
                winner = winner_of(register)
                if winner is not None:
                    values[column] = winner.slot.value
        return values

    def with_write(
        self,
        origin: bytes,
        hlc: int,
        seq: int,
        writes: Mapping[str, SqlValue],
        bases: Mapping[str, Iterable[Clock]],
    ) -> RowState:
        """The state with one write merged in; `self` itself when the write adds nothing."""
        registers = dict(self.registers)
        changed = False
        for column, value in writes.items():
            before = registers.get(column, {})
            register = write_slot(before, origin, hlc, seq, value)
            for base in bases.get(column, ()):
                register = note_base(register, base)
            if register is not before:
                registers[column] = settle(register)
                changed = True
        return RowState(registers) if changed else self

    def live_clocks(self, column: str) -> tuple[Clock, ...]:
        """The clocks of the register's versions not yet replaced knowingly: the winner and any
        concurrent losers. A local write names them as its base, so it resolves them all."""
        register = self.registers.get(column, {})
        return tuple(
            Clock(slot.hlc, origin)
            for origin, slot in sorted(register.items())
            if slot.hlc is not None and not slot.superseded
        )

    def won_by(self, origin: bytes, hlc: int, columns: Mapping[str, Any]) -> bool:
        """Whether the write at (hlc, origin) is the winner of any of `columns`."""
        for column in columns:
            winner = self.winner(column)
            if winner is not None and winner.origin == origin and winner.slot.hlc == hlc:
                return True
        return False

    def conflicts(self) -> Iterator[LostWrite]:
        for column, register in self.registers.items():
            if len(register) < 2:
                continue
            winner = winner_of(register)
            if winner is None:
                continue
            for origin, slot in register.items():
                if origin == winner.origin or slot.superseded:
                    continue
                if not same_value(slot.value, winner.slot.value):
                    yield LostWrite(column, origin, slot, winner)


EMPTY_ROW = RowState({})


# -- storage: one flat CBOR array per row ---------------------------------------------------------
#
# [n, origin_0 .. origin_n-1,  column, slot_count, (origin_index, hlc, seq, max_base, value) ...]
# with origins sorted, columns sorted and slots in origin order, so the same registers always
# encode to the same bytes; each 32-byte origin is stored once per row, not once per cell. CBOR
# `undefined` marks a dropped value (None is NULL). Flat, because cbor2 spends about a microsecond
# on every nested array or map, which made a nested layout the most expensive step of a write.


def encode_row_state(state: RowState) -> bytes:
    origins = sorted({origin for register in state.registers.values() for origin in register})
    index = {origin: i for i, origin in enumerate(origins)}
    flat: list[Any] = [len(origins), *origins]
    for column in sorted(state.registers):
        register = state.registers[column]
        flat += (column, len(register))
        for origin in sorted(register):
            slot = register[origin]
            value = slot.value if slot.has_value else cbor2.undefined
            flat += (index[origin], slot.hlc, slot.seq, slot.max_base, value)
    return cbor2.dumps(flat)


def decode_row_state(blob: bytes) -> RowState:
    try:
        flat = cbor2.loads(blob)
        count = flat[0]
        origins = flat[1 : 1 + count]
        position = 1 + count
        registers: dict[str, Register] = {}
        while position < len(flat):
            column, slots = flat[position], flat[position + 1]
            position += 2
            register: dict[bytes, Slot] = {}
            for _ in range(slots):
                index, hlc, seq, max_base, value = flat[position : position + 5]
                position += 5
                held = value is not cbor2.undefined
                register[origins[index]] = Slot(hlc, seq, max_base, value if held else None, held)
            registers[column] = register
    except (cbor2.CBORDecodeError, ValueError, TypeError, IndexError) as exc:
        raise IntegrityError(
            "a row_state entry is corrupt; run `performer replay`", code="corrupt_row_state"
        ) from exc
    return RowState(registers)
