"""Sessions and tokens: ES256/HS256 access tokens with GoTrue's claims, rotating refresh tokens.

Refresh tokens are random strings handed to the client once; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from performer_edge.auth import store
from performer_edge.auth.store import Op, Row
from performer_edge.core.tokens import TokenKeys


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def new_id() -> str:
    return str(uuid.uuid4())


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_refresh_token() -> tuple[str, str]:
    """(the token for the client, the hash to store)."""
    token = secrets.token_urlsafe(24)
    return token, sha256_hex(token)


@dataclass(frozen=True)
class NewSession:
    session: Row
    refresh_token: str
    ops: list[Op]


def start_session(
    user: Row, method: str, *, aal: str = "aal1", factor_id: str | None = None
) -> NewSession:
    """The ops that open a session for `user` and record the sign-in."""
    at = now_iso()
    session: Row = {
        "id": new_id(),
        "user_id": user["id"],
        "aal": aal,
        "amr": [{"method": method, "timestamp": int(time.time())}],
        "factor_id": factor_id,
        "created_at": at,
        "updated_at": at,
        "refreshed_at": None,
        "revoked_at": None,
    }
    token, token_hash = new_refresh_token()
    ops = [
        store.upsert("auth_sessions", session),
        store.upsert("auth_refresh_tokens", refresh_row(token_hash, session["id"], None, at)),
        store.update("auth_users", user["id"], {"last_sign_in_at": at, "updated_at": at}),
    ]
    return NewSession(session, token, ops)


def refresh_row(token_hash: str, session_id: str, parent: str | None, at: str) -> Row:
    return {
        "token_hash": token_hash,
        "session_id": session_id,
        "parent_hash": parent,
        "revoked": 0,
        "created_at": at,
        "updated_at": at,
    }


def access_token(
    keys: TokenKeys, issuer: str, user: Row, session: Row, expiry_s: int
) -> tuple[str, int]:
    """A signed access token with GoTrue's claims, and its expiry (unix seconds)."""
    issued = int(time.time())
    expires = issued + expiry_s
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user["id"],
        "aud": user["aud"],
        "exp": expires,
        "iat": issued,
        "email": user["email"] or "",
        "phone": user["phone"] or "",
        "app_metadata": user["raw_app_meta_data"],
        "user_metadata": user["raw_user_meta_data"],
        "role": user["role"],
        "aal": session["aal"],
        "amr": session["amr"],
        "session_id": session["id"],
        "is_anonymous": bool(user["is_anonymous"]),
    }
    return keys.sign(claims), expires
