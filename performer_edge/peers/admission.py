"""Admitting a node with an invite, and revoking one: the root node's side of membership.

`admit` checks a join request (parsed at the edge by `parse_join`) against this node's cluster,
the joining key's proof and the invite book, burns the invite and issues the certificate.
`plan_revocation` makes the root-signed payload of a `cluster.revoked` event. Both raise typed
errors with stable codes; `peers/cluster_api.py` puts them on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from performer_edge.core.datadir import DataDir
from performer_edge.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from performer_edge.peers import cluster_events, invites, membership, trust
from performer_edge.peers.cluster_state import ClusterState
from performer_edge.peers.membership import Membership

JOIN_FIELDS = {"invite_secret", "node_id", "proof", "cluster_id"}


@dataclass(frozen=True)
class JoinRequest:
    secret: bytes
    node_id: bytes
    proof: bytes
    cluster_id: bytes | None  # the invite's, when the joining node says it (a clearer refusal)

    def to_json(self) -> dict[str, str]:
        body = {
            "invite_secret": invites.b64url(self.secret),
            "node_id": self.node_id.hex(),
            "proof": invites.b64url(self.proof),
        }
        if self.cluster_id is not None:
            body["cluster_id"] = self.cluster_id.hex()
        return body


def join_request(invite: invites.Invite, key: SigningKey) -> JoinRequest:
    """What a node holding `key` sends to join with `invite`."""
    node_id = bytes(key.verify_key)
    message = invites.proof_message(invite.cluster_id, invite.secret, node_id)
    return JoinRequest(invite.secret, node_id, key.sign(message).signature, invite.cluster_id)


def parse_join(body: Any) -> JoinRequest:
    """A join request body, or InvalidInput naming what is wrong with it."""
    if not isinstance(body, dict):
        raise InvalidInput(
            "expected an object with invite_secret, node_id and proof", code="invalid_join"
        )
    unknown = sorted(str(k) for k in set(body) - JOIN_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown fields {unknown}", code="invalid_join")
    secret = _field(body, "invite_secret", invites.SECRET_BYTES, "base64url")
    node_id = _field(body, "node_id", 32, "hex")
    proof = _field(body, "proof", 64, "base64url")
    cluster_id = _field(body, "cluster_id", 32, "hex") if "cluster_id" in body else None
    return JoinRequest(secret, node_id, proof, cluster_id)


def admit(data_dir: DataDir, state: ClusterState, request: JoinRequest, now_ms: int) -> Membership:
    """Burn the invite and return the joining node's membership (cluster id, certificate)."""
    ours = state.membership
    if ours is None:
        raise NotFound("this node is not in a cluster", code="no_cluster")
    if request.cluster_id is not None and request.cluster_id != ours.cluster_id:
        raise Conflict(
            f"the invite is for cluster {request.cluster_id.hex()[:16]}, this node is in "
            f"cluster {ours.cluster_id.hex()[:16]}",
            code="wrong_cluster",
        )
    root = membership.load_root(data_dir)
    if root is None:
        raise Forbidden(
            "this node does not hold the cluster's root key, so it cannot admit nodes",
            code="not_root",
        )
    message = invites.proof_message(ours.cluster_id, request.secret, request.node_id)
    try:
        VerifyKey(request.node_id).verify(message, request.proof)
    except (BadSignatureError, ValueError) as exc:
        raise Unauthorized(
            "the proof does not verify: it must be the joining node's signature over "
            "cluster id || invite secret || node id",
            code="bad_proof",
        ) from exc
    if request.node_id in state.revoked:
        raise Forbidden("this node's key has been revoked from the cluster", code="node_revoked")
    book = invites.InviteBook(data_dir)
    roles, block = book.redeem(ours.cluster_id, request.secret, request.node_id, now_ms)
    certificate = trust.issue(root, request.node_id, now_ms, roles=roles, block=block)
    return Membership(ours.cluster_id, certificate)


def plan_revocation(
    data_dir: DataDir, state: ClusterState, node_id: bytes, now_ms: int
) -> dict[str, Any]:
    """The payload of a `cluster.revoked` event for `node_id`, signed by this node's root key."""
    ours = state.membership
    if ours is None:
        raise NotFound("this node is not in a cluster", code="no_cluster")
    root = membership.load_root(data_dir)
    if root is None:
        raise Forbidden(
            "only the node holding the cluster's root key (the one that ran "
            "`performer cluster init`) can revoke nodes",
            code="not_root",
        )
    if node_id == state.identity.public_key:
        raise InvalidInput("this node holds the cluster's root key; it cannot revoke itself")
    if node_id in state.revoked:
        raise Conflict(f"node {node_id.hex()} is already revoked", code="already_revoked")
    return cluster_events.revocation(root, node_id, now_ms)


def parse_node_id(text: object) -> bytes:
    """A node id: the node's public key as 64 hex digits."""
    if isinstance(text, str) and len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    raise InvalidInput("a node id is 64 hex digits (its public key)", code="invalid_node_id")


def _field(body: dict[str, Any], name: str, size: int, encoding: str) -> bytes:
    value = body.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError
        raw = bytes.fromhex(value) if encoding == "hex" else invites.b64url_decode(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a {encoding} string", code="invalid_join") from None
    if len(raw) != size:
        raise InvalidInput(f"{name} must encode {size} bytes", code="invalid_join")
    return raw
