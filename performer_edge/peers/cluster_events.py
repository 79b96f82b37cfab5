"""Cluster events: revocations and members' JWT verification keys, replicated like any event.

- `cluster.revoked` `{cluster_id, node_id, revoked_ms, root_sig}`: `root_sig` is the cluster
  root's signature over CBOR ["performer.cluster.revoked", cluster_id, node_id, revoked_ms].
  The event's origin signature only says who carried it; the root's makes it verifiable on
  every node. As `cluster_id` is the root's public key, the check needs no local state.
- `cluster.jwt_key` `{kid, jwk, certificate}`: a member's ES256 public key (`kid` is its RFC 7638
  thumbprint, as `core.tokens` computes it) and the member's certificate, which must be the
  root's for the event's origin, current at the event's time.

The projection keeps both per cluster, so it is a pure function of the events (replay and any
delivery order give the same tables): revocations are kept, and a revoked node's keys are
dropped and never added again. An event that does not verify changes nothing (it must not fail
the ingest: its origin did sign it). Imports only `core` and `peers.trust`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import apsw
import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from performer_edge.core import hlc
from performer_edge.core.events import Event
from performer_edge.core.projections import Projection
from performer_edge.core.tokens import key_id, public_jwk
from performer_edge.peers import trust

REVOKED = "cluster.revoked"
JWT_KEY = "cluster.jwt_key"
REVOCATION_CONTEXT = "performer.cluster.revoked"

# A capability schema step (see `node.SCHEMA_STEPS`); never edit it once shipped.
CLUSTER_SCHEMA = """
CREATE TABLE cluster_revocations(
    cluster_id BLOB NOT NULL,
    node_id BLOB NOT NULL,
    revoked_ms INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, node_id)
) WITHOUT ROWID;
CREATE TABLE cluster_jwt_keys(
    cluster_id BLOB NOT NULL,
    node_id BLOB NOT NULL,
    kid TEXT NOT NULL,
    jwk TEXT NOT NULL,
    roles TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    announced_ms INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, node_id, kid)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Revoked:
    """The effect of a verified revocation (`Event.effect`)."""

    cluster_id: bytes
    node_id: bytes
    revoked_ms: int


@dataclass(frozen=True)
class MemberKey:
    """A member's JWT verification key, as the projection keeps it."""

    cluster_id: bytes
    node_id: bytes
    kid: str
    public: ec.EllipticCurvePublicKey
    roles: tuple[str, ...]
    expires_ms: int  # the certificate's; 0: none
    announced_ms: int

    def current(self, now_ms: int) -> bool:
        return not self.expires_ms or now_ms < self.expires_ms


# -- payloads ----------------------------------------------------------------------------------


def revocation_body(cluster_id: bytes, node_id: bytes, revoked_ms: int) -> bytes:
    return cbor2.dumps([REVOCATION_CONTEXT, cluster_id, node_id, revoked_ms], canonical=True)


def revocation(root: SigningKey, node_id: bytes, now_ms: int) -> dict[str, Any]:
    """The payload of a `cluster.revoked` event, signed by the cluster root."""
    cluster_id = bytes(root.verify_key)
    body = revocation_body(cluster_id, node_id, now_ms)
    return {
        "cluster_id": cluster_id,
        "node_id": node_id,
        "revoked_ms": now_ms,
        "root_sig": root.sign(body).signature,
    }


def jwt_key(public: ec.EllipticCurvePublicKey, certificate: bytes) -> dict[str, Any]:
    """The payload of a `cluster.jwt_key` event."""
    return {"kid": key_id(public), "jwk": public_jwk(public), "certificate": certificate}


def parse_revocation(event: Event) -> Revoked | None:
    """The revocation, if the payload is well formed and the root's signature verifies."""
    data = _decode(event)
    if data is None:
        return None
    cluster_id, node_id = data.get("cluster_id"), data.get("node_id")
    revoked_ms, signature = data.get("revoked_ms"), data.get("root_sig")
    if not (
        isinstance(cluster_id, bytes)
        and isinstance(node_id, bytes)
        and len(cluster_id) == len(node_id) == 32
        and isinstance(revoked_ms, int)
        and 0 <= revoked_ms < 1 << 63
        and isinstance(signature, bytes)
    ):
        return None
    try:
        VerifyKey(cluster_id).verify(revocation_body(cluster_id, node_id, revoked_ms), signature)
    except (BadSignatureError, ValueError, TypeError):
        return None
    return Revoked(cluster_id, node_id, revoked_ms)


