"""Helpers for the auth tests: a running node with its keys, its outbox, and forged tokens.

Not a test module. Imported by the `test_client_*`, `test_auth_*` and `test_js_*` modules.
Nodes are real `performer serve` subprocesses on 127.0.0.1 (started with the root conftest's
`start_serving`); emails are read back through the admin outbox API.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from conftest import RunningNode, start_serving
from supabase_auth.errors import AuthApiError

from performer_edge.core.tokens import TokenKeys, generate_es256_key, private_key_from_pem

API_VERSION = "2024-01-01"
# Every node for these tests gets limits far above what a test run sends, except where a test
# starts its own node to check the limits themselves.
NO_RATE_LIMITS = (
    "--auth-rate-limit-ip",
    "1000000",
    "--auth-rate-limit-email",
    "1000000",
    "--auth-rate-limit-refresh",
    "1000000",
)
CODE_PATTERN = re.compile(r"Your code is (\d{6})\.")
PASSWORD = "correct-horse-1"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def unique_phone() -> str:
    return "1555" + str(uuid.uuid4().int)[:7]


@dataclass
class AuthNode:
    """A running node and what tests need from it: URL, keys, data dir, outbox."""

    running: RunningNode
    data: Path

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth/v1"

    @property
    def anon_key(self) -> str:
        return self.running.key("anon")

    @property
    def service_key(self) -> str:
        return self.running.key("service_role")

    def headers(self, bearer: str | None = None) -> dict[str, str]:
        """What a client sends: the anon key, and a user (or other) token when given."""
        headers = {"apikey": self.anon_key}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        return headers

    def admin_headers(self) -> dict[str, str]:
        return {"apikey": self.service_key, "Authorization": f"Bearer {self.service_key}"}

    def outbox(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.auth_url}/admin/outbox", headers=self.admin_headers(), timeout=30
        )
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def mail_to(self, recipient: str, kind: str | None = None) -> dict[str, Any]:
        """The newest message to `recipient` (of `kind`), waiting for it with a deadline."""
        deadline = time.monotonic() + 15
        while True:
            for message in self.outbox():
                if message["recipient"] == recipient.lower() and kind in (None, message["kind"]):
                    return message
            assert time.monotonic() < deadline, f"no {kind or ''} mail to {recipient}"
            time.sleep(0.05)

    async def mail_to_async(self, recipient: str, kind: str | None = None) -> dict[str, Any]:
        """`mail_to` for async tests: never blocks their event loop."""
        deadline = time.monotonic() + 15
        async with httpx.AsyncClient(timeout=30) as http:
            while True:
                response = await http.get(
                    f"{self.auth_url}/admin/outbox", headers=self.admin_headers()
                )
                assert response.status_code == 200, response.text
                for message in response.json()["messages"]:
                    if message["recipient"] == recipient.lower() and kind in (
                        None,
                        message["kind"],
                    ):
                        found: dict[str, Any] = message
                        return found
                assert time.monotonic() < deadline, f"no {kind or ''} mail to {recipient}"
                await asyncio.sleep(0.05)

    def mails_to(self, recipient: str) -> list[dict[str, Any]]:
        return [m for m in self.outbox() if m["recipient"] == recipient.lower()]

    def local_link(self, action_link: str) -> str:
        """An email link pointed at the address the node printed (links name the same address
        since the node learns its port at start; test_client_links checks that)."""
        parts = urlsplit(action_link)
        return f"{self.url}{parts.path}?{parts.query}"

    def signing_keys(self) -> TokenKeys:
        """This node's own JWT key, read from its data dir: tokens it would itself sign."""
        pem = (self.data / "keys" / "jwt-es256.pem").read_bytes()
        return TokenKeys(private_key_from_pem(pem))

    def stop(self) -> None:
        self.running.stop()
        if self.running.proc.stdout is not None:
            self.running.proc.stdout.close()


def start_auth_node(parent: Path, *extra: str) -> AuthNode:
    data = parent / "data"
    return AuthNode(start_serving(data, *extra), data)


@contextmanager
def running_node(parent: Path, *extra: str) -> Iterator[AuthNode]:
    node = start_auth_node(parent, *extra)
    try:
        yield node
    finally:
        node.stop()


def code_of(message: dict[str, Any]) -> str:
    found = CODE_PATTERN.search(message["body"])
    assert found, message["body"]
    return found.group(1)


def foreign_keys() -> TokenKeys:
    """A signing key no node trusts: what an attacker signs with."""
    return TokenKeys(generate_es256_key())


def user_claims(user_id: str, session_id: str | None = None, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + 3600,
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "is_anonymous": False,
    }
    if session_id is not None:
        claims["session_id"] = session_id
    claims.update(extra)
    return claims


def follow_verify_link(node: AuthNode, action_link: str) -> httpx.Response:
    """GET an email link the way a browser starts to: one request, redirect not followed."""
    response = httpx.get(node.local_link(action_link), follow_redirects=False, timeout=30)
    assert response.status_code in (302, 303), response.text
    return response


async def follow_verify_link_async(node: AuthNode, action_link: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(node.local_link(action_link), follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    return response


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def fragment_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


def assert_gotrue_error(
    response: httpx.Response, status: int, code: str, message: str | None = None
) -> dict[str, Any]:
    """A GoTrue error as both clients parse it (supabase-wire.md §2.5)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("x-supabase-api-version") == API_VERSION
    assert response.headers.get("content-type", "").startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    if message is not None:
        assert body["message"] == message, body
        assert body["msg"] == message, body
    return body


def check_api_error(
    error: BaseException, status: int, code: str, message: str | None = None
) -> None:
    """The error a client raised is GoTrue's `status`/`code` (and exact `message`)."""
    assert isinstance(error, AuthApiError), repr(error)
    assert (error.status, error.code) == (status, code), error.to_dict()
    if message is not None:
        assert error.message == message, error.to_dict()
