"""GoTrue's JSON shapes: User, Identity, Factor, Session (supabase-wire.md §2.3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

Row = dict[str, Any]

USER_TIMESTAMPS = (
    "email_confirmed_at",
    "phone_confirmed_at",
    "confirmation_sent_at",
    "recovery_sent_at",
    "email_change_sent_at",
    "invited_at",
    "last_sign_in_at",
    "banned_until",
    "deleted_at",
    "reauthentication_sent_at",
)


def user_json(user: Row, identities: list[Row], factors: list[Row] | None = None) -> Row:
    shape: Row = {
        "id": user["id"],
        "aud": user["aud"],
        "role": user["role"],
        "email": user["email"] or "",
        "phone": user["phone"] or "",
        "app_metadata": user["raw_app_meta_data"],
        "user_metadata": user["raw_user_meta_data"],
        "identities": [identity_json(i) for i in identities],
        "created_at": user["created_at"],
        "updated_at": user["updated_at"],
        "is_anonymous": bool(user["is_anonymous"]),
        "is_sso_user": bool(user["is_sso_user"]),
    }
    for column in USER_TIMESTAMPS:
        if user.get(column):
            shape[column] = user[column]
    if user.get("email_confirmed_at") or user.get("phone_confirmed_at"):
        shape["confirmed_at"] = user.get("email_confirmed_at") or user.get("phone_confirmed_at")
    if user.get("email_change"):
        shape["new_email"] = user["email_change"]
    if user.get("phone_change"):
        shape["new_phone"] = user["phone_change"]
    if factors:
        shape["factors"] = [factor_json(f) for f in factors]
    return shape


def obfuscated_user_json(email: str | None, phone: str | None, data: Row) -> Row:
    """GoTrue's `sanitizeUser`: what sign-up answers for a taken address when mail is confirmed."""
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    provider = "email" if email else "phone"
    return {
        "id": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "",
        "email": email or "",
        "phone": phone or "",
        "confirmation_sent_at": at,
        "app_metadata": {"provider": provider, "providers": [provider]},
        "user_metadata": data,
        "identities": [],
        "created_at": at,
        "updated_at": at,
        "is_anonymous": False,
    }


def identity_json(identity: Row) -> Row:
    return {
        "identity_id": identity["id"],
        "id": identity["provider_id"],
        "user_id": identity["user_id"],
        "identity_data": identity["identity_data"],
        "provider": identity["provider"],
        "last_sign_in_at": identity["last_sign_in_at"],
        "created_at": identity["created_at"],
        "updated_at": identity["updated_at"],
        "email": identity["email"] or "",
    }


def factor_json(factor: Row) -> Row:
    return {
        "id": factor["id"],
        "friendly_name": factor["friendly_name"] or "",
        "factor_type": factor["factor_type"],
        "status": factor["status"],
        "phone": factor["phone"],
        "created_at": factor["created_at"],
        "updated_at": factor["updated_at"],
        "last_challenged_at": factor["last_challenged_at"],
    }


def session_json(
    access_token: str, refresh_token: str, expires_in: int, expires_at: int, user: Row
) -> Row:
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user,
    }
