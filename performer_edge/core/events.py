"""Events: the unit of change. Identity `(origin, seq)`, HLC time, kind, scope, CBOR payload.

An event is signed by its origin node over a canonical CBOR encoding and forwarded unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import cbor2
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from performer_edge.core import hlc as hlc_mod
from performer_edge.errors import IntegrityError, InvalidInput
from sync.codec import MAX_FRAME

EVENT_FORMAT = 1
ORIGIN_BYTES = 32
SIGNATURE_BYTES = 64
MAX_KIND_LENGTH = 128
MAX_SCOPE_LENGTH = 1024
# An event travels alone in one sync frame at most: a larger one could be acknowledged here and
# never reach another node, so the log refuses it.
MAX_PAYLOAD_BYTES = MAX_FRAME - 8 * 1024
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


@dataclass(frozen=True, slots=True)
class Event:
    """One signed, immutable change. `pos` is the local commit position (0 before commit).

    `effect` is what projecting the event did on this node (for row events, the `RowChange` with
    old and new records that realtime's postgres_changes needs). It is local, never signed or sent.
    """

    origin: bytes
    seq: int
    hlc: int
    kind: str
    scope: str
    payload: bytes
    sig: bytes
    pos: int = field(default=0, compare=False)
    effect: Any = field(default=None, compare=False, repr=False)

    @property
    def data(self) -> Any:
        """The payload decoded from CBOR."""
        return cbor2.loads(self.payload)

    @property
    def key(self) -> tuple[bytes, int]:
        return (self.origin, self.seq)

    def signing_bytes(self) -> bytes:
        return signing_bytes(self.origin, self.seq, self.hlc, self.kind, self.scope, self.payload)

    def verify_signature(self) -> None:
        """Raise IntegrityError unless `sig` is the origin's signature over this event."""
        try:
            VerifyKey(self.origin).verify(self.signing_bytes(), self.sig)
        except (BadSignatureError, ValueError, TypeError) as exc:
            raise IntegrityError(
                f"bad signature on event {self.origin.hex()[:16]}:{self.seq}",
                code="bad_signature",
            ) from exc

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view for the CLI and the events API; bytes become `{"$bytes": hex}`."""
        return {
            "pos": self.pos,
            "origin": self.origin.hex(),
            "seq": self.seq,
            "hlc": self.hlc,
            "time": hlc_mod.to_iso(self.hlc),
            "kind": self.kind,
            "scope": self.scope,
            "payload": jsonable(self.data),
            "sig": self.sig.hex(),
        }


def signing_bytes(
    origin: bytes, seq: int, hlc: int, kind: str, scope: str, payload: bytes
) -> bytes:
    return cbor2.dumps([EVENT_FORMAT, origin, seq, hlc, kind, scope, payload], canonical=True)


def encode_payload(value: Any) -> bytes:
    try:
        return cbor2.dumps(value, canonical=True)
    except (cbor2.CBOREncodeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"payload cannot be encoded: {exc}") from exc


def encode_checked(kind: str, value: Any) -> bytes:
    """Validate a local event's kind and encode its payload (InvalidInput on either)."""
    problems = kind_problems(kind)
    if problems:
        raise InvalidInput(problems[0], code="invalid_event_kind")
    return check_payload_size(encode_payload(value))


def check_payload_size(payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(
            f"an event payload of {len(payload)} bytes is over the limit of "
            f"{MAX_PAYLOAD_BYTES} (one sync frame)",
            code="payload_too_large",
        )
    return payload


def sign_event(key: SigningKey, seq: int, hlc: int, kind: str, scope: str, payload: bytes) -> Event:
    origin = bytes(key.verify_key)
    signature = key.sign(signing_bytes(origin, seq, hlc, kind, scope, payload)).signature
    return Event(origin, seq, hlc, kind, scope, payload, signature)


def check_shape(event: Event) -> None:
    """Reject an event whose fields are out of range before it reaches the log."""
    problems = []
    if len(event.origin) != ORIGIN_BYTES:
        problems.append("origin must be 32 bytes")
    if event.seq < 1:
        problems.append("seq must be >= 1")
    if event.hlc < 0 or event.hlc >= 1 << 64:
        problems.append("hlc out of range")
    if len(event.sig) != SIGNATURE_BYTES:
        problems.append("signature must be 64 bytes")
    problems.extend(kind_problems(event.kind))
    if len(event.scope) > MAX_SCOPE_LENGTH:
        problems.append(f"scope longer than {MAX_SCOPE_LENGTH}")
    if problems:
        raise IntegrityError("malformed event: " + "; ".join(problems), code="malformed_event")


def kind_problems(kind: str) -> list[str]:
    if len(kind) > MAX_KIND_LENGTH or not KIND_PATTERN.match(kind):
        return [f"kind {kind[:40]!r} must be dotted lowercase words like 'app.order_placed'"]
    return []


def jsonable(value: Any) -> Any:
    """Decoded CBOR as JSON: bytes become `{"$bytes": hex}`."""
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
