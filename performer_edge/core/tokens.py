"""JWT signing and verification: ES256 with a `kid` by default, HS256 with a shared secret.

Every node of a cluster can verify every other node's tokens offline: verification looks the
`kid` up in a key ring that holds this node's key and the public keys it has learnt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from performer_edge.errors import Unauthorized

TEN_YEARS_S = 10 * 365 * 24 * 3600
ACCEPTED_ALGORITHMS = ("ES256", "HS256")


def generate_es256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_to_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the JWT signing key must be an EC P-256 private key")
    return key


def public_jwk(public: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def key_id(public: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint: the same key gets the same `kid` on every node."""
    jwk = public_jwk(public)
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


class TrustedKeys(Mapping[str, ec.EllipticCurvePublicKey]):
    """A key ring that changes while the node runs: its cluster's members' public keys, learnt
    from replicated events. `replace` swaps the whole ring at once (a reader on another thread
    sees the old ring or the new one, never a mix) and bumps `generation`, so a cache of
    verified tokens knows to forget what a dropped key signed. A key may carry an expiry (its
    certificate's): past it, the key is no longer in the ring."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[ec.EllipticCurvePublicKey, float | None]] = {}
        self.generation = 0

    def replace(self, keys: Mapping[str, tuple[ec.EllipticCurvePublicKey, float | None]]) -> None:
        """The new ring: kid -> (public key, expiry in epoch seconds or None)."""
        self._keys = dict(keys)
        self.generation += 1

    def __getitem__(self, kid: str) -> ec.EllipticCurvePublicKey:
        public, expires_at = self._keys[kid]
        if expires_at is not None and time.time() >= expires_at:
            raise KeyError(kid)
        return public

    def __iter__(self) -> Iterator[str]:
        now = time.time()
        ring = self._keys
        return iter([kid for kid, (_, exp) in ring.items() if exp is None or now < exp])

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class TokenKeys:
    """This node's signing key, an optional HS256 secret, and the public keys it trusts."""

    signing_key: ec.EllipticCurvePrivateKey
    hs256_secret: bytes | None = None
    trusted: Mapping[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)

    @cached_property
    def kid(self) -> str:
        return key_id(self.signing_key.public_key())

    @property
    def trust_generation(self) -> int:
        """Changes whenever a live key ring (`TrustedKeys`) changes; 0 for a fixed mapping."""
        return self.trusted.generation if isinstance(self.trusted, TrustedKeys) else 0

    @property
    def algorithm(self) -> str:
        """The algorithm new tokens are signed with."""
        return "HS256" if self.hs256_secret else "ES256"

    def with_trusted(self, public: ec.EllipticCurvePublicKey) -> TokenKeys:
        trusted = dict(self.trusted)
        trusted[key_id(public)] = public
        return TokenKeys(self.signing_key, self.hs256_secret, trusted)

    def sign(self, claims: Mapping[str, Any]) -> str:
        if self.hs256_secret:
            return jwt.encode(dict(claims), self.hs256_secret, algorithm="HS256")
        return jwt.encode(
            dict(claims), self.signing_key, algorithm="ES256", headers={"kid": self.kid}
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthorized with code token_invalid / token_expired."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid JWT: {exc}", code="token_invalid") from exc
        algorithm = header.get("alg")
        key: Any
        if algorithm == "ES256":
            key = self._public_key(header.get("kid"))
        elif algorithm == "HS256":
            if not self.hs256_secret:
                raise Unauthorized(
                    "invalid JWT: HS256 tokens are not accepted (the node has no JWT secret)",
                    code="token_invalid",
                )
            key = self.hs256_secret
        else:
            raise Unauthorized(
                f"invalid JWT: algorithm {algorithm!r} is not accepted", code="token_invalid"
            )
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                options={"verify_aud": False, "verify_iat": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("JWT expired", code="token_expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid JWT: {exc}", code="token_invalid") from exc
        if not isinstance(claims.get("role", ""), str):
            raise Unauthorized("invalid JWT: role claim must be a string", code="token_invalid")
        return claims

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JWKS document (`/auth/v1/.well-known/jwks.json`)."""
        keys = [self._jwk(self.signing_key.public_key())]
        keys.extend(self._jwk(pub) for kid, pub in self.trusted.items() if kid != self.kid)
        return {"keys": keys}

    def _public_key(self, kid: object) -> ec.EllipticCurvePublicKey:
        own = self.signing_key.public_key()
        if kid is None or kid == self.kid:
            return own
        if isinstance(kid, str):
            trusted = self.trusted.get(kid)
            if trusted is not None:
                return trusted
        raise Unauthorized(f"invalid JWT: unknown signing key {kid!r}", code="token_invalid")

    def _jwk(self, public: ec.EllipticCurvePublicKey) -> dict[str, str]:
        return {**public_jwk(public), "kid": key_id(public), "alg": "ES256", "use": "sig"}


def api_key_claims(role: str, issued_at: int, issuer: str) -> dict[str, Any]:
    """Claims of a long-lived API key, shaped like Supabase's anon and service_role keys."""
    return {"iss": issuer, "role": role, "iat": issued_at, "exp": issued_at + TEN_YEARS_S}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
