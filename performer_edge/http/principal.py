"""Who is calling: the principal taken from `apikey` and `Authorization: Bearer` tokens."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from performer_edge.core.tokens import TokenKeys
from performer_edge.errors import Forbidden, Unauthorized

SERVICE_ROLE = "service_role"


@dataclass(frozen=True)
class Principal:
    """The verified caller: its role, its subject (user id) if any, and every claim."""

    role: str
    subject: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    token: str | None = None

    @property
    def is_service_role(self) -> bool:
        return self.role == SERVICE_ROLE

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], token: str) -> Principal:
        subject = claims.get("sub")
        return cls(
            role=str(claims.get("role") or "anon"),
            subject=subject if isinstance(subject, str) else None,
            claims=dict(claims),
            token=token,
        )


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def api_key(request: web.Request) -> str | None:
    """`apikey` header (clients send `apikey` and `apiKey`), else the `apikey` query parameter."""
    return request.headers.get("apikey") or request.query.get("apikey") or None


class VerifiedTokens:
    """Claims of tokens already verified, so a long-lived API key is checked once, not per call.

    An ES256 verification costs ~300 µs; the cache keeps the claims and re-checks only `exp`.
    Bounded: it is emptied when full, and when the trusted key ring changes (a cluster member
    revoked). Tokens are keyed by their full text, so a forged token can never hit an entry made
    by a genuine one.
    """

    def __init__(self, keys: TokenKeys, capacity: int = 4096) -> None:
        self.keys = keys
        self.capacity = capacity
        self._claims: dict[str, dict[str, Any]] = {}
        self._generation = keys.trust_generation

    def verify(self, token: str) -> dict[str, Any]:
        generation = self.keys.trust_generation
        if generation != self._generation:
            # The cluster's key ring changed (a member revoked): what its key signed is void.
            self._claims.clear()
            self._generation = generation
        claims = self._claims.get(token)
        if claims is not None:
            expires = claims.get("exp")
            if not isinstance(expires, int | float) or expires > time.time():
                return claims
            del self._claims[token]
        claims = self.keys.verify(token)
        if len(self._claims) >= self.capacity:
            self._claims.clear()
        self._claims[token] = claims
        return claims


def resolve_principal(request: web.Request, tokens: VerifiedTokens) -> Principal | None:
    """Verify the credentials present; None when there are none. Raises Unauthorized."""
    key = api_key(request)
    bearer = bearer_token(request)
    key_claims = tokens.verify(key) if key is not None else None
    if bearer is not None:
        claims = key_claims if bearer == key and key_claims is not None else tokens.verify(bearer)
        return Principal.from_claims(claims, bearer)
    if key is not None and key_claims is not None:
        return Principal.from_claims(key_claims, key)
    return None


def require_service_role(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("No API key found in request", code="no_api_key")
    if not principal.is_service_role:
        raise Forbidden("this operation needs the service_role key", code="service_role_required")
    return principal
