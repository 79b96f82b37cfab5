"""One-time tokens for email links and codes (signup, invite, magic link, recovery, change).

As GoTrue does, a token is a 6-digit code mailed to the user and the SHA-256 of email + code,
which the link carries; only that hash is stored. The email goes to the node-local outbox.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlencode, urlsplit

import apsw

from performer_edge.auth import store
from performer_edge.auth.sessions import new_id, now_iso, sha256_hex
from performer_edge.auth.store import Op, Row

SUBJECTS = {
    "signup": "Confirm your signup",
    "invite": "You have been invited",
    "magiclink": "Your magic link",
    "recovery": "Reset your password",
    "email_change": "Confirm your new email address",
    "email_change_current": "Confirm your email change",
    "reauthentication": "Confirm reauthentication",
}


@dataclass(frozen=True)
class IssuedLink:
    ops: list[Op]
    otp: str
    token_hash: str
    action_link: str
    redirect_to: str


def token_hash_for(email: str, otp: str) -> str:
    return sha256_hex(email + otp)


class LinkIssuer:
    """Makes tokens, their links and their emails."""

    def __init__(
        self,
        public_url: str,
        site_url: str,
        expiry_s: int,
        redirect_patterns: tuple[str, ...] = (),
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.site_url = site_url
        self.expiry_s = expiry_s
        self.redirect_patterns = redirect_patterns

    def allowed_redirect(self, requested: str | None) -> str:
        """`requested` if it is on the site URL's origin or matches an allowed pattern; else the
        site URL, as GoTrue does, so an email link never hands tokens to another site."""
        if not requested:
            return self.site_url
        site = urlsplit(self.site_url)
        wanted = urlsplit(requested)
        if (wanted.scheme, wanted.netloc) == (site.scheme, site.netloc):
            return requested
        if any(fnmatchcase(requested, pattern) for pattern in self.redirect_patterns):
            return requested
        return self.site_url

    def make(
        self,
        conn: apsw.Connection,
        user: Row,
        token_type: str,
        email: str,
        redirect_to: str | None,
        challenge: tuple[str, str] | None = None,
        auth_method: str = "",
        *,
        send: bool = True,
    ) -> IssuedLink:
        """Replace the user's pending token of this type with a new one, and mail it."""
        otp = f"{secrets.randbelow(1_000_000):06d}"
        token_hash = token_hash_for(email, otp)
        at = now_iso()
        redirect = self.allowed_redirect(redirect_to)
        ops: list[Op] = [
            store.delete("auth_one_time_tokens", row["token_hash"])
            for row in store.fetch_rows(
                conn,
                "SELECT token_hash FROM auth_one_time_tokens WHERE user_id = ? AND token_type = ?",
                (user["id"], token_type),
            )
        ]
        flow_id = None
        if challenge is not None:
            flow_id = new_id()
            ops.append(
                store.upsert(
                    "auth_flow_states",
                    {
                        "id": flow_id,
                        "auth_code_hash": None,
                        "user_id": user["id"],
                        "code_challenge": challenge[0],
                        "code_challenge_method": challenge[1],
                        "authentication_method": auth_method or token_type,
                        "created_at": at,
                        "expires_at": int(time.time()) + self.expiry_s,
                        "used_at": None,
                    },
                )
            )
        ops.append(
            store.upsert(
                "auth_one_time_tokens",
                {
                    "token_hash": token_hash,
                    "user_id": user["id"],
                    "token_type": token_type,
                    "relates_to": flow_id or email,
                    "otp_hash": None,
                    "redirect_to": redirect,
                    "created_at": at,
                    "expires_at": int(time.time()) + self.expiry_s,
                    "consumed_at": None,
                },
            )
        )
        link_type = "email_change" if token_type.startswith("email_change") else token_type
        query = urlencode({"token": token_hash, "type": link_type, "redirect_to": redirect})
        action_link = f"{self.public_url}/auth/v1/verify?{query}"
        if send:
            enqueue_email(conn, email, token_type, otp, action_link)
        return IssuedLink(ops, otp, token_hash, action_link, redirect)

    def issue(
        self,
        conn: apsw.Connection,
        user: Row,
        token_type: str,
        email: str,
        redirect_to: str | None,
        challenge: tuple[str, str] | None = None,
        auth_method: str = "",
    ) -> list[Op]:
        return self.make(conn, user, token_type, email, redirect_to, challenge, auth_method).ops


def enqueue_email(
    conn: apsw.Connection, recipient: str, kind: str, otp: str, action_link: str | None
) -> None:
    """Write the message to the outbox (node-local, in the caller's transaction)."""
    subject = SUBJECTS.get(kind, "Your code")
    lines = [subject, "", f"Your code is {otp}."]
    if action_link and kind != "reauthentication":
        lines += ["", f"Or follow this link: {action_link}"]
    conn.execute(
        "INSERT INTO auth_outbox(created_at, recipient, kind, subject, body, action_link) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (now_iso(), recipient, kind, subject, "\n".join(lines) + "\n", action_link),
    )


def pending_token(conn: apsw.Connection, token_hash: str, types: tuple[str, ...]) -> Row | None:
    """A live (unexpired, unconsumed) token of one of `types`."""
    row = store.fetch_row(
        conn,
        "SELECT * FROM auth_one_time_tokens WHERE token_hash = ? AND consumed_at IS NULL",
        (token_hash,),
    )
    if row is None or row["token_type"] not in types or row["expires_at"] < time.time():
        return None
    return row
