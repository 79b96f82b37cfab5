"""The user's own account: get/update, email links and codes (OTP, verify, recover, resend)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import apsw

from performer_edge.auth import passwords, store
from performer_edge.auth.links import pending_token, token_hash_for
from performer_edge.auth.service import (
    AuthService,
    Plan,
    identity_row,
    invalid,
    metadata,
    new_user_row,
    normalize_email,
    normalize_phone,
    pkce_challenge,
)
from performer_edge.auth.sessions import new_refresh_token, now_iso, start_session
from performer_edge.auth.store import Op, Row
from performer_edge.errors import Forbidden

VERIFY_TYPES = {
    "signup": ("signup",),
    "invite": ("invite",),
    "magiclink": ("magiclink",),
    "recovery": ("recovery",),
    "email": ("signup", "magiclink", "invite"),
    "email_change": ("email_change", "email_change_current"),
}
AMR_METHOD = {"recovery": "recovery", "invite": "invite", "signup": "otp"}


def otp_expired() -> Forbidden:
    return Forbidden("Token has expired or is invalid", code="otp_expired")


class Account:
    def __init__(self, service: AuthService) -> None:
        self.service = service
        self.settings = service.settings

    # -- GET/PUT /user -------------------------------------------------------------------------

    async def get_user(self, bearer: str | None) -> Row:
        _, user = await self.service.session_user(bearer)
        shape: Row = await self.service.read(lambda c: self.service.user_shape(c, user["id"]))
        return shape

    async def update_user(
        self, bearer: str | None, body: dict[str, Any], redirect_to: str | None
    ) -> Row:
        _, user = await self.service.session_user(bearer)
        changes: dict[str, Any] = {}
        hashed = None
        if body.get("password") is not None:
            password = self.service.check_password_strength(body["password"])
            if await passwords.verify_password_async(user["encrypted_password"], password):
                raise invalid(
                    "New password should be different from the old password.", "same_password"
                )
            hashed = await passwords.hash_password_async(password)
        if body.get("data") is not None:
            changes["raw_user_meta_data"] = {
                **user["raw_user_meta_data"],
                **metadata(body["data"]),
            }
        new_email = normalize_email(body["email"]) if body.get("email") else None
        new_phone = normalize_phone(body["phone"]) if body.get("phone") else None
        challenge = pkce_challenge(body)

        def plan(conn: apsw.Connection) -> Plan:
            at = now_iso()
            update = dict(changes)
            if hashed is not None:
                update["encrypted_password"] = hashed
            ops: list[Op] = []
            if new_email and new_email != user["email"]:
                if store.user_by_email(conn, new_email) is not None:
                    raise invalid(
                        "A user with this email address has already been registered",
                        "email_exists",
                    )
                # As GoTrue: only an anonymous user on an autoconfirm node adds an address at
                # once (like a sign-up); a permanent user always proves the new address, else a
                # stolen access token could move the account to the thief's mailbox.
                if user["is_anonymous"] and self.settings.auth_autoconfirm:
                    update.update({"email": new_email, "email_confirmed_at": at})
                    update["is_anonymous"] = 0
                    app = {"provider": "email", "providers": ["email"]}
                    update["raw_app_meta_data"] = {**user["raw_app_meta_data"], **app}
                    identity = identity_row({**user, "email": new_email}, at)
                    ops.append(store.upsert("auth_identities", identity))
                else:
                    update.update({"email_change": new_email, "email_change_sent_at": at})
                    ops += self.service.links.issue(
                        conn, user, "email_change", new_email, redirect_to, challenge
                    )
            if new_phone and new_phone != user["phone"]:
                if store.user_by_phone(conn, new_phone) is not None:
                    raise invalid(
                        "A user with this phone number has already been registered",
                        "phone_exists",
                    )
                if not self.settings.auth_autoconfirm:
                    raise invalid(
                        "Error sending phone change OTP: no SMS provider is configured",
                        "sms_send_failed",
                    )
                update.update({"phone": new_phone, "phone_confirmed_at": at})
            if update:
                update["updated_at"] = at
                ops.insert(0, store.update("auth_users", user["id"], update))
            return Plan(ops, lambda c: self.service.user_shape(c, user["id"]))

        shape: Row = await self.service.transact("auth.user_updated", "auth", plan)
        return shape

    # -- codes and links -----------------------------------------------------------------------

    async def send_otp(self, body: dict[str, Any], ip: str | None, redirect_to: str | None) -> Row:
        if body.get("phone") and not body.get("email"):
            normalize_phone(body["phone"])
            raise invalid("Error sending sms OTP: no SMS provider is configured", "sms_send_failed")
        email = normalize_email(body.get("email"))
        self.service.limit("otp", ip, email)
        create = body.get("create_user", True) is not False
        data = metadata(body.get("data"))
        challenge = pkce_challenge(body)

        def plan(conn: apsw.Connection) -> Plan:
            user = store.user_by_email(conn, email)
            ops: list[Op] = []
            if user is None:
                if not create or not self.settings.auth_signup_enabled:
                    raise invalid("Signups not allowed for otp", "otp_disabled")
                at = now_iso()
                user = new_user_row(email=email, phone=None, at=at, user_metadata=data)
                ops += [
                    store.upsert("auth_users", user),
                    store.upsert("auth_identities", identity_row(user, at)),
                ]
                kind = "signup"
            else:
                kind = "magiclink" if user["email_confirmed_at"] else "signup"
            ops += self.service.links.issue(
                conn, user, kind, email, redirect_to, challenge, "magiclink"
            )
            return Plan(ops, lambda c: {})

        answer: Row = await self.service.transact("auth.otp_sent", "auth", plan)
        return answer

    async def recover(self, body: dict[str, Any], ip: str | None, redirect_to: str | None) -> Row:
        email = normalize_email(body.get("email"))
        self.service.limit("otp", ip, email)
        challenge = pkce_challenge(body)

        def plan(conn: apsw.Connection) -> Plan:
            user = store.user_by_email(conn, email)
            if user is None:
                return Plan([], lambda c: {})  # answer the same: no user enumeration
            ops = self.service.links.issue(
                conn, user, "recovery", email, redirect_to, challenge, "recovery"
            )
            ops.append(store.update("auth_users", user["id"], {"recovery_sent_at": now_iso()}))
            return Plan(ops, lambda c: {})

        answer: Row = await self.service.transact("auth.recovery_sent", "auth", plan)
        return answer

    async def resend(self, body: dict[str, Any], ip: str | None, redirect_to: str | None) -> Row:
        kind = body.get("type")
        if kind in ("sms", "phone_change"):
            raise invalid("Error sending sms: no SMS provider is configured", "sms_send_failed")
        if kind not in ("signup", "email_change"):
            raise invalid(
                "Missing one of these types: signup, email_change, sms, phone_change",
                "validation_failed",
            )
        email = normalize_email(body.get("email"))
        self.service.limit("otp", ip, email)

        def plan(conn: apsw.Connection) -> Plan:
            if kind == "signup":
                user = store.user_by_email(conn, email)
                if user is None or user["email_confirmed_at"]:
                    return Plan([], lambda c: {})
                return Plan(
                    self.service.links.issue(conn, user, "signup", email, redirect_to), lambda c: {}
                )
            user = store.fetch_row(
                conn,
                "SELECT * FROM auth_users WHERE email_change = ? AND deleted_at IS NULL",
                (email,),
            )
            if user is None:
                return Plan([], lambda c: {})
            return Plan(
                self.service.links.issue(conn, user, "email_change", email, redirect_to),
                lambda c: {},
            )

        answer: Row = await self.service.transact("auth.link_resent", "auth", plan)
        return answer

    async def reauthenticate(self, bearer: str | None) -> Row:
        _, user = await self.service.session_user(bearer)
        if not user["email"]:
            raise invalid("Reauthentication requires an email address", "validation_failed")

        def plan(conn: apsw.Connection) -> Plan:
            ops = self.service.links.issue(conn, user, "reauthentication", user["email"], None)
            ops.append(
                store.update("auth_users", user["id"], {"reauthentication_sent_at": now_iso()})
            )
            return Plan(ops, lambda c: {})

        answer: Row = await self.service.transact("auth.reauthentication_sent", "auth", plan)
        return answer

    # -- verify --------------------------------------------------------------------------------

    async def verify(self, body: dict[str, Any], ip: str | None) -> Row:
        kind = body.get("type")
        if kind in ("sms", "phone_change"):
            raise otp_expired()
        if not isinstance(kind, str) or kind not in VERIFY_TYPES:
            raise invalid("Verify requires a verification type", "validation_failed")
        if body.get("token_hash"):
            token_hash = str(body["token_hash"])
            self.service.limit("verify", ip)
        else:
            email = normalize_email(body.get("email"))
            token = body.get("token")
            if not isinstance(token, str) or not token:
                raise invalid("Verify requires a token or a token hash", "validation_failed")
            self.service.limit("verify", ip, email)
            token_hash = token_hash_for(email, token.strip())
        result: Row = await self.service.transact(
            "auth.verified", "auth", lambda conn: self._verify_plan(conn, token_hash, kind)
        )
        return result

    def _verify_plan(self, conn: apsw.Connection, token_hash: str, kind: str) -> Plan:
        token = pending_token(conn, token_hash, VERIFY_TYPES[kind])
        if token is None:
            raise otp_expired()
        user = store.user_by_id(conn, token["user_id"])
        if user is None:
            raise otp_expired()
        self.service.check_can_sign_in(user)
        at = now_iso()
        ops: list[Op] = [store.update("auth_one_time_tokens", token_hash, {"consumed_at": at})]
        changes: dict[str, Any] = {"updated_at": at, **_confirmation_changes(conn, token)}
        ops.append(store.update("auth_users", user["id"], changes))
        ops += _conversion_ops(conn, token)
        method = AMR_METHOD.get(token["token_type"], "otp")
        return self.service.session_plan(start_session(user, method), ops)

    async def verify_link(self, query: dict[str, str]) -> str:
        """GET /verify from an email link: the URL to redirect the browser to."""
        token_hash, kind = query.get("token", ""), query.get("type", "")
        redirect = self.service.links.allowed_redirect(query.get("redirect_to"))
        if kind not in VERIFY_TYPES:
            return _with_fragment(redirect, error_params("validation_failed", "Invalid type"))

        def plan(conn: apsw.Connection) -> Plan:
            token = pending_token(conn, token_hash, VERIFY_TYPES[kind])
            if token is None:
                raise otp_expired()
            flow = None
            if token["relates_to"]:
                flow = store.fetch_row(
                    conn,
                    "SELECT * FROM auth_flow_states WHERE id = ? AND used_at IS NULL",
                    (token["relates_to"],),
                )
            if flow is None:
                return self._verify_plan(conn, token_hash, kind)
            # PKCE: the browser gets a code; the session comes from exchanging it with the
            # verifier only the app that started the flow holds.
            code, code_hash = new_refresh_token()
            ops = [
                store.update("auth_one_time_tokens", token_hash, {"consumed_at": now_iso()}),
                store.update("auth_flow_states", flow["id"], {"auth_code_hash": code_hash}),
            ]
            user_changes = _confirmation_changes(conn, token)
            if user_changes:
                ops.append(store.update("auth_users", token["user_id"], user_changes))
            ops += _conversion_ops(conn, token)
            return Plan(ops, lambda c: {"code": code})

        try:
            outcome: Row = await self.service.transact("auth.verified", "auth", plan)
        except Forbidden as exc:
            return _with_fragment(redirect, error_params(exc.error_code, exc.message))
        if "code" in outcome:
            separator = "&" if "?" in redirect else "?"
            return f"{redirect}{separator}{urlencode({'code': outcome['code']})}"
        fragment = {
            "access_token": outcome["access_token"],
            "expires_at": str(outcome["expires_at"]),
            "expires_in": str(outcome["expires_in"]),
            "refresh_token": outcome["refresh_token"],
            "token_type": "bearer",
            "type": kind,
        }
        return _with_fragment(redirect, fragment)


def _confirmation_changes(conn: apsw.Connection, token: Row) -> dict[str, Any]:
    user = store.user_by_id(conn, token["user_id"])
    if user is None:
        return {}
    at = now_iso()
    if token["token_type"] in ("signup", "invite", "magiclink") and not user["email_confirmed_at"]:
        return {"email_confirmed_at": at, "updated_at": at}
    if token["token_type"].startswith("email_change") and user["email_change"]:
        return {"email": user["email_change"], "email_change": None, "email_confirmed_at": at}
    return {}


def _conversion_ops(conn: apsw.Connection, token: Row) -> list[Op]:
    """An anonymous user who confirms an email address becomes a permanent email user."""
    user = store.user_by_id(conn, token["user_id"])
    if (
        user is None
        or not user["is_anonymous"]
        or not user["email_change"]
        or not token["token_type"].startswith("email_change")
    ):
        return []
    at = now_iso()
    app = {**user["raw_app_meta_data"], "provider": "email", "providers": ["email"]}
    return [
        store.update("auth_users", user["id"], {"is_anonymous": 0, "raw_app_meta_data": app}),
        store.upsert("auth_identities", identity_row({**user, "email": user["email_change"]}, at)),
    ]


def error_params(code: str, description: str) -> dict[str, str]:
    return {"error": "access_denied", "error_code": code, "error_description": description}


def _with_fragment(url: str, params: dict[str, str]) -> str:
    return f"{url.split('#', maxsplit=1)[0]}#{urlencode(params)}"
