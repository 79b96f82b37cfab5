"""One sync session with one peer, sans-IO: frames in, frames out, actions for the host.

The host (performer_edge/peers) owns the socket and the event log. It feeds `receive(frame,
now)` and `tick(now)`, sends what `take_frames()` returns in order, and carries out what
`take_actions()` returns, answering through the methods named in each action's docstring.
Time is always an argument; nothing here blocks, sleeps or touches a disk.

Sending. The session knows `peer`, the vector the peer is known to hold (its SUMMARY, its ACKs,
what it sent us), and `sent`, that plus what is in flight. While the local vector has events
`sent` lacks and fewer than `window` batches await an ACK, it asks the host to `Fetch` the next
events after `sent` and sends them as bounded EVENTS batches. The receiver applies batches in
order, so an ACK of batch b settles everything up to b: whatever b held that the ACK's vector
lacks was refused (a gap), and `sent` falls back to the ACK's vector, which re-sends it. A
SUMMARY resets `peer` and `sent` the same way, so any confusion heals at the next summary.

A peer behind the local compaction horizon for some origin cannot get those events one by one:
the host is asked for a snapshot (`NeedSnapshot`), which the peer pulls chunk by chunk; after
installing it the peer sends a new SUMMARY and gets only the events after the snapshot.

Failure. A malformed or hostile frame, a message out of place, a refused batch or a silent
peer ends the session with `Closed(reason, fault)`, after a BYE when the link still works. It
never raises to the host for the peer's behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from sync import handshake
from sync.codec import MAX_FRAME, ProtocolError, decode, encode
from sync.messages import (
    PROTOCOL_VERSION,
    Ack,
    Auth,
    Bye,
    Events,
    Hello,
    Message,
    Ping,
    Pong,
    SnapshotChunk,
    SnapshotOffer,
    SnapshotRequest,
    Summary,
    WireEvent,
)
from sync.version_vector import VersionVector

EMPTY: Final = VersionVector()


@dataclass(frozen=True)
class SessionConfig:
    batch_events: int = 1024  # ~300 KiB of typical events; fewer commits per catch-up
    batch_bytes: int = 1024 * 1024
    window: int = 4  # batches in flight without an ACK
    chunk_bytes: int = 256 * 1024  # snapshot chunk
    ping_interval: float = 15.0  # send a PING after this long without sending anything
    dead_after: float = 45.0  # close after this long without receiving anything
    handshake_timeout: float = 15.0
    summary_interval: float = 30.0  # anti-entropy


Trust = Callable[[Hello], str | None]  # the peer's proven HELLO -> None, or why it is refused


@dataclass(frozen=True)
class LocalNode:
    """Who this side is. `sign` signs with the node key whose public half is `node_id`.
    `trust` decides, once the peer has proven its key, whether it may sync (its certificate,
    revocations); None accepts any proven key that names this cluster (tests only: a node
    always passes its cluster's policy, performer_edge/peers/trust.py)."""

    node_id: bytes
    cluster_id: bytes
    sign: handshake.Signer
    certificate: bytes = b""
    features: tuple[str, ...] = ()
    trust: Trust | None = None


class Fault(Enum):
    PEER = "peer"  # the peer broke the protocol or sent something refused: report it
    TIMEOUT = "timeout"  # the peer went silent
    BYE = "bye"  # the peer closed
    LOCAL = "local"  # this side closed (shutdown, or the host refused)


# -- actions for the host -----------------------------------------------------------------------


@dataclass(frozen=True)
class Authenticated:
    """The peer proved `hello.node_id`; the host may record it (peers list, metrics)."""

    hello: Hello


@dataclass(frozen=True)
class Fetch:
    """Read up to `limit` events that `after` lacks (each origin from `after[o] + 1`, in order)
    and call `provide(events)`; an empty list when there are none."""

    after: VersionVector
    limit: int


@dataclass(frozen=True)
class Deliver:
    """Ingest `events` durably (in order), then call `delivered(batch, local_vector)`; on a
    refused event (bad signature, other cluster's data) call `refuse(reason)`. An event that
    does not follow what is held (a gap) is skipped, not refused: the vector shows it."""

    batch: int
    events: tuple[WireEvent, ...]


@dataclass(frozen=True)
class PeerSummary:
    """The peer's summary, for the host's document catch-up and its lag metrics."""

    summary: Summary


@dataclass(frozen=True)
class NeedSnapshot:
    """The peer lacks events below the horizon: call `offer_snapshot(offer)`, or
    `offer_snapshot(None)` when there is none (the session then closes). The peer can only
    install a snapshot that covers its own horizon, `peer_horizon`."""

    peer: VersionVector
    peer_horizon: VersionVector = EMPTY


@dataclass(frozen=True)
class SnapshotOffered:
    """The peer offers a snapshot: call `accept_snapshot(offer.snapshot, offset)` (0, or where a
    previous pull stopped) or `decline_snapshot(reason)`."""

    offer: SnapshotOffer


@dataclass(frozen=True)
class ReadSnapshot:
    """Call `provide_chunk(snapshot, offset, data)` with up to `length` bytes from `offset`."""

    snapshot: str
    offset: int
    length: int


@dataclass(frozen=True)
class SnapshotData:
    """Store `data` at `offset`. When `complete`, verify the whole against the offer's digest,
    install it and call `snapshot_installed(vector)`, or `refuse(reason)`."""

    offer: SnapshotOffer
    offset: int
    data: bytes
    complete: bool


@dataclass(frozen=True)
class Closed:
    reason: str
    fault: Fault


Action = (
    Authenticated
    | Fetch
    | Deliver
    | PeerSummary
    | NeedSnapshot
    | SnapshotOffered
    | ReadSnapshot
    | SnapshotData
    | Closed
)


class _State(Enum):
    NEW = 0
    HELLO = 1  # our HELLO sent, waiting for theirs
    AUTH = 2  # HELLOs exchanged, our AUTH sent, waiting for theirs
    LIVE = 3
    CLOSED = 4


class Session:
    def __init__(
        self,
        local: LocalNode,
        *,
        vector: VersionVector = EMPTY,
        horizon: VersionVector = EMPTY,
        config: SessionConfig | None = None,
    ) -> None:
        self.local = local
        self.config = config or SessionConfig()
        self.vector = vector  # what this node holds
        self.horizon = horizon  # compacted up to here, per origin
        self.peer = EMPTY  # what the peer is known to hold
        self.peer_horizon = EMPTY  # what the peer has compacted
        self.sent = EMPTY  # `peer` plus what is in flight
        self.peer_hello: Hello | None = None
        self._state = _State.NEW
        self._nonce = handshake.new_nonce()
        self._frames: list[bytes] = []
        self._actions: list[Action] = []
        self._in_flight: dict[int, VersionVector] = {}  # batch -> the tops it carried
        self._next_batch = 1
        self._fetching = False
        self._undelivered: set[int] = set()
        self._summarized = False  # the peer's first SUMMARY came: `peer` means something
        self._postponed: VersionVector | None = None  # no snapshot for the peer at this vector
        self._snapshot_asked = False
        self._offered: SnapshotOffer | None = None  # ours, being pulled
        self._pulling: SnapshotOffer | None = None  # theirs, being pulled
        self._pull_offset = 0
        self._started = self._last_received = self._last_sent = self._last_summary = 0.0

    # -- host: driving -----------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._state is _State.LIVE

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    def start(self, now: float) -> None:
        """Send HELLO. Both sides call it as soon as the link is up."""
        if self._state is not _State.NEW:
            return
        self._started = self._last_received = now
        local = self.local
        self._send(
            Hello(
                PROTOCOL_VERSION,
                local.node_id,
                local.cluster_id,
                self._nonce,
                local.certificate,
                local.features,
            ),
            now,
        )
        self._state = _State.HELLO

    def receive(self, frame: bytes, now: float) -> None:
        if self._state in (_State.CLOSED, _State.NEW):
            return
        self._last_received = now
        try:
            self._handle(decode(frame), now)
        except ProtocolError as error:
            self._fail(str(error), Fault.PEER, now)

    def tick(self, now: float) -> None:
        """Timers: handshake deadline, dead peer, ping, anti-entropy summary."""
        if self._state in (_State.CLOSED, _State.NEW):
            return
        config = self.config
        if self._state is not _State.LIVE and now - self._started > config.handshake_timeout:
            self._fail("handshake timed out", Fault.TIMEOUT, now)
        elif now - self._last_received > config.dead_after:
            self._close(f"peer silent for {now - self._last_received:.0f} s", Fault.TIMEOUT)
        elif self._state is _State.LIVE and now - self._last_summary >= config.summary_interval:
            self._send_summary(now)
        elif now - self._last_sent >= config.ping_interval:
            self._send(Ping(now), now)

    def close(self, reason: str, now: float) -> None:
        """End the session from this side (shutdown), with a BYE."""
        if self._state is not _State.CLOSED:
            self._send(Bye(reason), now)
            self._close(reason, Fault.LOCAL)

    def take_frames(self) -> list[bytes]:
        frames, self._frames = self._frames, []
        return frames

    def take_actions(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions

    # -- host: answers -----------------------------------------------------------------------

    def local_changed(self, vector: VersionVector, now: float) -> None:
        """New local events committed (written here or received from another peer): push."""
        self.vector = self.vector.merge(vector)
        self._pump(now)

    def horizon_changed(self, horizon: VersionVector, now: float) -> None:
        """The local log was compacted (or a snapshot installed): a peer behind the new
        horizon is offered a snapshot instead of events."""
        self.horizon = horizon
        self._pump(now)

    def provide(self, events: list[WireEvent], now: float) -> None:
        """The answer to `Fetch`: send them in batches of at most `batch_events` and
        `batch_bytes` (an event larger than that goes alone)."""
        self._fetching = False
        if self._state is not _State.LIVE:
            return
        batch: list[WireEvent] = []
        size = 0
        for event in events:
            weight = len(event.payload) + len(event.kind) + len(event.scope) + 128
            if batch and (
                len(batch) >= self.config.batch_events or size + weight > self.config.batch_bytes
            ):
                self._send_batch(batch, now)
                batch, size = [], 0
            batch.append(event)
            size += weight
        if batch:
            self._send_batch(batch, now)
        if events:
            self._pump(now)

    def delivered(self, batch: int, vector: VersionVector, now: float) -> None:
        """The answer to `Deliver`: the batch is durable; `vector` is the local vector now."""
        if self._state is not _State.LIVE or batch not in self._undelivered:
            return
        self._undelivered.discard(batch)
        self.vector = self.vector.merge(vector)
        self._send(Ack(batch, self.vector), now)
        self._pump(now)

    def refuse(self, reason: str, now: float) -> None:
        """The peer sent something the host refuses (tampered event, bad snapshot): end it."""
        self._fail(reason, Fault.PEER, now)

    def offer_snapshot(self, offer: SnapshotOffer | None, now: float) -> None:
        if self._state is not _State.LIVE:
            return
        if offer is None:
            self._fail(
                "the peer is behind the compaction horizon and no snapshot is available",
                Fault.LOCAL,
                now,
            )
            return
        self._offered = offer
        self._send(offer, now)

    def provide_chunk(self, snapshot: str, offset: int, data: bytes, now: float) -> None:
        if self._state is _State.LIVE and self._offered and self._offered.snapshot == snapshot:
            self._send(SnapshotChunk(snapshot, offset, data), now)

    def accept_snapshot(self, snapshot: str, offset: int, now: float) -> None:
        offer = self._pulling
        if self._state is not _State.LIVE or offer is None or offer.snapshot != snapshot:
            return
        self._pull_offset = max(0, min(offset, offer.size))
        self._send(SnapshotRequest(snapshot, self._pull_offset), now)

    def decline_snapshot(self, reason: str, now: float, *, retry: bool = False) -> None:
        """Refuse the offer. With `retry` (it predates a compaction here), send a SUMMARY with
        the current horizon instead of closing: the peer then offers a newer snapshot."""
        self._pulling = None
        if retry:
            self._send_summary(now)
        else:
            self._fail(f"snapshot declined: {reason}", Fault.LOCAL, now)

    def postpone_snapshot(self, now: float) -> None:
        """The answer to `NeedSnapshot` when no snapshot here covers the peer's horizon yet
        (the peer compacted events this node lacks): ask again once this node holds more or
        the peer sends a new SUMMARY. Meanwhile the other direction catches this node up."""
        self._snapshot_asked = False
        self._postponed = self.vector

    def snapshot_installed(self, vector: VersionVector, now: float) -> None:
        """The pulled snapshot is installed: tell the peer where we stand now."""
        self._pulling = None
        self.vector = self.vector.merge(vector)
        if self._state is _State.LIVE:
            self._send_summary(now)

    # -- receiving ---------------------------------------------------------------------------

    def _handle(self, message: Message, now: float) -> None:
        match message:
            case Bye():
                self._close(f"peer said: {message.reason}", Fault.BYE)
            case Ping():
                self._send(Pong(message.sent), now)
            case Pong():
                pass
            case Hello():
                self._on_hello(message, now)
            case Auth():
                self._on_auth(message, now)
            case _ if self._state is not _State.LIVE:
                raise ProtocolError(f"{type(message).__name__} before authentication")
            case Summary():
                self._on_summary(message, now)
            case Events():
                self._on_events(message)
            case Ack():
                self._on_ack(message, now)
            case SnapshotOffer():
                self._on_offer(message)
            case SnapshotRequest():
                self._on_snapshot_request(message)
            case SnapshotChunk():
                self._on_chunk(message, now)

    def _on_hello(self, hello: Hello, now: float) -> None:
        if self._state is not _State.HELLO:
            raise ProtocolError("HELLO repeated")
        local = self.local
        refusal = None
        if hello.version != PROTOCOL_VERSION:
            refusal = f"protocol version {hello.version} is not supported ({PROTOCOL_VERSION})"
        elif hello.cluster_id != local.cluster_id:
            refusal = "the peer belongs to another cluster"
        elif hello.node_id == local.node_id:
            refusal = "connected to itself"
        elif hello.nonce == self._nonce:
            refusal = "the peer echoed our nonce"
        if refusal:
            self._fail(refusal, Fault.PEER, now)
            return
        self.peer_hello = hello
        message = handshake.transcript(
            local.cluster_id, local.node_id, hello.node_id, self._nonce, hello.nonce
        )
        self._send(Auth(local.sign(message)), now)
        self._state = _State.AUTH

    def _on_auth(self, auth: Auth, now: float) -> None:
        hello = self.peer_hello
        if self._state is not _State.AUTH or hello is None:
            raise ProtocolError("AUTH out of place")
        local = self.local
        expected = handshake.transcript(
            local.cluster_id, hello.node_id, local.node_id, hello.nonce, self._nonce
        )
        if not handshake.verify(auth.signature, hello.node_id, expected):
            self._fail("the peer's handshake signature does not verify", Fault.PEER, now)
            return
        refusal = local.trust(hello) if local.trust is not None else None
        if refusal is not None:
            self._fail(f"the peer is not trusted: {refusal}", Fault.PEER, now)
            return
        self._state = _State.LIVE
        self._actions.append(Authenticated(hello))
        self._send_summary(now)

    def _on_summary(self, summary: Summary, now: float) -> None:
        self._summarized = True
        self._postponed = None
        self.peer = summary.vector
        self.peer_horizon = summary.horizon
        offer = self._offered
        if offer is not None and not offer.vector.dominates(summary.horizon):
            self._offered = None  # the peer compacted past it (it declined): offer anew
            self._snapshot_asked = False
        self.sent = self._with_in_flight(summary.vector, after=0)
        offered = self._offered
        if offered is not None and summary.vector.dominates(offered.vector):
            self._offered = None  # installed: from here on, the events after it
            self._snapshot_asked = False
        self._actions.append(PeerSummary(summary))
        self._pump(now)

    def _on_events(self, message: Events) -> None:
        if len(self._undelivered) >= 4 * self.config.window:
            raise ProtocolError("too many batches without acknowledgement")
        if message.batch in self._undelivered:
            raise ProtocolError(f"batch {message.batch} repeated")
        tops: dict[bytes, int] = {}
        for event in message.events:
            last = tops.get(event.origin)
            if last is not None and event.seq != last + 1:
                raise ProtocolError("a batch's events of one origin must be contiguous")
            tops[event.origin] = event.seq
        self.peer = self.peer.merge(tops)  # the peer holds what it sends
        self.sent = self.sent.merge(tops)
        self._undelivered.add(message.batch)
        self._actions.append(Deliver(message.batch, message.events))

    def _on_ack(self, ack: Ack, now: float) -> None:
        if ack.batch not in self._in_flight:
            raise ProtocolError(f"ACK of batch {ack.batch}, which is not in flight")
        for batch in [b for b in self._in_flight if b <= ack.batch]:
            del self._in_flight[batch]
        self.peer = self.peer.merge(ack.vector)
        self.sent = self._with_in_flight(self.peer, after=ack.batch)
        self._pump(now)

    def _on_offer(self, offer: SnapshotOffer) -> None:
        if self._pulling is not None:
            raise ProtocolError("a second snapshot offered while one is being pulled")
        self._pulling = offer
        self._actions.append(SnapshotOffered(offer))

    def _on_snapshot_request(self, request: SnapshotRequest) -> None:
        offer = self._offered
        if offer is None or offer.snapshot != request.snapshot or request.offset > offer.size:
            raise ProtocolError("snapshot request for something not offered")
        length = min(self.config.chunk_bytes, offer.size - request.offset)
        self._actions.append(ReadSnapshot(offer.snapshot, request.offset, length))

    def _on_chunk(self, chunk: SnapshotChunk, now: float) -> None:
        offer = self._pulling
        if offer is None or chunk.snapshot != offer.snapshot or chunk.offset != self._pull_offset:
            raise ProtocolError("snapshot chunk out of place")
        end = chunk.offset + len(chunk.data)
        if not chunk.data or end > offer.size:
            raise ProtocolError("snapshot chunk is empty or runs past the offered size")
        self._pull_offset = end
        complete = end == offer.size
        self._actions.append(SnapshotData(offer, chunk.offset, chunk.data, complete))
        if not complete:
            self._send(SnapshotRequest(offer.snapshot, end), now)

    # -- sending -----------------------------------------------------------------------------

    def _pump(self, now: float) -> None:
        """Ask the host for more to send, when there is some and room in the window."""
        if self._state is not _State.LIVE or self._fetching or self._snapshot_asked:
            return
        if not self._summarized:
            return  # until the peer says what it holds, anything sent may be a repeat
        if len(self._in_flight) >= self.config.window:
            return
        missing = self.vector.missing_from(self.sent)
        if not missing:
            return
        behind = any(self.sent.head(o) < self.horizon.head(o) for o in missing)
        if behind:
            if self._postponed == self.vector:
                return
            self._snapshot_asked = True
            self._actions.append(NeedSnapshot(self.sent, self.peer_horizon))
            return
        self._fetching = True
        self._actions.append(Fetch(self.sent, self.config.batch_events * self.config.window))

    def _send_batch(self, events: list[WireEvent], now: float) -> None:
        batch = self._next_batch
        self._next_batch += 1
        tops: dict[bytes, int] = {}
        for event in events:
            tops[event.origin] = max(tops.get(event.origin, 0), event.seq)
        self._in_flight[batch] = VersionVector(tops)
        self.sent = self.sent.merge(tops)
        self._send(Events(batch, tuple(events)), now)

    def _with_in_flight(self, base: VersionVector, after: int) -> VersionVector:
        merged = base
        for batch, tops in self._in_flight.items():
            if batch > after:
                merged = merged.merge(tops)
        return merged

    def _send_summary(self, now: float) -> None:
        self._last_summary = now
        self._send(Summary(self.vector, self.horizon), now)

    def _send(self, message: Message, now: float) -> None:
        frame = encode(message)
        if len(frame) > MAX_FRAME:
            raise ValueError(f"{type(message).__name__} of {len(frame)} bytes exceeds a frame")
        self._frames.append(frame)
        self._last_sent = now

    def _fail(self, reason: str, fault: Fault, now: float) -> None:
        if self._state is not _State.CLOSED:
            self._send(Bye(reason), now)
            self._close(reason, fault)

    def _close(self, reason: str, fault: Fault) -> None:
        self._state = _State.CLOSED
        self._actions.append(Closed(reason, fault))
