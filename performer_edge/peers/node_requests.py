"""Node-signed HTTP requests: how one member of a cluster calls another's HTTP API as itself.

The caller sends one header, `X-Performer-Node-Auth: <certificate>.<time_ms>.<signature>`
(certificate and signature in unpadded base64url). The signature is the node key's Ed25519
signature over `REQUEST_CONTEXT | cluster_id | method | path | time_ms` (`|` a NUL byte; `path`
the raw path with its query). The callee takes the node id from the certificate, checks the
signature against it, the time against its own clock (within `MAX_SKEW_MS`), and asks the
cluster's trust policy (`ClusterTrust.check_member`: the root's certificate for that key,
current, not revoked), as a sync handshake does. A captured header replays only the same
method and path, only for `MAX_SKEW_MS`: keep these requests read-only, or idempotent.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from typing import Final

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from performer_edge.errors import Forbidden, Unauthorized
from performer_edge.peers import trust
from performer_edge.peers.invites import b64url, b64url_decode
from performer_edge.peers.trust import ClusterTrust

HEADER: Final = "X-Performer-Node-Auth"
REQUEST_CONTEXT: Final = b"performer-node-request-v1"
MAX_SKEW_MS: Final = 120_000
MAX_HEADER: Final = 8192


def request_message(cluster_id: bytes, method: str, path: str, time_ms: int) -> bytes:
    """What the calling node signs."""
    parts = (REQUEST_CONTEXT, cluster_id, method.upper().encode(), path.encode(), b"%d" % time_ms)
    return b"\0".join(parts)


def signed_headers(
    sign: Callable[[bytes], bytes],
    cluster_id: bytes,
    certificate: bytes,
    method: str,
    path: str,
    now_ms: int,
) -> dict[str, str]:
    """The header that makes a request to `path` (raw, with its query) this node's."""
    signature = sign(request_message(cluster_id, method, path, now_ms))
    return {HEADER: f"{b64url(certificate)}.{now_ms}.{b64url(signature)}"}


def _unauthorized(reason: str) -> Unauthorized:
    return Unauthorized(
        f"a cluster member's signed request is required: {reason}", code="node_auth_required"
    )


def authenticate(
    policy: ClusterTrust, headers: Mapping[str, str], method: str, path: str, now_ms: int
) -> bytes:
    """The calling member's node id; `Unauthorized` (401) for a missing, malformed, stale or
    forged header, `Forbidden` (403) for a key the cluster does not (or no longer) admit."""
    raw = headers.get(HEADER, "")
    if not raw:
        raise _unauthorized(f"no {HEADER} header")
    if len(raw) > MAX_HEADER or raw.count(".") != 2:
        raise _unauthorized(f"the {HEADER} header is malformed")
    cert_text, time_text, signature_text = raw.split(".")
    if not time_text.isdigit() or len(time_text) > 15:
        raise _unauthorized(f"the {HEADER} header's time is malformed")
    try:
        certificate, signature = b64url_decode(cert_text), b64url_decode(signature_text)
        node_id = trust.parse(certificate).node_id
    except (binascii.Error, ValueError) as exc:  # CertificateError is a ValueError
        raise _unauthorized(f"the {HEADER} header is malformed: {exc}") from exc
    time_ms = int(time_text)
    if abs(now_ms - time_ms) > MAX_SKEW_MS:
        raise _unauthorized("the request's time is too far from this node's clock")
    message = request_message(policy.cluster_id, method, path, time_ms)
    try:
        VerifyKey(node_id).verify(message, signature)
    except (BadSignatureError, ValueError) as exc:
        raise _unauthorized("the signature does not verify") from exc
    refusal = policy.check_member(node_id, certificate)
    if refusal is not None:
        raise Forbidden(f"not a member of this cluster: {refusal}", code="node_not_member")
    return node_id
