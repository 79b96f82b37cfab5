"""Property: any order of the same set of row events, with repeats, gives the same state, and that
state is the one the rules define, computed here by brute force over the whole set."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_row_events_support import ORIGINS, hlc, items_store, open_db, sign_write, snapshot

from performer_edge.core.events import Event
from performer_edge.rest.row_format import EXISTENCE, Clock, RowOp, RowWrite, same_value
from performer_edge.rest.row_tables import read_conflicts

COLUMNS = ("a", "b", "c")
# A small pool makes equal values (and 1 / 1.0 / True-like near misses) common.
VALUES = st.one_of(
    st.sampled_from([None, 0, 1, 1.0, 0.0, -0.0, "1", "x", b"1", b"", 2**63 - 1, -(2**63)]),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=4),
    st.binary(max_size=4),
)


@dataclass(frozen=True)
class Drawn:
    node: int
    tick: int
    op: RowOp
    pk: int
    values: dict[str, Any]
    bases: dict[str, tuple[tuple[int, int], ...]]  # column -> (node, ticks back)


@st.composite
def drawn_writes(draw: st.DrawFn) -> Drawn:
    op = draw(st.sampled_from([RowOp.INSERT, RowOp.UPDATE, RowOp.DELETE]))
    columns = [] if op is RowOp.DELETE else draw(st.lists(st.sampled_from(COLUMNS), unique=True))
    bases = {}
    for column in (*columns, EXISTENCE):
        bases[column] = tuple(
            draw(
                st.lists(
                    st.tuples(st.integers(0, 2), st.integers(1, 3)),
                    unique_by=lambda b: b[0],
                    max_size=2,
                )
            )
        )
    return Drawn(
        node=draw(st.integers(0, 2)),
        tick=draw(st.integers(1, 6)),
        op=op,
        pk=draw(st.integers(1, 3)),
        values={column: draw(VALUES) for column in columns},
        bases=bases,
    )


@dataclass(frozen=True)
class Signed:
    event: Event
    write: RowWrite


def sign_all(drawn: list[Drawn]) -> list[Signed]:
    """Each node's writes get seq 1, 2, ... and strictly increasing HLCs, as a real node's do;
    different nodes still share HLCs often."""
    signed: list[Signed] = []
    for node in range(3):
        last = 0
        mine = sorted((d for d in drawn if d.node == node), key=lambda d: d.tick)
        for seq, d in enumerate(mine, start=1):
            tick = last = max(d.tick, last + 1)
            bases = {
                column: tuple(
                    Clock(hlc(tick - back), ORIGINS[origin])
                    for origin, back in entries
                    if back < tick
                )
                for column, entries in d.bases.items()
            }
            write = RowWrite(
                d.op, "items", {"id": d.pk}, d.values, {c: b for c, b in bases.items() if b}
            )
            signed.append(Signed(sign_write(node, seq, tick, write), write))
    return signed


def expected_state(signed: list[Signed]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rules, over the whole set: per register the greatest (hlc, origin) wins; an origin's
    latest write is lost (a conflict) unless it wins, some write names a clock of that origin at
    least as new as a base, or it holds the winner's value."""
    registers: dict[tuple[int, str], list[tuple[int, bytes, int, Any, tuple[Clock, ...]]]]
    registers = defaultdict(list)
    for s in signed:
        for column, value in s.write.registers().items():
            key = (s.write.pk["id"], column)
            registers[key].append(
                (s.event.hlc, s.event.origin, s.event.seq, value, s.write.bases.get(column, ()))
            )
    winners = {key: max(writes, key=lambda w: (w[0], w[1])) for key, writes in registers.items()}
    rows = []
    for pk in sorted({pk for pk, _ in registers}):
        existence = winners.get((pk, EXISTENCE))
        if existence is not None and existence[3] == 1:
            rows.append(
                (pk, *(winners[(pk, c)][3] if (pk, c) in winners else None for c in COLUMNS))
            )
    conflicts = []
    for (pk, column), writes in registers.items():
        winner = winners[(pk, column)]
        for origin in {w[1] for w in writes} - {winner[1]}:
            latest = max((w for w in writes if w[1] == origin), key=lambda w: (w[0], w[2]))
            replaced = [b.hlc for w in writes for b in w[4] if b.origin == origin]
            if (replaced and max(replaced) >= latest[0]) or same_value(latest[3], winner[3]):
                continue
            conflicts.append(
                (
                    pk,
                    column,
                    origin,
                    latest[0],
                    latest[2],
                    latest[3],
                    winner[1],
                    winner[0],
                    winner[2],
                )
            )
    return rows, sorted(conflicts, key=lambda c: (c[0], c[1], c[2]))


def strict(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows compared with types: 1, 1.0 and True, or 0.0 and -0.0, must not pass for each other."""
    return [tuple((type(v).__name__, repr(v)) for v in row) for row in rows]


def applied(order: list[Event]) -> Any:
    conn, store = open_db(), items_store()
    for event in order:
        store.apply(conn, event)
    return conn


@settings(max_examples=200, deadline=None)
@given(data=st.data(), drawn=st.lists(drawn_writes(), min_size=1, max_size=24))
def test_any_order_with_repeats_converges_on_the_rules(
    data: st.DataObject, drawn: list[Drawn]
) -> None:
    signed = sign_all(drawn)
    events = [s.event for s in signed]
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=6))
    first = applied(data.draw(st.permutations(events)))
    second = applied(data.draw(st.permutations(events + repeats)))

    assert snapshot(first) == snapshot(second)
    assert strict(snapshot(first)["table"]) == strict(snapshot(second)["table"])

    rows, conflicts = expected_state(signed)
    assert strict(first.execute("SELECT * FROM items ORDER BY id").fetchall()) == strict(rows)
    held = [
        (
            c.pk["id"],
            c.column,
            c.loser.origin,
            c.loser.hlc,
            c.loser_seq,
            c.value,
            c.winner.origin,
            c.winner.hlc,
            c.winner_seq,
        )
        for c in read_conflicts(first)
    ]
    assert strict(sorted(held, key=lambda c: (c[0], c[1], c[2]))) == strict(conflicts)