def parse_jwt_key(event: Event) -> MemberKey | None:
    """The key, if the JWK is a P-256 key with that thumbprint and the certificate is the root's
    for the event's origin at the event's time."""
    data = _decode(event)
    if data is None:
        return None
    kid, jwk, certificate = data.get("kid"), data.get("jwk"), data.get("certificate")
    if not (isinstance(kid, str) and isinstance(jwk, dict) and isinstance(certificate, bytes)):
        return None
    public = _public_key(jwk)
    if public is None or key_id(public) != kid:
        return None
    at_ms = hlc.physical_ms(event.hlc)
    try:
        cluster_id = trust.parse(certificate).cluster_id
        parsed = trust.verify(certificate, cluster_id, event.origin, at_ms)
    except trust.CertificateError:
        return None
    return MemberKey(cluster_id, event.origin, kid, public, parsed.roles, parsed.expires_ms, at_ms)


# -- the projection ----------------------------------------------------------------------------


def apply(conn: apsw.Connection, event: Event) -> object:
    if event.kind == REVOKED:
        revoked = parse_revocation(event)
        if revoked is None:
            return None
        conn.execute(
            "INSERT INTO cluster_revocations(cluster_id, node_id, revoked_ms) VALUES (?, ?, ?) "
            "ON CONFLICT DO UPDATE SET revoked_ms = min(revoked_ms, excluded.revoked_ms)",
            (revoked.cluster_id, revoked.node_id, revoked.revoked_ms),
        )
        conn.execute(
            "DELETE FROM cluster_jwt_keys WHERE cluster_id = ? AND node_id = ?",
            (revoked.cluster_id, revoked.node_id),
        )
        return revoked
    if event.kind == JWT_KEY:
        key = parse_jwt_key(event)
        if key is None or is_revoked(conn, key.cluster_id, key.node_id):
            return None
        conn.execute(
            "INSERT INTO cluster_jwt_keys"
            "(cluster_id, node_id, kid, jwk, roles, expires_ms, announced_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "announced_ms = min(announced_ms, excluded.announced_ms)",
            (
                key.cluster_id,
                key.node_id,
                key.kid,
                json.dumps(public_jwk(key.public), sort_keys=True),
                json.dumps(list(key.roles)),
                key.expires_ms,
                key.announced_ms,
            ),
        )
        return key
    return None


def reset(conn: apsw.Connection) -> None:
    conn.execute("DELETE FROM cluster_revocations")
    conn.execute("DELETE FROM cluster_jwt_keys")


PROJECTION = Projection("cluster", (REVOKED, JWT_KEY), apply, reset)


# -- reads -------------------------------------------------------------------------------------


def is_revoked(conn: apsw.Connection, cluster_id: bytes, node_id: bytes) -> bool:
    row = conn.execute(
        "SELECT 1 FROM cluster_revocations WHERE cluster_id = ? AND node_id = ?",
        (cluster_id, node_id),
    ).fetchone()
    return row is not None


def revoked_nodes(conn: apsw.Connection, cluster_id: bytes) -> dict[bytes, int]:
    """Revoked node id -> when (ms), for one cluster."""
    rows = _rows(
        conn,
        "SELECT node_id, revoked_ms FROM cluster_revocations WHERE cluster_id = ? "
        "ORDER BY revoked_ms, node_id",
        (cluster_id,),
    )
    return {bytes(node_id): int(at) for node_id, at in rows}


def member_keys(conn: apsw.Connection, cluster_id: bytes) -> list[MemberKey]:
    """Every kept key of one cluster's members (expired certificates included)."""
    rows = _rows(
        conn,
        "SELECT node_id, kid, jwk, roles, expires_ms, announced_ms FROM cluster_jwt_keys "
        "WHERE cluster_id = ? ORDER BY announced_ms, node_id, kid",
        (cluster_id,),
    )
    keys = []
    for node_id, kid, jwk, roles, expires_ms, announced_ms in rows:
        public = _public_key(json.loads(jwk))
        assert public is not None  # checked before it was stored
        keys.append(
            MemberKey(
                cluster_id,
                bytes(node_id),
                kid,
                public,
                tuple(json.loads(roles)),
                int(expires_ms),
                int(announced_ms),
            )
        )
    return keys


# -- parsing helpers ---------------------------------------------------------------------------


def _rows(conn: apsw.Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def _decode(event: Event) -> dict[Any, Any] | None:
    try:
        data = cbor2.loads(event.payload)
    except Exception:  # noqa: BLE001 - cbor2 raises several types; a peer's junk changes nothing
        return None
    return data if isinstance(data, dict) else None


def _public_key(jwk: dict[Any, Any]) -> ec.EllipticCurvePublicKey | None:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        return None
    x, y = _b64url_int(jwk.get("x")), _b64url_int(jwk.get("y"))
    if x is None or y is None:
        return None
    try:
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:  # not a point on the curve
        return None


def _b64url_int(value: object) -> int | None:
    if not isinstance(value, str) or len(value) != 43:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=")
    except ValueError:
        return None
    return int.from_bytes(raw, "big") if len(raw) == 32 else None
