"""The auth service's core: sign-up, sign-in, sessions, refresh rotation, PKCE, logout.

Every state change is validated on the writer connection inside the write that appends its
event, so two concurrent refreshes of one token cannot both succeed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import apsw

from performer_edge.auth import passwords, store
from performer_edge.auth.links import LinkIssuer
from performer_edge.auth.ratelimit import RateLimiter
from performer_edge.auth.sessions import (
    NewSession,
    access_token,
    new_id,
    new_refresh_token,
    now_iso,
    parse_iso,
    refresh_row,
    sha256_hex,
    start_session,
)
from performer_edge.auth.shapes import obfuscated_user_json, session_json, user_json
from performer_edge.auth.store import Op, Row
from performer_edge.config import Settings
from performer_edge.core.db import Database, WriteTx
from performer_edge.core.log import LogWriter
from performer_edge.core.tokens import TokenKeys
from performer_edge.errors import Forbidden, InvalidInput, NotFound, Unauthorized

T = TypeVar("T")

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_PATTERN = re.compile(r"^\+?[1-9]\d{6,14}$")
FLOW_STATE_TTL_S = 600
# Metadata travels inside events and JWTs, whose encoders stop at a few hundred levels (orjson at
# 255, CBOR decoding at 400): deeper input would be stored, then fail to answer or to replay.
METADATA_MAX_DEPTH = 64


@dataclass(frozen=True)
class SessionDraft:
    """A session read inside a write, waiting for its access token to be signed."""

    user: Row
    session: Row
    refresh_token: str
    user_shape: Row


@dataclass(frozen=True)
class Plan:
    """What a write does: the ops of its event and how to answer once they are applied."""

    ops: list[Op]
    respond: Callable[[apsw.Connection], Any]


def invalid(message: str, code: str) -> InvalidInput:
    return InvalidInput(message, code=code)


def normalize_email(raw: Any) -> str:
    if not isinstance(raw, str) or not EMAIL_PATTERN.match(raw.strip()) or len(raw) > 255:
        raise invalid("Unable to validate email address: invalid format", "validation_failed")
    return raw.strip().lower()


def normalize_phone(raw: Any) -> str:
    text = re.sub(r"[\s\-()]", "", raw) if isinstance(raw, str) else ""
    if not PHONE_PATTERN.match(text):
        raise invalid("Invalid phone number format (E.164 required)", "validation_failed")
    return text.lstrip("+")


def metadata(raw: Any, what: str = "data") -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid(f"{what} must be a JSON object", "validation_failed")
    if nesting_depth(raw) > METADATA_MAX_DEPTH:
        raise invalid(
            f"{what} is nested more than {METADATA_MAX_DEPTH} levels deep", "validation_failed"
        )
    return raw


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (iterative: the input is untrusted)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in _children(item))
    return deepest


def _children(item: dict[str, Any] | list[Any]) -> list[Any]:
    return list(item.values()) if isinstance(item, dict) else item


class AuthService:
    def __init__(
        self,
        db: Database,
        log: LogWriter,
        keys: TokenKeys,
        settings: Settings,
        links: LinkIssuer,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.db = db
        self.log = log
        self.keys = keys
        self.settings = settings
        self.links = links
        self.limiter = limiter or RateLimiter()
        self.issuer = f"{settings.public_url}/auth/v1"

    # -- plumbing ------------------------------------------------------------------------------

    async def transact(self, kind: str, scope: str, plan: Callable[[apsw.Connection], Plan]) -> Any:
        """Plan on the writer connection, append one event with the ops, answer after applying."""

        def run(tx: WriteTx) -> Any:
            planned = plan(tx.conn)
            if planned.ops:
                self.log.append(tx, kind, scope, {"ops": planned.ops})
            return planned.respond(tx.conn)

        result = await self.db.write(run)
        if isinstance(result, SessionDraft):
            # Signing the access token is CPU work that needs no database: keep it off the
            # writer thread, which every write in the node waits for.
            return self.finish_session(result)
        return result

    async def read(self, fn: Callable[[apsw.Connection], T]) -> T:
        return await self.db.read(fn)

    def limit(self, group: str, ip: str | None, email: str | None = None) -> None:
        limit_ip = (
            self.settings.auth_rate_limit_refresh
            if group == "refresh"
            else self.settings.auth_rate_limit_ip
        )
        self.limiter.hit(group, ip or "unknown", limit_ip)
        if email:
            self.limiter.hit("email", email, self.settings.auth_rate_limit_email)

    def user_shape(self, conn: apsw.Connection, user_id: str) -> Row:
        user = store.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("User not found", code="user_not_found")
        return user_json(user, store.identities_of(conn, user_id), store.factors_of(conn, user_id))

    def session_shape(
        self, conn: apsw.Connection, session: Row, refresh_token: str
    ) -> SessionDraft:
        """What a session response needs from the database; `finish_session` signs it."""
        user = store.user_by_id(conn, session["user_id"])
        if user is None:
            raise NotFound("User not found", code="user_not_found")
        shape = user_json(
            user, store.identities_of(conn, user["id"]), store.factors_of(conn, user["id"])
        )
        return SessionDraft(user, session, refresh_token, shape)

    def finish_session(self, draft: SessionDraft) -> Row:
        token, expires_at = access_token(
            self.keys, self.issuer, draft.user, draft.session, self.settings.jwt_expiry
        )
        return session_json(
            token, draft.refresh_token, self.settings.jwt_expiry, expires_at, draft.user_shape
        )

    def session_plan(self, new: NewSession, extra_ops: list[Op] | None = None) -> Plan:
        return Plan(
            [*(extra_ops or []), *new.ops],
            lambda conn: self.session_shape(conn, new.session, new.refresh_token),
        )

    def check_password_strength(self, password: Any) -> str:
        if not isinstance(password, str) or not password:
            raise invalid("Signup requires a valid password", "validation_failed")
        minimum = self.settings.auth_password_min_length
        if len(password) < minimum:
            raise InvalidInput(
                f"Password should be at least {minimum} characters.",
                code="weak_password",
                details={"weak_password": {"reasons": ["length"]}},
            )
        if len(password) > 72 * 4:
            raise invalid("Password is too long", "validation_failed")
        return password

    # -- sign-up -------------------------------------------------------------------------------

    async def sign_up(self, body: dict[str, Any], ip: str | None, redirect_to: str | None) -> Row:
        if not self.settings.auth_signup_enabled:
            raise invalid("Signups not allowed for this instance", "signup_disabled")
        for field in ("email", "phone"):
            # A wrongly typed address is a bad request, not an anonymous sign-up.
            if body.get(field) is not None and not isinstance(body[field], str):
                raise invalid(f"{field} must be a string", "validation_failed")
        if not body.get("email") and not body.get("phone"):
            return await self.sign_in_anonymously(body, ip)
        self.limit("sign_in", ip)
        email = normalize_email(body["email"]) if body.get("email") else None
        phone = normalize_phone(body["phone"]) if not email else None
        if phone and not self.settings.auth_autoconfirm:
            raise invalid(
                "Error sending confirmation OTP to provider: no SMS provider is configured",
                "sms_send_failed",
            )
        password = self.check_password_strength(body.get("password"))
        data = metadata(body.get("data"))
        hashed = await passwords.hash_password_async(password)
        challenge = pkce_challenge(body)

        def plan(conn: apsw.Connection) -> Plan:
            existing = (
                store.user_by_email(conn, email)
                if email
                else store.user_by_phone(conn, phone or "")
            )
            if existing is not None and (
                existing["email_confirmed_at"] or existing["phone_confirmed_at"]
            ):
                if self.settings.auth_autoconfirm:
                    raise invalid("User already registered", "user_already_exists")
                # As GoTrue: where sign-ups must be confirmed, a taken address answers like a
                # new sign-up (a made-up user, no mail sent): sign-up tells nobody who exists.
                return Plan([], lambda c: obfuscated_user_json(email, phone, data))
            at = now_iso()
            if existing is None:
                user = new_user_row(email=email, phone=phone, at=at, user_metadata=data)
                user["encrypted_password"] = hashed
                ops: list[Op] = [
                    store.upsert("auth_users", user),
                    store.upsert("auth_identities", identity_row(user, at)),
                ]
            else:
                # As GoTrue: an unconfirmed account keeps its password and data. Whoever signs
                # up again has not proved the address, so must not choose the password that
                # the owner's confirmation would then activate.
                user = existing
                ops = []
            if self.settings.auth_autoconfirm:
                confirmed = "email_confirmed_at" if email else "phone_confirmed_at"
                ops.append(store.update("auth_users", user["id"], {confirmed: at}))
                return self.session_plan(start_session(user, "password"), ops)
            ops += self.links.issue(
                conn, user, "signup", email or "", redirect_to, challenge, "email/signup"
            )
            ops.append(store.update("auth_users", user["id"], {"confirmation_sent_at": at}))
            return Plan(ops, lambda c: self.user_shape(c, user["id"]))

        shape: Row = await self.transact("auth.user_signed_up", "auth", plan)
        return shape

    async def sign_in_anonymously(self, body: dict[str, Any], ip: str | None) -> Row:
        if not self.settings.auth_anonymous_enabled:
            raise invalid("Anonymous sign-ins are disabled", "anonymous_provider_disabled")
        self.limit("sign_in", ip)
        data = metadata(body.get("data"))

        def plan(conn: apsw.Connection) -> Plan:
            at = now_iso()
            user = new_user_row(email=None, phone=None, at=at, user_metadata=data, anonymous=True)
            return self.session_plan(
                start_session(user, "anonymous"), [store.upsert("auth_users", user)]
            )

        shape: Row = await self.transact("auth.user_signed_up", "auth", plan)
        return shape

    # -- sign-in -------------------------------------------------------------------------------

    async def sign_in_password(self, body: dict[str, Any], ip: str | None) -> Row:
        password = body.get("password")
        if body.get("email"):
            email = normalize_email(body["email"])
            self.limit("sign_in", ip, email)
            user = await self.read(lambda c: store.user_by_email(c, email))
        elif body.get("phone"):
            phone = normalize_phone(body["phone"])
            self.limit("sign_in", ip, phone)
            user = await self.read(lambda c: store.user_by_phone(c, phone))
        else:
            raise invalid("missing email or phone", "validation_failed")
        if not isinstance(password, str):
            raise invalid("Invalid login credentials", "invalid_credentials")
        hashed = user["encrypted_password"] if user else None
        if not await passwords.verify_password_async(hashed, password) or user is None:
            raise invalid("Invalid login credentials", "invalid_credentials")
        self.check_can_sign_in(user)
        if body.get("email") and not user["email_confirmed_at"]:
            raise invalid("Email not confirmed", "email_not_confirmed")
        if body.get("phone") and not user["phone_confirmed_at"]:
            raise invalid("Phone not confirmed", "phone_not_confirmed")
        shape: Row = await self.transact(
            "auth.session_created",
            "auth",
            lambda conn: self.session_plan(start_session(user, "password")),
        )
        return shape

    def check_can_sign_in(self, user: Row) -> None:
        banned = user.get("banned_until")
        if banned and parse_iso(banned) > time.time():
            raise invalid("User is banned", "user_banned")

    # -- refresh -------------------------------------------------------------------------------

    async def refresh(self, body: dict[str, Any], ip: str | None) -> Row:
        token = body.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise invalid(
                "Invalid Refresh Token: Refresh Token Not Found", "refresh_token_not_found"
            )
        self.limit("refresh", ip)
        token_hash = sha256_hex(token)
        reuse_window = self.settings.auth_refresh_reuse_interval

        def plan(conn: apsw.Connection) -> Plan:
            row = store.refresh_token(conn, token_hash)
            session = store.session_by_id(conn, row["session_id"]) if row else None
            if row is None or session is None:
                raise invalid(
                    "Invalid Refresh Token: Refresh Token Not Found", "refresh_token_not_found"
                )
            user = store.user_by_id(conn, session["user_id"])
            if user is None:
                raise invalid(
                    "Invalid Refresh Token: Refresh Token Not Found", "refresh_token_not_found"
                )
            self.check_can_sign_in(user)
            at = now_iso()
            if row["revoked"]:
                if time.time() - parse_iso(row["updated_at"]) > reuse_window:
                    raise _ReuseDetected(session["id"])
                # A second tab refreshed with the same token moments ago: give it a sibling.
                ops: list[Op] = []
            else:
                ops = [
                    store.update(
                        "auth_refresh_tokens", token_hash, {"revoked": 1, "updated_at": at}
                    )
                ]
            new_token, new_hash = new_refresh_token()
            ops += [
                store.upsert(
                    "auth_refresh_tokens", refresh_row(new_hash, session["id"], token_hash, at)
                ),
                store.update(
                    "auth_sessions", session["id"], {"refreshed_at": at, "updated_at": at}
                ),
            ]
            return Plan(ops, lambda c: self.session_shape(c, session, new_token))

        try:
            shape: Row = await self.transact("auth.session_refreshed", "auth", plan)
        except _ReuseDetected as reuse:
            await self.revoke_sessions([reuse.session_id], "refresh_token_reuse")
            raise invalid(
                "Invalid Refresh Token: Already Used", "refresh_token_already_used"
            ) from None
        return shape

    async def revoke_sessions(self, session_ids: list[str], reason: str) -> None:
        if not session_ids:
            return
        at = now_iso()
        ops = [store.update("auth_sessions", sid, {"revoked_at": at}) for sid in session_ids]
        await self.transact(
            "auth.sessions_revoked", "auth", lambda conn: Plan(ops, lambda c: reason)
        )

    # -- PKCE ----------------------------------------------------------------------------------

    async def exchange_pkce(self, body: dict[str, Any]) -> Row:
        code, verifier = body.get("auth_code"), body.get("code_verifier")
        if not isinstance(code, str) or not isinstance(verifier, str) or not code or not verifier:
            raise invalid(
                "invalid request: both auth code and code verifier should be non-empty",
                "validation_failed",
            )
        code_hash = sha256_hex(code)

        def plan(conn: apsw.Connection) -> Plan:
            flow = store.fetch_row(
                conn, "SELECT * FROM auth_flow_states WHERE auth_code_hash = ?", (code_hash,)
            )
            if flow is None or flow["used_at"] or flow["expires_at"] < time.time():
                raise NotFound(
                    "invalid flow state, no valid flow state found", code="flow_state_not_found"
                )
            if not verify_pkce(flow["code_challenge"], flow["code_challenge_method"], verifier):
                raise invalid(
                    "code challenge does not match previously saved code verifier",
                    "bad_code_verifier",
                )
            user = store.user_by_id(conn, flow["user_id"])
            if user is None:
                raise NotFound("User not found", code="user_not_found")
            method = flow["authentication_method"].split("/")[-1] or "otp"
            used = store.update("auth_flow_states", flow["id"], {"used_at": now_iso()})
            return self.session_plan(start_session(user, method), [used])

        shape: Row = await self.transact("auth.session_created", "auth", plan)
        return shape

    # -- the caller's token --------------------------------------------------------------------

    def claims_of(self, bearer: str | None) -> dict[str, Any]:
        if not bearer:
            raise Unauthorized(
                "This endpoint requires a valid Bearer token", code="no_authorization"
            )
        try:
            return self.keys.verify(bearer)
        except Unauthorized as exc:
            raise Forbidden(
                f"invalid JWT: unable to parse or verify signature, {exc.message}",
                code="bad_jwt",
            ) from exc

    async def session_user(self, bearer: str | None) -> tuple[dict[str, Any], Row]:
        """The verified claims and user of a user token whose session is still alive."""
        claims = self.claims_of(bearer)
        user_id, session_id = claims.get("sub"), claims.get("session_id")
        if not isinstance(user_id, str):
            raise Forbidden("invalid claim: missing sub claim", code="bad_jwt")

        def load(conn: apsw.Connection) -> tuple[Row | None, Row | None]:
            session = store.session_by_id(conn, session_id) if isinstance(session_id, str) else None
            return store.user_by_id(conn, user_id), session

        user, session = await self.read(load)
        if user is None:
            raise Forbidden("User from sub claim in JWT does not exist", code="user_not_found")
        if session_id is not None and session is None:
            raise Forbidden(
                "Session from session_id claim in JWT does not exist", code="session_not_found"
            )
        return claims, user

    async def logout(self, bearer: str | None, scope: str) -> None:
        claims, user = await self.session_user(bearer)
        if scope not in ("global", "local", "others"):
            raise invalid("Unsupported logout scope", "validation_failed")
        current = claims.get("session_id")
        sessions = await self.read(lambda c: store.sessions_of(c, user["id"]))
        targets = [
            s["id"]
            for s in sessions
            if scope == "global"
            or (scope == "local" and s["id"] == current)
            or (scope == "others" and s["id"] != current)
        ]
        await self.revoke_sessions(targets, f"logout:{scope}")


class _ReuseDetected(Exception):
    def __init__(self, session_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id


def new_user_row(
    *,
    email: str | None,
    phone: str | None,
    at: str,
    user_metadata: dict[str, Any],
    anonymous: bool = False,
    provider: str | None = None,
) -> Row:
    chosen = provider or ("email" if email else "phone" if phone else None)
    app_metadata: dict[str, Any] = {"provider": chosen, "providers": [chosen]} if chosen else {}
    return {
        "id": new_id(),
        "aud": "authenticated",
        "role": "authenticated",
        "email": email,
        "phone": phone,
        "encrypted_password": None,
        "raw_app_meta_data": app_metadata,
        "raw_user_meta_data": user_metadata,
        "is_anonymous": 1 if anonymous else 0,
        "created_at": at,
        "updated_at": at,
    }


def identity_row(user: Row, at: str) -> Row:
    provider = "email" if user["email"] else "phone"
    data: dict[str, Any] = {
        "sub": user["id"],
        "email_verified": False,
        "phone_verified": False,
    }
    if user["email"]:
        data["email"] = user["email"]
    if user["phone"]:
        data["phone"] = user["phone"]
    return {
        "id": new_id(),
        "user_id": user["id"],
        "provider": provider,
        "provider_id": user["id"],
        "identity_data": data,
        "email": user["email"],
        "last_sign_in_at": at,
        "created_at": at,
        "updated_at": at,
    }


def pkce_challenge(body: dict[str, Any]) -> tuple[str, str] | None:
    challenge, method = body.get("code_challenge"), body.get("code_challenge_method")
    if not challenge:
        return None
    if not isinstance(challenge, str) or len(challenge) < 43 or len(challenge) > 128:
        raise invalid("code challenge has to be between 43 and 128 characters", "validation_failed")
    method = str(method or "plain").lower()
    if method not in ("s256", "plain"):
        raise invalid(f"code challenge method not supported: {method}", "validation_failed")
    return challenge, method


def verify_pkce(challenge: str, method: str, verifier: str) -> bool:
    if method == "s256":
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return expected == challenge
    return verifier == challenge
