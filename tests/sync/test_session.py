"""The sync session over an in-memory link: handshake, catch-up both ways, live push, window
and acknowledgements, gaps healing, snapshots, timers, and hostile peers ending only their
session."""

from __future__ import annotations

import cbor2
import pytest
from nacl.signing import SigningKey
from sync_support import CLUSTER, Link, MemoryHost

from sync.codec import encode
from sync.messages import PROTOCOL_VERSION, Events, Hello, Summary, WireEvent
from sync.session import Closed, Fault, SessionConfig
from sync.version_vector import VersionVector


def host(seed: int, cluster: bytes = CLUSTER) -> MemoryHost:
    return MemoryHost(SigningKey(bytes([seed]) * 32), cluster)


def pair(config: SessionConfig | None = None) -> Link:
    return Link(host(1), host(2), config)


def faults(link: Link, side: int) -> list[Fault]:
    return [c.fault for c in link.closed[side]]


def test_catch_up_both_ways_then_live_push() -> None:
    link = pair(SessionConfig(batch_events=7, window=2))
    a, b = link.hosts
    for i in range(50):
        a.write(f"a{i}", "x")
    for i in range(30):
        b.write(f"b{i % 10}", str(i))
    link.start()
    link.run()
    assert a.vector() == b.vector() and a.vector().total() == 80
    assert a.state == b.state
    assert all(s.live for s in link.sessions)

    link.wrote(0, "b3", "from a, later")
    link.run()
    assert b.state["b3"][2] == "from a, later"
    assert a.vector() == b.vector()


def test_the_window_bounds_unacknowledged_batches() -> None:
    link = pair(SessionConfig(batch_events=3, window=2))
    a, _ = link.hosts
    for i in range(20):
        a.write(f"k{i}", "v")
    link.start()
    sender = link.sessions[0]
    in_flight: list[int] = []
    send_batch = sender._send_batch

    def counted(events: list[WireEvent], now: float) -> None:
        send_batch(events, now)
        in_flight.append(len(sender._in_flight))

    sender._send_batch = counted  # type: ignore[method-assign]
    link.run()
    assert max(in_flight) == 2 and len(in_flight) == 7  # 20 events in batches of 3
    assert link.hosts[1].vector() == a.vector()


def test_a_refused_batch_part_is_sent_again_after_the_ack() -> None:
    """The receiver skips events that do not follow what it holds; the ACK shows it and the
    sender falls back and re-sends."""
    link = pair(SessionConfig(batch_events=5, window=1))
    a, b = link.hosts
    for i in range(12):
        a.write(f"k{i}", "v")
    link.start()
    dropped = []
    original = b.ingest

    def lossy(event: WireEvent) -> str | None:
        if event.seq == 3 and not dropped:
            dropped.append(event.seq)
            return None  # lost once (as if a crash lost it before commit)
        return original(event)

    b.ingest = lossy  # type: ignore[method-assign]
    link.run()
    assert dropped == [3]
    assert b.vector() == a.vector() and b.state == a.state


def test_a_summary_resets_what_the_peer_is_believed_to_hold() -> None:
    link = pair()
    a, b = link.hosts
    a.write("k", "v")
    link.start()
    link.run()
    # b loses its data (restored from an old backup) and says so in a summary
    b.heads.clear()
    b.log.clear()
    b.state.clear()
    link.sessions[1]._send(Summary(VersionVector()), link.now)
    link.run()
    assert b.vector() == a.vector() and b.state == a.state


def test_a_peer_behind_the_horizon_gets_the_snapshot_then_the_events_after_it() -> None:
    config = SessionConfig(chunk_bytes=64)
    link = pair(config)
    a, b = link.hosts
    for i in range(40):
        a.write(f"k{i % 8}", f"old {i}")
    a.compact()
    for i in range(5):
        a.write(f"k{i}", f"new {i}")
    link.start()
    link.run()
    assert b.vector() == a.vector()
    assert b.state == a.state
    assert len(a.snapshot_bytes) > 3 * 64  # it took several chunks


def test_a_truncated_snapshot_is_refused_and_nothing_installed() -> None:
    config = SessionConfig(chunk_bytes=64)
    a, b = host(1), host(2)
    for i in range(20):
        a.write(f"k{i}", "v")
    a.compact()
    offer = a.offer()
    a.offer = lambda: offer  # type: ignore[method-assign]
    a.snapshot_bytes = a.snapshot_bytes[:-10] + b"x" * 10  # served bytes differ from the offer
    link = Link(a, b, config)
    link.start()
    link.run()
    assert faults(link, 1) == [Fault.PEER] and b.state == {} and b.vector() == VersionVector()


def test_handshake_refusals() -> None:
    other = Link(host(1), host(2, b"another-cluster"))
    other.start()
    other.run()
    assert faults(other, 0) == [Fault.PEER] and "another cluster" in other.closed[0][0].reason
    assert not any(s.live for s in other.sessions)

    me = host(1)
    itself = Link(me, host(1))
    itself.start()
    itself.run()
    assert "itself" in itself.closed[0][0].reason


