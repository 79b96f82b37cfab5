"""The admin API's operations (service_role): users, links, invites, factors, the outbox."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import apsw

from performer_edge.auth import passwords, store
from performer_edge.auth.mfa import admin_factors, delete_factor_ops
from performer_edge.auth.service import (
    AuthService,
    Plan,
    identity_row,
    invalid,
    metadata,
    new_user_row,
    normalize_email,
    normalize_phone,
)
from performer_edge.auth.sessions import now_iso
from performer_edge.auth.shapes import factor_json
from performer_edge.auth.store import Op, Row
from performer_edge.errors import Forbidden, NotFound

ADMIN_ROLES = ("service_role", "supabase_admin")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
LINK_TYPES = (
    "signup",
    "invite",
    "magiclink",
    "recovery",
    "email_change_current",
    "email_change_new",
)


def parse_duration(text: str) -> float:
    """Go duration strings as GoTrue takes them for `ban_duration` ("24h", "1h30m")."""
    parts = DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise invalid(f"invalid format for ban duration: {text!r}", "validation_failed")
    return sum(float(n) * DURATION_UNITS[u] for n, u in parts)


class Admin:
    def __init__(self, service: AuthService) -> None:
        self.service = service

    def require_admin(self, bearer: str | None) -> None:
        claims = self.service.claims_of(bearer)
        if claims.get("role") not in ADMIN_ROLES:
            raise Forbidden("User not allowed", code="not_admin")

    async def create_user(self, body: dict[str, Any]) -> Row:
        email = normalize_email(body["email"]) if body.get("email") else None
        phone = normalize_phone(body["phone"]) if body.get("phone") else None
        hashed = await self._password_hash(body)
        user_id = body.get("id")
        if user_id is not None:
            try:
                user_id = str(uuid.UUID(str(user_id)))
            except ValueError:
                raise invalid("id must be a UUID", "validation_failed") from None

        def plan(conn: apsw.Connection) -> Plan:
            if email and store.user_by_email(conn, email):
                raise invalid(
                    "A user with this email address has already been registered", "email_exists"
                )
            if phone and store.user_by_phone(conn, phone):
                raise invalid(
                    "A user with this phone number has already been registered", "phone_exists"
                )
            at = now_iso()
            user = new_user_row(
                email=email,
                phone=phone,
                at=at,
                user_metadata=metadata(body.get("user_metadata"), "user_metadata"),
            )
            if user_id:
                if store.user_by_id(conn, user_id):
                    raise invalid("User already exists with this id", "user_already_exists")
                user["id"] = user_id
            user["raw_app_meta_data"] = {
                **metadata(body.get("app_metadata"), "app_metadata"),
                **user["raw_app_meta_data"],
            }
            user["encrypted_password"] = hashed
            if body.get("role"):
                user["role"] = str(body["role"])
            if email and body.get("email_confirm"):
                user["email_confirmed_at"] = at
            if phone and body.get("phone_confirm"):
                user["phone_confirmed_at"] = at
            if body.get("ban_duration") not in (None, "none"):
                user["banned_until"] = _ban_until(str(body["ban_duration"]))
            ops: list[Op] = [store.upsert("auth_users", user)]
            if email or phone:
                ops.append(store.upsert("auth_identities", identity_row(user, at)))
            return Plan(ops, lambda c: self.service.user_shape(c, user["id"]))

        shape: Row = await self.service.transact("auth.user_created", "auth", plan)
        return shape

    async def list_users(self, page: int, per_page: int) -> tuple[list[Row], int]:
        def load(conn: apsw.Connection) -> tuple[list[Row], int]:
            total_row = conn.execute(
                "SELECT count(*) FROM auth_users WHERE deleted_at IS NULL"
            ).fetchone()
            rows = store.fetch_rows(
                conn,
                "SELECT id FROM auth_users WHERE deleted_at IS NULL "
                "ORDER BY created_at, id LIMIT ? OFFSET ?",
                (per_page, (page - 1) * per_page),
            )
            users = [self.service.user_shape(conn, r["id"]) for r in rows]
            return users, int(total_row[0]) if total_row else 0

        return await self.service.read(load)

    async def get_user(self, user_id: str) -> Row:
        shape: Row = await self.service.read(lambda c: self.service.user_shape(c, user_id))
        return shape

    async def update_user(self, user_id: str, body: dict[str, Any]) -> Row:
        hashed = await self._password_hash(body)
        email = normalize_email(body["email"]) if body.get("email") else None
        phone = normalize_phone(body["phone"]) if body.get("phone") else None

        def plan(conn: apsw.Connection) -> Plan:
            user = self._user(conn, user_id)
            at = now_iso()
            changes: dict[str, Any] = {"updated_at": at}
            if email and email != user["email"]:
                if store.user_by_email(conn, email):
                    raise invalid(
                        "A user with this email address has already been registered",
                        "email_exists",
                    )
                changes["email"] = email
            if phone and phone != user["phone"]:
                if store.user_by_phone(conn, phone):
                    raise invalid(
                        "A user with this phone number has already been registered",
                        "phone_exists",
                    )
                changes["phone"] = phone
            if hashed:
                changes["encrypted_password"] = hashed
            if body.get("user_metadata") is not None:
                changes["raw_user_meta_data"] = {
                    **user["raw_user_meta_data"],
                    **metadata(body["user_metadata"], "user_metadata"),
                }
            if body.get("app_metadata") is not None:
                changes["raw_app_meta_data"] = {
                    **user["raw_app_meta_data"],
                    **metadata(body["app_metadata"], "app_metadata"),
                }
            if body.get("role"):
                changes["role"] = str(body["role"])
            if body.get("email_confirm") and not user["email_confirmed_at"]:
                changes["email_confirmed_at"] = at
            if body.get("phone_confirm") and not user["phone_confirmed_at"]:
                changes["phone_confirmed_at"] = at
            if "ban_duration" in body:
                duration = body["ban_duration"]
                changes["banned_until"] = (
                    None if duration in (None, "none") else _ban_until(str(duration))
                )
            return Plan(
                [store.update("auth_users", user_id, changes)],
                lambda c: self.service.user_shape(c, user_id),
            )

        shape: Row = await self.service.transact("auth.user_updated", "auth", plan)
        return shape

    async def delete_user(self, user_id: str, soft: bool) -> Row:
        def plan(conn: apsw.Connection) -> Plan:
            user = self._user(conn, user_id)
            at = now_iso()
            ops: list[Op] = [
                store.update("auth_sessions", s["id"], {"revoked_at": at})
                for s in store.sessions_of(conn, user_id)
            ]
            for factor in store.factors_of(conn, user_id):
                ops += delete_factor_ops(conn, factor["id"])
            if soft:
                ops.append(
                    store.update(
                        "auth_users",
                        user_id,
                        {"deleted_at": at, "email": None, "phone": None, "updated_at": at},
                    )
                )
            else:
                ops += [
                    store.delete("auth_identities", i["id"])
                    for i in store.identities_of(conn, user_id)
                ]
                ops.append(store.delete("auth_users", user["id"]))
            return Plan(ops, lambda c: {})

        answer: Row = await self.service.transact("auth.user_deleted", "auth", plan)
        return answer

    async def invite(self, body: dict[str, Any], redirect_to: str | None) -> Row:
        email = normalize_email(body.get("email"))
        data = metadata(body.get("data"))

        def plan(conn: apsw.Connection) -> Plan:
            user = store.user_by_email(conn, email)
            at = now_iso()
            ops: list[Op] = []
            if user is not None and user["email_confirmed_at"]:
                raise invalid(
                    "A user with this email address has already been registered", "email_exists"
                )
            if user is None:
                user = new_user_row(email=email, phone=None, at=at, user_metadata=data)
                user["invited_at"] = at
                ops += [
                    store.upsert("auth_users", user),
                    store.upsert("auth_identities", identity_row(user, at)),
                ]
            else:
                ops.append(store.update("auth_users", user["id"], {"invited_at": at}))
            ops += self.service.links.issue(conn, user, "invite", email, redirect_to)
            return Plan(ops, lambda c: self.service.user_shape(c, user["id"]))

        shape: Row = await self.service.transact("auth.user_invited", "auth", plan)
        return shape

    async def generate_link(self, body: dict[str, Any], redirect_to: str | None) -> Row:
        link_type = body.get("type")
        if link_type not in LINK_TYPES:
            raise invalid("Invalid link type", "validation_failed")
        email = normalize_email(body.get("email"))
        new_email = normalize_email(body["new_email"]) if body.get("new_email") else None
        if link_type.startswith("email_change") and not new_email:
            raise invalid("The new email address is required", "validation_failed")
        hashed = None
        if link_type == "signup":
            password = self.service.check_password_strength(body.get("password"))
            hashed = await passwords.hash_password_async(password)
        data = metadata(body.get("data"))

        def plan(conn: apsw.Connection) -> Plan:
            user = store.user_by_email(conn, email)
            at = now_iso()
            ops: list[Op] = []
            if user is None:
                if link_type not in ("signup", "invite", "magiclink"):
                    raise NotFound("User with this email not found", code="user_not_found")
                user = new_user_row(email=email, phone=None, at=at, user_metadata=data)
                user["encrypted_password"] = hashed
                if link_type == "invite":
                    user["invited_at"] = at
                ops += [
                    store.upsert("auth_users", user),
                    store.upsert("auth_identities", identity_row(user, at)),
                ]
            elif link_type == "signup" and user["email_confirmed_at"]:
                raise invalid("User already registered", "email_exists")
            target = email
            token_type = link_type
            if link_type.startswith("email_change"):
                ops.append(
                    store.update(
                        "auth_users",
                        user["id"],
                        {"email_change": new_email, "email_change_sent_at": at},
                    )
                )
                target = (new_email or email) if link_type == "email_change_new" else email
                token_type = "email_change" if link_type == "email_change_new" else link_type
            issued = self.service.links.make(
                conn, user, token_type, target, redirect_to, send=False
            )
            ops += issued.ops
            extra = {
                "action_link": issued.action_link,
                "email_otp": issued.otp,
                "hashed_token": issued.token_hash,
                "redirect_to": issued.redirect_to,
                # GoTrue echoes the requested type; supabase-py validates it as one of LINK_TYPES.
                "verification_type": link_type,
            }
            return Plan(ops, lambda c: {**self.service.user_shape(c, user["id"]), **extra})

        shape: Row = await self.service.transact("auth.link_generated", "auth", plan)
        return shape

    async def factors(self, user_id: str) -> list[Row]:
        def load(conn: apsw.Connection) -> list[Row]:
            self._user(conn, user_id)
            return admin_factors(conn, user_id)

        return await self.service.read(load)

    async def delete_factor(self, user_id: str, factor_id: str) -> Row:
        def plan(conn: apsw.Connection) -> Plan:
            factor = store.fetch_row(
                conn,
                "SELECT * FROM auth_mfa_factors WHERE id = ? AND user_id = ?",
                (factor_id, user_id),
            )
            if factor is None:
                raise NotFound("Factor not found", code="mfa_factor_not_found")
            shape = factor_json(factor)
            return Plan(delete_factor_ops(conn, factor_id), lambda c: shape)

        shape: Row = await self.service.transact("auth.factor_deleted", "auth", plan)
        return shape

    async def outbox(self, limit: int = 100) -> list[Row]:
        return await self.service.read(lambda c: read_outbox(c, limit))

    async def _password_hash(self, body: dict[str, Any]) -> str | None:
        if body.get("password_hash"):
            value = str(body["password_hash"])
            if not value.startswith("$argon2"):
                raise invalid("password_hash must be an argon2 hash", "validation_failed")
            return value
        if body.get("password") is None:
            return None
        return await passwords.hash_password_async(
            self.service.check_password_strength(body["password"])
        )

    def _user(self, conn: apsw.Connection, user_id: str) -> Row:
        user = store.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("User not found", code="user_not_found")
        return user


def read_outbox(conn: apsw.Connection, limit: int = 100) -> list[Row]:
    return store.fetch_rows(
        conn,
        "SELECT id, created_at, recipient, kind, subject, body, action_link, sent_at, error "
        "FROM auth_outbox ORDER BY id DESC LIMIT ?",
        (limit,),
    )


def _ban_until(duration: str) -> str:
    seconds = parse_duration(duration)
    return datetime.fromtimestamp(time.time() + seconds, tz=UTC).isoformat().replace("+00:00", "Z")
