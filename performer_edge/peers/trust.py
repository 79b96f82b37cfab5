"""Cluster trust: a root key, certificates for node keys, and the policy sessions consult.

A cluster is named by its root public key (Ed25519, 32 bytes): `cluster_id = root public key`.
The root signs a certificate for each member node's key:

    certificate = CBOR [CERT_FORMAT, cluster_id, node_id, issued_ms, expires_ms, roles, block]
                  ++ sig

(`sig`: the root's 64-byte signature over the CBOR part; `expires_ms` 0 means no expiry;
`roles` a list of names such as "node" or "hub"; `block` the node's identity block, a number
the root gives each member once (0 for itself), so the integers a node allocates for identity
columns never collide with another member's: see `rest.identity`. Certificates issued before
blocks existed have six fields and no block.) A node presents its certificate in HELLO; the
peer checks, once the key is proven by the handshake, that the certificate is the root's, for
that key, current, and not revoked (`ClusterTrust.check`). The root key itself stays on the
node that made the cluster (`performer cluster init`); other nodes hold only the public half.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cbor2
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from sync.messages import Hello

CERT_FORMAT = 1
SIGNATURE_BYTES = 64
MAX_CERTIFICATE = 4096
MAX_BLOCKS = 1 << 21  # identity blocks of 2^32 values each stay below 2^53 (JSON-safe)


@dataclass(frozen=True)
class Certificate:
    cluster_id: bytes
    node_id: bytes
    issued_ms: int
    expires_ms: int  # 0: no expiry
    roles: tuple[str, ...]
    block: int | None = None  # the identity block; None in certificates from before blocks

    def encode_unsigned(self) -> bytes:
        fields: list[object] = [
            CERT_FORMAT,
            self.cluster_id,
            self.node_id,
            self.issued_ms,
            self.expires_ms,
            list(self.roles),
        ]
        if self.block is not None:
            fields.append(self.block)
        return cbor2.dumps(fields)


class CertificateError(ValueError):
    """A certificate that is malformed, not the root's, or not for this key or time."""


def issue(
    root: SigningKey,
    node_id: bytes,
    now_ms: int,
    *,
    expires_ms: int = 0,
    roles: Iterable[str] = ("node",),
    block: int | None = None,
) -> bytes:
    """A certificate for `node_id`, signed by the cluster root."""
    cluster_id = bytes(root.verify_key)
    certificate = Certificate(cluster_id, node_id, now_ms, expires_ms, tuple(roles), block)
    body = certificate.encode_unsigned()
    return body + root.sign(body).signature


def parse(certificate: bytes) -> Certificate:
    """The certificate's fields, if it is well formed (the signature is not checked here)."""
    if not isinstance(certificate, bytes) or not (
        SIGNATURE_BYTES < len(certificate) <= MAX_CERTIFICATE
    ):
        raise CertificateError("certificate missing or of a bad size")
    try:
        fields = cbor2.loads(certificate[:-SIGNATURE_BYTES])
        version, cluster_id, node_id, issued, expires, roles, *rest = fields
        block = rest[0] if len(rest) == 1 else None
    except Exception as exc:  # cbor2 raises several types; a short list fails unpacking
        raise CertificateError("certificate is not readable") from exc
    valid = (
        version == CERT_FORMAT
        and isinstance(cluster_id, bytes)
        and len(cluster_id) == 32
        and isinstance(node_id, bytes)
        and len(node_id) == 32
        and type(issued) is int
        and type(expires) is int
        and isinstance(roles, list)
        and all(isinstance(r, str) for r in roles)
        and len(rest) <= 1
        and (block is None or (type(block) is int and 0 <= block < MAX_BLOCKS))
    )
    if not valid:
        raise CertificateError("certificate fields are malformed")
    return Certificate(cluster_id, node_id, issued, expires, tuple(roles), block)


def verify(certificate: bytes, cluster_id: bytes, node_id: bytes, now_ms: int) -> Certificate:
    """The certificate, if the cluster root issued it to `node_id` and it is current."""
    parsed = parse(certificate)
    if parsed.cluster_id != cluster_id:
        raise CertificateError("certificate is for another cluster")
    if parsed.node_id != node_id:
        raise CertificateError("certificate is for another node key")
    body, signature = certificate[:-SIGNATURE_BYTES], certificate[-SIGNATURE_BYTES:]
    try:
        VerifyKey(cluster_id).verify(body, signature)
    except (BadSignatureError, ValueError) as exc:
        raise CertificateError("certificate is not signed by the cluster root") from exc
    if parsed.expires_ms and now_ms >= parsed.expires_ms:
        raise CertificateError("certificate has expired")
    return parsed


@dataclass
class ClusterTrust:
    """The policy a node's sessions use: a proven key with a current root certificate for it,
    not revoked. `revoked` grows as revocations arrive (they are events, so they sync)."""

    cluster_id: bytes
    clock_ms: Callable[[], int]
    revoked: set[bytes] = field(default_factory=set)

    def check(self, hello: Hello) -> str | None:
        return self.check_member(hello.node_id, hello.certificate)

    def check_member(self, node_id: bytes, certificate: bytes) -> str | None:
        """None when `certificate` makes the (proven) key `node_id` a current member; else
        why not. Sessions ask it at the handshake, node-signed HTTP requests on each call."""
        if node_id in self.revoked:
            return "the node's key is revoked"
        try:
            verify(certificate, self.cluster_id, node_id, self.clock_ms())
        except CertificateError as error:
            return str(error)
        return None
