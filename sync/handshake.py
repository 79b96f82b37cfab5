"""Mutual authentication: each side signs a transcript binding both node keys, both nonces and
the cluster, with its node key (Ed25519; the node id is the public key).

A signature is only good for the session whose nonces it names: the verifier's nonce is fresh
each time, so replaying a recorded AUTH to a node fails. Whether a proven key may sync at all
(cluster membership, certificate, revocation) is the host's trust policy, not decided here.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from sync.messages import NONCE_BYTES

_CONTEXT = b"performer-sync-auth-v1"

Signer = Callable[[bytes], bytes]  # message -> 64-byte Ed25519 signature by the node key


def new_nonce() -> bytes:
    return os.urandom(NONCE_BYTES)


def transcript(
    cluster_id: bytes, signer: bytes, verifier: bytes, signer_nonce: bytes, verifier_nonce: bytes
) -> bytes:
    """What `signer` signs for `verifier`. Fields are length-prefixed, so none can bleed into
    the next."""
    parts = (_CONTEXT, cluster_id, signer, verifier, signer_nonce, verifier_nonce)
    return b"".join(len(p).to_bytes(2, "big") + p for p in parts)


def verify(signature: bytes, signer: bytes, message: bytes) -> bool:
    try:
        VerifyKey(signer).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True
