"""MFA with TOTP (RFC 6238: SHA-1, 6 digits, 30 s): enroll, challenge, verify to aal2, unenroll.

TOTP secrets must be recoverable to check codes, so they are sealed with the data dir's auth
secret key (XSalsa20-Poly1305) before they enter an event; the plain secret is never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import struct
import time
from typing import Any
from urllib.parse import quote, urlencode

import apsw
import segno
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from performer_edge.auth import store
from performer_edge.auth.service import AuthService, Plan, invalid
from performer_edge.auth.sessions import (
    new_id,
    new_refresh_token,
    now_iso,
    refresh_row,
)
from performer_edge.auth.shapes import factor_json
from performer_edge.auth.store import Op, Row
from performer_edge.errors import Forbidden, IntegrityError, NotFound

STEP_S = 30
DIGITS = 6
CHALLENGE_TTL_S = 300
ALLOWED_DRIFT_STEPS = 1
MAX_LABEL_CHARS = 255


def totp_code(secret_b32: str, step: int) -> str:
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def matching_step(secret_b32: str, code: str, now: float | None = None) -> int | None:
    """The time step `code` belongs to, within the allowed drift; None if it matches none."""
    current = int((time.time() if now is None else now) // STEP_S)
    for step in range(current - ALLOWED_DRIFT_STEPS, current + ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp_code(secret_b32, step), code):
            return step
    return None


class SecretSealer:
    def __init__(self, key: bytes) -> None:
        self._box = SecretBox(key)

    def seal(self, text: str) -> str:
        return base64.b64encode(bytes(self._box.encrypt(text.encode()))).decode()

    def open(self, sealed: str) -> str:
        try:
            return bytes(self._box.decrypt(base64.b64decode(sealed))).decode()
        except (CryptoError, ValueError) as exc:
            raise IntegrityError("a TOTP secret cannot be unsealed with this node's key") from exc


class Mfa:
    def __init__(self, service: AuthService, sealer: SecretSealer) -> None:
        self.service = service
        self.sealer = sealer

    async def enroll(self, bearer: str | None, body: dict[str, Any]) -> Row:
        _, user = await self.service.session_user(bearer)
        factor_type = body.get("factor_type")
        if factor_type == "phone":
            raise invalid("MFA enroll is disabled for Phone", "mfa_phone_enroll_not_enabled")
        if factor_type != "totp":
            raise invalid("factor_type needs to be totp or phone", "validation_failed")
        name = body.get("friendly_name") or ""
        if not isinstance(name, str) or len(name) > MAX_LABEL_CHARS:
            raise invalid(
                f"friendly_name must be a string of at most {MAX_LABEL_CHARS} characters",
                "validation_failed",
            )
        issuer = body.get("issuer") or "Performer"
        # The issuer goes into the QR code, which holds a few kilobytes at most.
        if not isinstance(issuer, str) or len(issuer) > MAX_LABEL_CHARS:
            raise invalid(
                f"issuer must be a string of at most {MAX_LABEL_CHARS} characters",
                "validation_failed",
            )
        secret = base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")
        label = f"{issuer}:{user['email'] or user['phone'] or user['id']}"
        # A literal ":" separates issuer and account, as GoTrue writes it: authenticators (and
        # pyotp) read "%3A" as part of the account name.
        uri = f"otpauth://totp/{quote(label, safe=':@')}?" + urlencode(
            {
                "secret": secret,
                "issuer": issuer,
                "algorithm": "SHA1",
                "digits": DIGITS,
                "period": STEP_S,
            }
        )

        def plan(conn: apsw.Connection) -> Plan:
            factors = store.factors_of(conn, user["id"])
            if name and any(f["friendly_name"] == name for f in factors):
                raise invalid(
                    f'A factor with the friendly name "{name}" for this user already exists',
                    "mfa_factor_name_conflict",
                )
            at = now_iso()
            factor = {
                "id": new_id(),
                "user_id": user["id"],
                "friendly_name": name,
                "factor_type": "totp",
                "status": "unverified",
                "secret": self.sealer.seal(secret),
                "phone": None,
                "created_at": at,
                "updated_at": at,
                "last_challenged_at": None,
            }
            return Plan(
                [store.upsert("auth_mfa_factors", factor)],
                lambda c: {
                    "id": factor["id"],
                    "type": "totp",
                    "friendly_name": name,
                    "totp": {"qr_code": qr_svg(uri), "secret": secret, "uri": uri},
                },
            )

        answer: Row = await self.service.transact("auth.factor_enrolled", "auth", plan)
        return answer

    async def challenge(self, bearer: str | None, factor_id: str) -> Row:
        _, user = await self.service.session_user(bearer)

        def plan(conn: apsw.Connection) -> Plan:
            factor = self._factor(conn, user["id"], factor_id)
            at = now_iso()
            challenge = {
                "id": new_id(),
                "factor_id": factor["id"],
                "created_at": at,
                "expires_at": int(time.time()) + CHALLENGE_TTL_S,
                "verified_at": None,
                "last_code_step": None,
            }
            ops = [
                store.upsert("auth_mfa_challenges", challenge),
                store.update("auth_mfa_factors", factor["id"], {"last_challenged_at": at}),
            ]
            answer = {"id": challenge["id"], "type": "totp", "expires_at": challenge["expires_at"]}
            return Plan(ops, lambda c: answer)

        result: Row = await self.service.transact("auth.factor_challenged", "auth", plan)
        return result

    async def verify(self, bearer: str | None, factor_id: str, body: dict[str, Any]) -> Row:
        claims, user = await self.service.session_user(bearer)
        challenge_id, code = body.get("challenge_id"), body.get("code")
        if not isinstance(challenge_id, str) or not isinstance(code, str):
            raise invalid("challenge_id and code are required", "validation_failed")
        session_id = claims.get("session_id")

        def plan(conn: apsw.Connection) -> Plan:
            factor = self._factor(conn, user["id"], factor_id)
            challenge = store.fetch_row(
                conn,
                "SELECT * FROM auth_mfa_challenges WHERE id = ? AND factor_id = ?",
                (challenge_id, factor["id"]),
            )
            if challenge is None or challenge["verified_at"]:
                raise NotFound("MFA challenge not found", code="mfa_challenge_not_found")
            if challenge["expires_at"] < time.time():
                raise invalid(
                    f"MFA challenge {challenge_id} has expired, verify against another challenge "
                    "or create a new challenge.",
                    "mfa_challenge_expired",
                )
            step = matching_step(self.sealer.open(factor["secret"]), code.strip())
            if step is None:
                raise invalid("Invalid TOTP code entered", "mfa_verification_failed")
            session = store.session_by_id(conn, session_id) if isinstance(session_id, str) else None
            if session is None:
                raise Forbidden(
                    "Session from session_id claim in JWT does not exist",
                    code="session_not_found",
                )
            at = now_iso()
            amr = [*session["amr"], {"method": "totp", "timestamp": int(time.time())}]
            upgraded = {**session, "aal": "aal2", "amr": amr, "factor_id": factor["id"]}
            token, token_hash = new_refresh_token()
            ops: list[Op] = [
                store.update(
                    "auth_mfa_challenges",
                    challenge["id"],
                    {"verified_at": at, "last_code_step": step},
                ),
                store.update(
                    "auth_mfa_factors", factor["id"], {"status": "verified", "updated_at": at}
                ),
                store.update(
                    "auth_sessions",
                    session["id"],
                    {"aal": "aal2", "amr": amr, "factor_id": factor["id"], "updated_at": at},
                ),
                store.upsert(
                    "auth_refresh_tokens", refresh_row(token_hash, session["id"], None, at)
                ),
            ]
            return Plan(ops, lambda c: self.service.session_shape(c, upgraded, token))

        result: Row = await self.service.transact("auth.factor_verified", "auth", plan)
        return result

    async def unenroll(self, bearer: str | None, factor_id: str) -> Row:
        claims, user = await self.service.session_user(bearer)

        def plan(conn: apsw.Connection) -> Plan:
            factor = self._factor(conn, user["id"], factor_id)
            if factor["status"] == "verified" and claims.get("aal") != "aal2":
                raise Forbidden(
                    "AAL2 required to unenroll verified factor", code="insufficient_aal"
                )
            return Plan(delete_factor_ops(conn, factor["id"]), lambda c: {"id": factor["id"]})

        result: Row = await self.service.transact("auth.factor_deleted", "auth", plan)
        return result

    def _factor(self, conn: apsw.Connection, user_id: str, factor_id: str) -> Row:
        factor = store.fetch_row(
            conn,
            "SELECT * FROM auth_mfa_factors WHERE id = ? AND user_id = ?",
            (factor_id, user_id),
        )
        if factor is None:
            raise NotFound("Factor not found", code="mfa_factor_not_found")
        return factor


def delete_factor_ops(conn: apsw.Connection, factor_id: str) -> list[Op]:
    challenges = store.fetch_rows(
        conn, "SELECT id FROM auth_mfa_challenges WHERE factor_id = ?", (factor_id,)
    )
    return [
        *(store.delete("auth_mfa_challenges", c["id"]) for c in challenges),
        store.delete("auth_mfa_factors", factor_id),
    ]


def qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode()


def admin_factors(conn: apsw.Connection, user_id: str) -> list[Row]:
    return [factor_json(f) for f in store.factors_of(conn, user_id)]