def test_a_replayed_handshake_signature_is_refused() -> None:
    """An AUTH recorded from one session does not open another: the nonces differ."""
    a, b = host(1), host(2)
    first = Link(a, b)
    first.start()
    recorded: list[bytes] = []
    for frame in first.sessions[0].take_frames():
        first.sessions[1].receive(frame, 0)
    for frame in first.sessions[1].take_frames():
        recorded.append(frame)
        first.sessions[0].receive(frame, 0)
    replayed_auth = [f for f in first.sessions[0].take_frames() if cbor2.loads(f)[0] == 2]
    assert replayed_auth

    victim = b.local()
    victim.start(0)
    hello_a = Hello(PROTOCOL_VERSION, a.node_id, CLUSTER, bytes(32))
    victim.receive(encode(hello_a), 0)
    victim.receive(replayed_auth[0], 0)
    closed = [x for x in victim.take_actions() if isinstance(x, Closed)]
    assert closed and closed[0].fault is Fault.PEER and "signature" in closed[0].reason
    assert not victim.live


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xff\xff",
        cbor2.dumps({"not": "a list"}),
        cbor2.dumps([99]),
        cbor2.dumps([3, {b"short": 1}, {}, {}]),
        cbor2.dumps([4, 1, [[b"x" * 32, 0, 0, "k", "s", b"", b"s" * 64]]]),
        b"\x81" * 100_000,  # deep nesting
        b"\x00" * (5 * 1024 * 1024),  # oversized
    ],
)
def test_a_malformed_frame_closes_the_session_not_the_node(frame: bytes) -> None:
    link = pair()
    link.start()
    link.run()
    link.sessions[0].receive(frame, 1.0)
    actions = link.sessions[0].take_actions()
    assert [type(a) for a in actions] == [Closed] and actions[0].fault is Fault.PEER
    assert cbor2.loads(link.sessions[0].take_frames()[-1])[0] == 11  # BYE with the reason


def test_messages_before_authentication_are_refused() -> None:
    a, _ = host(1), host(2)
    session = a.local()
    session.start(0)
    session.receive(encode(Summary(VersionVector())), 0)
    assert [type(x) for x in session.take_actions()] == [Closed]


def test_a_non_contiguous_batch_and_a_tampered_event_are_refused() -> None:
    link = pair()
    a = link.hosts[0]
    first, second, third = (a.write(f"k{i}", "v") for i in range(3))
    link.start()
    link.run()
    # non-contiguous within one origin
    link.sessions[1].receive(encode(Events(99, (first, third))), 1.0)
    assert faults(link, 1) == [] and [type(x) for x in link.sessions[1].take_actions()] == [Closed]

    link2 = pair()
    link2.start()
    link2.run()
    tampered = WireEvent(
        second.origin, 1, second.hlc, second.kind, "evil", second.payload, second.sig
    )
    link2.sessions[1].receive(encode(Events(1, (tampered,))), 1.0)
    link2.run()
    assert link2.hosts[1].refused and link2.closed[1][0].fault is Fault.PEER
    assert link2.hosts[1].state == {}


def test_timers_ping_a_quiet_link_and_close_a_silent_one() -> None:
    config = SessionConfig(ping_interval=10, dead_after=30, summary_interval=1000)
    link = pair(config)
    link.start()
    link.run()
    sender = link.sessions[0]
    sender.tick(11)
    frames = sender.take_frames()
    assert [cbor2.loads(f)[0] for f in frames] == [9]  # PING
    sender.tick(31)
    assert [c.fault for c in sender.take_actions() if isinstance(c, Closed)] == [Fault.TIMEOUT]

    slow = host(1).local(config)
    slow.start(0)
    slow.tick(config.handshake_timeout + 1)
    assert [type(x) for x in slow.take_actions()] == [Closed]


def test_anti_entropy_summaries_repeat() -> None:
    link = pair(SessionConfig(summary_interval=5, ping_interval=100, dead_after=1000))
    link.start()
    link.run()
    link.sessions[0].tick(6)
    assert [cbor2.loads(f)[0] for f in link.sessions[0].take_frames()] == [3]


def test_the_trust_policy_sees_the_proven_hello_and_can_refuse() -> None:
    a, b = host(1), host(2)
    seen: list[bytes] = []

    def refuse_all(hello: Hello) -> str | None:
        seen.append(hello.node_id)
        return "revoked"

    link = Link(a, b)
    link.start()
    link.sessions = (link.sessions[0], b.local(trust=refuse_all))
    link.sessions[1].start(0)
    link.run()
    assert seen == [a.node_id]
    assert "not trusted: revoked" in link.closed[1][0].reason
    assert not link.sessions[1].live and a.vector() == b.vector() == VersionVector()
