"""Who is calling: the principal taken from `apikey` and `Authorization: Bearer` tokens."""

from __future__ import annotations

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


def resolve_principal(request: web.Request, keys: TokenKeys) -> Principal | None:
    """Verify the credentials present; None when there are none. Raises Unauthorized."""
    key = api_key(request)
    bearer = bearer_token(request)
    if key is not None and key != bearer:
        keys.verify(key)
    if bearer is not None:
        return Principal.from_claims(keys.verify(bearer), bearer)
    if key is not None:
        return Principal.from_claims(keys.verify(key), key)
    return None


def require_service_role(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("No API key found in request", code="no_api_key")
    if not principal.is_service_role:
        raise Forbidden("this operation needs the service_role key", code="service_role_required")
    return principal
