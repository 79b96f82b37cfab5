"""An in-memory host for `sync.session`: a signed event log per node, a key-value state the
events build (last writer wins by (hlc, origin)), compaction into snapshots, and a link that
carries frames between two sessions in order. What performer_edge/peers does with SQLite and
sockets, small enough to check by eye."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cbor2
from nacl.signing import SigningKey, VerifyKey

from sync.messages import SnapshotOffer, WireEvent
from sync.session import (
    Action,
    Closed,
    Deliver,
    Fetch,
    LocalNode,
    NeedSnapshot,
    ReadSnapshot,
    Session,
    SessionConfig,
    SnapshotData,
    SnapshotOffered,
    Trust,
)
from sync.version_vector import VersionVector

CLUSTER = b"cluster-one"


def event_bytes(origin: bytes, seq: int, hlc: int, kind: str, scope: str, payload: bytes) -> bytes:
    return cbor2.dumps([origin, seq, hlc, kind, scope, payload])


@dataclass
class MemoryHost:
    """One node: its key, its log (compacted below `horizon`), its state."""

    key: SigningKey
    cluster: bytes = CLUSTER
    log: dict[bytes, dict[int, WireEvent]] = field(default_factory=dict)
    heads: dict[bytes, int] = field(default_factory=dict)
    horizon: dict[bytes, int] = field(default_factory=dict)
    state: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    clock: int = 0
    refused: list[str] = field(default_factory=list)
    snapshot_bytes: bytes = b""
    pulled: bytearray = field(default_factory=bytearray)

    @property
    def node_id(self) -> bytes:
        return bytes(self.key.verify_key)

    def local(self, config: SessionConfig | None = None, trust: Trust | None = None) -> Session:
        node = LocalNode(
            self.node_id, self.cluster, lambda m: self.key.sign(m).signature, trust=trust
        )
        return Session(node, vector=self.vector(), horizon=self.horizon_vector(), config=config)

    def vector(self) -> VersionVector:
        return VersionVector(self.heads)

    def horizon_vector(self) -> VersionVector:
        return VersionVector(self.horizon)

    def write(self, key: str, value: str) -> WireEvent:
        origin = self.node_id
        seq = self.heads.get(origin, 0) + 1
        self.clock += 1
        payload = cbor2.dumps([key, value])
        sig = self.key.sign(event_bytes(origin, seq, self.clock, "kv.set", key, payload)).signature
        event = WireEvent(origin, seq, self.clock, "kv.set", key, payload, sig)
        self._apply(event)
        return event

    def ingest(self, event: WireEvent) -> str | None:
        """None when taken or skipped (a repeat or a gap); else why it is refused."""
        try:
            signed = event_bytes(
                event.origin, event.seq, event.hlc, event.kind, event.scope, event.payload
            )
            VerifyKey(event.origin).verify(signed, event.sig)
        except Exception:
            return f"bad signature on event {event.seq}"
        if event.seq == self.heads.get(event.origin, 0) + 1:
            self._apply(event)
        return None

    def _apply(self, event: WireEvent) -> None:
        self.log.setdefault(event.origin, {})[event.seq] = event
        self.heads[event.origin] = event.seq
        self.clock = max(self.clock, event.hlc)
        key, value = cbor2.loads(event.payload)
        self._merge(key, (event.hlc, event.origin, value))

    def _merge(self, key: str, version: tuple[int, bytes, str]) -> None:
        if key not in self.state or version[:2] > self.state[key][:2]:
            self.state[key] = version

    def events_after(self, after: VersionVector, limit: int) -> list[WireEvent]:
        out: list[WireEvent] = []
        for origin, (first, last) in sorted(self.vector().missing_from(after).items()):
            for seq in range(first, last + 1):
                if len(out) >= limit:
                    return out
                out.append(self.log[origin][seq])
        return out

    def compact(self) -> None:
        """Drop every raw event; the state and the vector stand for them (a snapshot)."""
        self.horizon = dict(self.heads)
        self.log = {o: {} for o in self.log}
        self.snapshot_bytes = cbor2.dumps(
            [self.heads, {k: list(v) for k, v in sorted(self.state.items())}]
        )

    def offer(self) -> SnapshotOffer:
        data = self.snapshot_bytes
        return SnapshotOffer("snap-1", VersionVector(self.horizon), len(data), _sha(data))

    def install(self, data: bytes) -> VersionVector:
        heads, state = cbor2.loads(data)
        for key, (hlc, origin, value) in state.items():
            self._merge(key, (hlc, origin, value))
        for origin, seq in heads.items():
            if seq > self.heads.get(origin, 0):
                self.heads[origin] = seq
                self.horizon[origin] = seq  # no raw events below: this node compacted too
        return self.vector()

    def handle(self, session: Session, action: Action, now: float) -> None:
        """Carry out one action the way a node would."""
        match action:
            case Fetch():
                session.provide(self.events_after(action.after, action.limit), now)
            case Deliver():
                for event in action.events:
                    reason = self.ingest(event)
                    if reason:
                        self.refused.append(reason)
                        session.refuse(reason, now)
                        return
                session.delivered(action.batch, self.vector(), now)
            case NeedSnapshot():
                session.offer_snapshot(self.offer() if self.snapshot_bytes else None, now)
            case SnapshotOffered():
                self.pulled = bytearray()
                session.accept_snapshot(action.offer.snapshot, 0, now)
            case ReadSnapshot():
                data = self.snapshot_bytes[action.offset : action.offset + action.length]
                session.provide_chunk(action.snapshot, action.offset, data, now)
            case SnapshotData():
                self.pulled += action.data
                if action.complete:
                    if _sha(bytes(self.pulled)) != action.offer.digest:
                        session.refuse("snapshot digest mismatch", now)
                        return
                    session.snapshot_installed(self.install(bytes(self.pulled)), now)
            case _:
                pass


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Link:
    """Two sessions wired back to back, in order, with a host behind each."""

    def __init__(self, a: MemoryHost, b: MemoryHost, config: SessionConfig | None = None) -> None:
        self.hosts = (a, b)
        self.config = config
        self.sessions = (a.local(config), b.local(config))
        self.closed: list[list[Closed]] = [[], []]
        self.now = 0.0

    def start(self) -> None:
        """Connect: fresh sessions from what each host holds now, both saying HELLO."""
        self.sessions = (self.hosts[0].local(self.config), self.hosts[1].local(self.config))
        for session in self.sessions:
            session.start(self.now)

    def step(self) -> int:
        """Carry out every pending action and deliver every pending frame, once each way.
        What moved (actions + frames)."""
        moved = 0
        for side in (0, 1):
            session, other = self.sessions[side], self.sessions[1 - side]
            for action in session.take_actions():
                moved += 1
                if isinstance(action, Closed):
                    self.closed[side].append(action)
                self.hosts[side].handle(session, action, self.now)
            for frame in session.take_frames():
                moved += 1
                other.receive(frame, self.now)
        return moved

    def run(self, steps: int = 10_000) -> None:
        """Step until nothing moves."""
        for _ in range(steps):
            if not self.step():
                return
        raise AssertionError("the link never went quiet")

    def wrote(self, side: int, key: str, value: str) -> None:
        self.hosts[side].write(key, value)
        self.sessions[side].local_changed(self.hosts[side].vector(), self.now)
