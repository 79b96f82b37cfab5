"""The sync protocol's messages: what two peers say to each other, one message per frame.

A session (sync/session.py) runs: HELLO both ways, AUTH both ways (each side signs both nonces),
then SUMMARY both ways (version vector, compaction horizon, document digests). Each side then
sends the events the other lacks in bounded EVENTS batches, each answered by an ACK carrying the
receiver's new vector; a peer behind the sender's horizon is offered a snapshot instead
(SNAPSHOT_OFFER, pulled by SNAPSHOT_REQUEST as SNAPSHOT_CHUNKs), then gets only the events after
it. Live pushes are more EVENTS; SUMMARY is repeated for anti-entropy; PING/PONG keep a quiet
link alive; BYE closes with a reason.

Plain frozen dataclasses: no I/O, no encoding (sync/codec.py), nothing from performer_edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sync.version_vector import VersionVector

PROTOCOL_VERSION = 1
NONCE_BYTES = 32
NODE_ID_BYTES = 32
SIGNATURE_BYTES = 64


def _empty_digests() -> Mapping[str, bytes]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WireEvent:
    """An event as its origin signed it; forwarded unchanged (see performer_edge.core.events)."""

    origin: bytes
    seq: int
    hlc: int
    kind: str
    scope: str
    payload: bytes
    sig: bytes

    @property
    def key(self) -> tuple[bytes, int]:
        return (self.origin, self.seq)


@dataclass(frozen=True, slots=True)
class Hello:
    """First message each way. `certificate` is the cluster's endorsement of `node_id` (opaque
    here: the host's trust policy reads it); `features` names optional capabilities."""

    version: int
    node_id: bytes
    cluster_id: bytes
    nonce: bytes
    certificate: bytes = b""
    features: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Auth:
    """The sender's signature over the handshake transcript (sync/handshake.py)."""

    signature: bytes


@dataclass(frozen=True, slots=True)
class Summary:
    """What the sender holds. `horizon[o]`: events of origin o up to this sequence are compacted
    into a snapshot and no longer sent one by one. `docs`: document id -> digest of its state,
    for document-level catch-up (Yjs; empty until documents sync)."""

    vector: VersionVector
    horizon: VersionVector = field(default_factory=VersionVector)
    docs: Mapping[str, bytes] = field(default_factory=_empty_digests)


@dataclass(frozen=True, slots=True)
class Events:
    """A batch, per origin in sequence order, each origin's run contiguous."""

    batch: int
    events: tuple[WireEvent, ...]


@dataclass(frozen=True, slots=True)
class Ack:
    """Batch `batch` is durably applied; `vector` is the receiver's vector after it."""

    batch: int
    vector: VersionVector


@dataclass(frozen=True, slots=True)
class SnapshotOffer:
    """A snapshot of the sender's state at `vector` (`size` bytes, SHA-256 `digest`)."""

    snapshot: str
    vector: VersionVector
    size: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class SnapshotRequest:
    """Send the snapshot's bytes from `offset` (a resumed pull starts where it stopped)."""

    snapshot: str
    offset: int


@dataclass(frozen=True, slots=True)
class SnapshotChunk:
    snapshot: str
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    sent: float


@dataclass(frozen=True, slots=True)
class Pong:
    sent: float


@dataclass(frozen=True, slots=True)
class Bye:
    reason: str


Message = (
    Hello
    | Auth
    | Summary
    | Events
    | Ack
    | SnapshotOffer
    | SnapshotRequest
    | SnapshotChunk
    | Ping
    | Pong
    | Bye
)
