"""The event log: dense sequences, signatures, remote ingest rules, reads by vector and position."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from performer_edge.core import hlc
from performer_edge.core.db import Database
from performer_edge.core.events import Event, encode_payload, sign_event
from performer_edge.core.identity import NodeIdentity
from performer_edge.core.log import (
    LogWriter,
    read_after,
    read_missing,
    read_origin,
    version_vector,
)
from performer_edge.core.projections import Projection, Projections
from performer_edge.core.verify import verify_log
from performer_edge.errors import IntegrityError, InvalidInput
from sync.version_vector import VersionVector


class Log:
    """A database and log writer for one identity, as a node wires them."""

    def __init__(self, path: Path, identity: NodeIdentity, projections: Projections | None = None):
        self.identity = identity
        self.db = Database(path)
        self.projections = projections or Projections()
        self.writer = self.db.run_exclusive(
            lambda c: LogWriter.open(c, identity, self.projections, max_skew_ms=60_000)
        )

    def append(self, kind: str = "app.test", scope: str = "s", data: object = None) -> Event:
        return self.db.write_sync(lambda tx: self.writer.append(tx, kind, scope, data))

    def ingest(self, event: Event) -> bool:
        return self.db.write_sync(lambda tx: self.writer.ingest(tx, event))

    def read(self, fn):  # type: ignore[no-untyped-def]
        return self.db.read_sync(fn)

    def close(self) -> None:
        self.db.close()


@pytest.fixture
def alice(tmp_path: Path):  # type: ignore[no-untyped-def]
    log = Log(tmp_path / "alice.db", NodeIdentity.generate())
    yield log
    log.close()


@pytest.fixture
def bob(tmp_path: Path):  # type: ignore[no-untyped-def]
    log = Log(tmp_path / "bob.db", NodeIdentity.generate())
    yield log
    log.close()


def test_local_appends_get_dense_sequences_and_valid_signatures(alice: Log) -> None:
    events = [alice.append(data={"n": i}) for i in range(5)]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.pos for e in events] == [1, 2, 3, 4, 5]
    assert all(e.origin == alice.identity.public_key for e in events)
    assert [e.data for e in events] == [{"n": i} for i in range(5)]
    hlcs = [e.hlc for e in events]
    assert hlcs == sorted(hlcs) and len(set(hlcs)) == 5
    for event in events:
        event.verify_signature()
    report = alice.read(verify_log)
    assert report.ok and report.events == 5 and report.origins == 1


def test_a_rolled_back_append_does_not_burn_a_sequence_number(alice: Log) -> None:
    alice.append()

    def append_then_fail(tx):  # type: ignore[no-untyped-def]
        alice.writer.append(tx, "app.test", "s", 1)
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        alice.db.write_sync(append_then_fail)
    assert alice.append().seq == 2
    assert alice.read(verify_log).ok


def test_invalid_kind_and_unencodable_payload_are_refused(alice: Log) -> None:
    with pytest.raises(InvalidInput, match="kind"):
        alice.append(kind="Bad Kind")
    with pytest.raises(InvalidInput, match="payload"):
        alice.append(data=object())
    assert alice.append().seq == 1


def test_ingest_copies_events_unchanged_and_ignores_redelivery(alice: Log, bob: Log) -> None:
    sent = [alice.append(data=i) for i in range(3)]
    assert [bob.ingest(e) for e in sent] == [True, True, True]
    assert [bob.ingest(e) for e in sent] == [False, False, False]
    held = bob.read(lambda c: read_origin(c, alice.identity.public_key, 1))
    assert held == sent  # pos is not part of identity
    assert bob.read(version_vector) == VersionVector({alice.identity.public_key: 3})


def test_ingest_refuses_gaps_and_tampering(alice: Log, bob: Log) -> None:
    first, second = alice.append(), alice.append()
    with pytest.raises(IntegrityError, match="gap"):
        bob.ingest(second)
    tampered = Event(
        first.origin, first.seq, first.hlc, first.kind, "other-scope", first.payload, first.sig
    )
    with pytest.raises(IntegrityError, match="signature"):
        bob.ingest(tampered)
    assert bob.ingest(first) is True
    assert bob.read(verify_log).ok


def test_an_event_from_a_clock_far_ahead_is_taken_without_dragging_ours(
    alice: Log, bob: Log
) -> None:
    key = alice.identity.signing_key
    hour_ahead = (hlc.wall_clock_ms() + 3_600_000) << 16
    future = sign_event(key, 1, hour_ahead, "app.x", "s", b"\xa0")
    assert bob.ingest(future) is True  # refusing it would stall sync for an hour
    assert bob.writer.clock_ahead_events == 1
    assert bob.writer.clock.last < hour_ahead


def test_malformed_remote_events_are_refused(bob: Log) -> None:
    key = NodeIdentity.generate().signing_key
    good = sign_event(key, 1, 1 << 16, "app.x", "s", encode_payload(1))
    short_origin = Event(
        good.origin[:8], 1, good.hlc, good.kind, good.scope, good.payload, good.sig
    )
    with pytest.raises(IntegrityError, match="malformed"):
        bob.ingest(short_origin)
    bad_kind = Event(good.origin, 1, good.hlc, "NOT A KIND", good.scope, good.payload, good.sig)
    with pytest.raises(IntegrityError, match="malformed"):
        bob.ingest(bad_kind)


def test_read_missing_returns_exactly_what_the_other_side_lacks(alice: Log, bob: Log) -> None:
    for i in range(5):
        alice.append(data=i)
    for i in range(3):
        bob.append(data=i)
    for event in alice.read(lambda c: read_missing(c, VersionVector())):
        bob.ingest(event)
    bob_vv = bob.read(version_vector)
    missing_for_alice = bob.read(lambda c: read_missing(c, alice.read(version_vector)))
    assert {(e.origin, e.seq) for e in missing_for_alice} == {
        (bob.identity.public_key, s) for s in (1, 2, 3)
    }
    for event in missing_for_alice:
        alice.ingest(event)
    assert alice.read(version_vector) == bob_vv
    assert bob.read(lambda c: read_missing(c, bob_vv)) == []
    limited = bob.read(lambda c: read_missing(c, VersionVector(), limit=4))
    assert len(limited) == 4


def test_read_after_filters_by_kind_and_scope(alice: Log) -> None:
    alice.append(kind="app.a", scope="x")
    alice.append(kind="app.b", scope="x")
    alice.append(kind="app.a", scope="y")
    assert [e.pos for e in alice.read(lambda c: read_after(c, 0, kinds=["app.a"]))] == [1, 3]
    assert [e.pos for e in alice.read(lambda c: read_after(c, 0, scope="x"))] == [1, 2]
    assert [e.pos for e in alice.read(lambda c: read_after(c, 2))] == [3]


def test_projections_run_in_the_append_transaction(tmp_path: Path) -> None:
    def apply(conn: apsw.Connection, event: Event) -> None:
        if event.data == "boom":
            raise ValueError("projection refused")
        conn.execute(
            "INSERT INTO counts VALUES (?, 1) ON CONFLICT DO UPDATE SET n = n + 1", (event.scope,)
        )

    projections = Projections()
    projections.register(
        Projection("counts", ("app.",), apply, lambda c: c.execute("DELETE FROM counts"))
    )
    log = Log(tmp_path / "p.db", NodeIdentity.generate(), projections)
    log.db.run_exclusive(lambda c: c.execute("CREATE TABLE counts(scope TEXT PRIMARY KEY, n INT)"))
    log.append(scope="a")
    log.append(scope="a")
    with pytest.raises(ValueError, match="refused"):
        log.append(scope="a", data="boom")
    rows = log.read(lambda c: c.execute("SELECT scope, n FROM counts").fetchall())
    assert rows == [("a", 2)]
    assert log.read(lambda c: read_after(c, 0))[-1].seq == 2  # the refused event is not logged
    log.close()


def test_verify_reports_a_tampered_row(alice: Log, tmp_path: Path) -> None:
    for i in range(3):
        alice.append(data=i)
    alice.db.run_exclusive(
        lambda c: c.execute("UPDATE events SET payload = ? WHERE seq = 2", (encode_payload(99),))
    )
    alice.db.run_exclusive(lambda c: c.execute("DELETE FROM events WHERE seq = 3"))
    alice.append()  # seq 3 again? no: the writer's head is 3, so this is seq 4
    report = alice.read(verify_log)
    assert not report.ok
    assert any("signature" in p for p in report.problems)
    assert any("seq 4 where 3 was due" in p for p in report.problems)


def test_reopen_resumes_sequences_and_clock(tmp_path: Path) -> None:
    identity = NodeIdentity.generate()
    log = Log(tmp_path / "r.db", identity)
    last = [log.append() for _ in range(3)][-1]
    log.close()
    again = Log(tmp_path / "r.db", identity)
    nxt = again.append()
    assert nxt.seq == 4 and nxt.hlc > last.hlc
    again.close()
