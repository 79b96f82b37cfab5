"""SQL and JSON junk in every field of every auth body: always a 4xx JSON error, never a 5xx,
and never a session for someone who should not have one.

Hypothesis drives an in-process node (the app served by aiohttp on 127.0.0.1 from a background
event loop) so that hundreds of requests stay fast; each endpoint gets a bounded example count.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from auth_support import API_VERSION, PASSWORD, unique_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from performer_edge.config import Settings
from performer_edge.http.app import make_app
from performer_edge.node import Node

pytestmark = pytest.mark.network

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ATTACK_STRINGS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "admin'--",
    '"; DROP TABLE auth_users; --',
    "1; SELECT * FROM auth_users",
    "a@example.com' OR 1=1 --",
    "%27%20OR%201%3D1",
    "\x00",
    "\u202e\u0000\ud7ff",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "user@example.com\r\nBcc: x@example.com",
    "null",
    "NaN",
    "",
    " ",
    "😀" * 20,
]
OPERATOR_OBJECTS: list[Any] = [
    {"$ne": None},
    {"$gt": ""},
    {"$where": "sleep(1000)"},
    {"$regex": ".*"},
    {"__proto__": {"role": "service_role"}},
    {"constructor": {"prototype": {"admin": True}}},
]
HUGE = ["A" * 100_000, "a@" + "b" * 100_000 + ".com", "9" * 5_000]

scalars = st.one_of(
    st.sampled_from(ATTACK_STRINGS),
    st.sampled_from(OPERATOR_OBJECTS),
    st.sampled_from(HUGE),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    fields: tuple[str, ...]
    query: tuple[tuple[str, str], ...] = ()
    auth: str = "anon"  # "anon", "user" or "admin"
    gives_session: bool = False  # the endpoint's success is a session


SECURITY = "gotrue_meta_security"
PKCE = ("code_challenge", "code_challenge_method")
USER_FIELDS = (
    "email",
    "password",
    "phone",
    "email_confirm",
    "phone_confirm",
    "user_metadata",
    "app_metadata",
    "role",
    "ban_duration",
    "password_hash",
    "id",
)
ENDPOINTS = [
    Endpoint("signup", "POST", "/signup", ("email", "password", "phone", "data", SECURITY, *PKCE)),
    Endpoint(
        "token password",
        "POST",
        "/token",
        ("email", "phone", "password", "data", SECURITY),
        (("grant_type", "password"),),
        gives_session=True,
    ),
    Endpoint(
        "token refresh",
        "POST",
        "/token",
        ("refresh_token",),
        (("grant_type", "refresh_token"),),
        gives_session=True,
    ),
    Endpoint(
        "token pkce",
        "POST",
        "/token",
        ("auth_code", "code_verifier"),
        (("grant_type", "pkce"),),
        gives_session=True,
    ),
    Endpoint(
        "verify",
        "POST",
        "/verify",
        ("type", "token", "email", "phone", "token_hash", "options", SECURITY),
        gives_session=True,
    ),
    Endpoint("otp", "POST", "/otp", ("email", "phone", "data", "create_user", "channel", *PKCE)),
    Endpoint("recover", "POST", "/recover", ("email", SECURITY, *PKCE)),
    Endpoint("resend", "POST", "/resend", ("type", "email", "phone", SECURITY)),
    Endpoint("sso", "POST", "/sso", ("domain", "provider_id", "redirect_to", *PKCE)),
    Endpoint(
        "update user",
        "PUT",
        "/user",
        ("email", "phone", "password", "data", "nonce", "current_password", *PKCE),
        auth="user",
    ),
    Endpoint("enroll", "POST", "/factors", ("factor_type", "friendly_name", "issuer", "phone"),
             auth="user"),
    Endpoint(
        "factor verify",
        "POST",
        "/factors/00000000-0000-4000-8000-000000000000/verify",
        ("factor_id", "challenge_id", "code"),
        auth="user",
    ),
    Endpoint("admin create", "POST", "/admin/users", USER_FIELDS, auth="admin"),
    Endpoint("admin update", "PUT", "/admin/users/{victim}", USER_FIELDS, auth="admin"),
    Endpoint("admin delete", "DELETE", "/admin/users/{victim}", ("should_soft_delete",),
             auth="admin"),
    Endpoint(
        "generate link",
        "POST",
        "/admin/generate_link",
        ("type", "email", "password", "new_email", "data"),
        auth="admin",
    ),
    Endpoint("invite", "POST", "/invite", ("email", "data"), auth="admin"),
]  # fmt: skip

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InProcessNode:
    """A node and its app served from an event loop in a background thread."""

    def __init__(self, data: Path) -> None:
        settings_ = Settings(
            data=data,
            port=0,
            auth_rate_limit_ip=10**9,
            auth_rate_limit_email=10**9,
            auth_rate_limit_refresh=10**9,
        )
        self.node = Node.open(settings_)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="junk-server-loop")
        self.thread.start()
        self.server = self._call(self._start())
        self._call(self._start_readers())
        self.url = str(self.server.make_url("/auth/v1"))
        self.http = httpx.Client(timeout=60)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    async def _start(self) -> TestServer:
        self.node.bus.attach(asyncio.get_running_loop())
        server = TestServer(make_app(self.node), host="127.0.0.1", port=0)
        await server.start_server()
        return server

    async def _start_readers(self) -> None:
        # The reader pool starts its threads on first use. Start them all now, with the module's
        # node, so the conftest's leaked-thread check does not pin them on the first test.
        await asyncio.gather(*(self.node.db.read(lambda _: time.sleep(0.05)) for _ in range(8)))

    def close(self) -> None:
        self.http.close()
        self._call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()
        self.node.close()

    @property
    def anon_key(self) -> str:
        return self.node.api_keys.anon_key

    @property
    def service_key(self) -> str:
        return self.node.api_keys.service_role_key

    def request(
        self,
        method: str,
        path: str,
        *,
        bearer: str | None = None,
        query: dict[str, str] | None = None,
        content: bytes = b"",
    ) -> httpx.Response:
        headers = {"apikey": self.anon_key, "Content-Type": "application/json;charset=UTF-8"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return self.http.request(
            method, f"{self.url}{path}", params=query, content=content, headers=headers
        )


@dataclass
class Cast:
    """The users the junk is thrown at."""

    target_email: str
    target_id: str
    user_token: str
    victim_id: str


@pytest.fixture(scope="module")
def junk_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessNode]:
    started = InProcessNode(tmp_path_factory.mktemp("junk") / "data")
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def cast(junk_node: InProcessNode) -> Cast:
    def signed_up(email: str) -> dict[str, Any]:
        body = json.dumps({"email": email, "password": PASSWORD}).encode()
        response = junk_node.request("POST", "/signup", content=body)
        assert response.status_code == 200, response.text
        session: dict[str, Any] = response.json()
        return session

    target_email = unique_email("target")
    target = signed_up(target_email)
    fuzzer = signed_up(unique_email("fuzzer"))
    victim = signed_up(unique_email("victim"))
    return Cast(target_email, target["user"]["id"], fuzzer["access_token"], victim["user"]["id"])


def plausible(cast: Cast, endpoint: Endpoint) -> dict[str, list[Any]]:
    """Well-formed values mixed into the junk, so that checks past the parser run too.

    Sign-in endpoints only ever see the target's address with wrong passwords: a sign-up of
    `fresh@example.com` or of the phone number may have made those real accounts.
    """
    fresh = [] if endpoint.gives_session else ["fresh@example.com"]
    phones = ["+1555"] if endpoint.gives_session else ["+15555550123"]
    return {
        "email": [cast.target_email, *fresh],
        "password": ["short", "long-enough-password"],
        "type": ["signup", "email", "magiclink", "recovery", "invite", "email_change", "sms"],
        "token": ["123456"],
        "factor_type": ["totp", "phone"],
        "code_challenge": ["c" * 43],
        "code_challenge_method": ["s256", "plain"],
        "ban_duration": ["24h", "none", "1h30m"],
        "phone": phones,
    }


def bodies(endpoint: Endpoint, cast: Cast) -> st.SearchStrategy[dict[str, Any]]:
    choices = plausible(cast, endpoint)
    return st.fixed_dictionaries(
        {},
        optional={
            field: junk | st.sampled_from(choices[field]) if field in choices else junk
            for field in endpoint.fields
        },
    )


def legit_signup(body: dict[str, Any]) -> bool:
    """A sign-up that may rightly get a session: well-formed, or anonymous."""
    email, phone, password = body.get("email"), body.get("phone"), body.get("password")
    if email in (None, "") and phone in (None, ""):
        return True
    return isinstance(password, str) and len(password) >= 6 and isinstance(email or phone, str)


def send(
    junk_node: InProcessNode, endpoint: Endpoint, cast: Cast, content: bytes
) -> httpx.Response:
    bearer = {"anon": None, "user": cast.user_token, "admin": junk_node.service_key}[endpoint.auth]
    return junk_node.request(
        endpoint.method,
        endpoint.path.format(victim=cast.victim_id),
        bearer=bearer,
        query=dict(endpoint.query),
        content=content,
    )


def check_answer(response: httpx.Response, what: str) -> dict[str, Any]:
    shown = what if len(what) < 400 else what[:400] + "..."
    assert response.status_code < 500, (shown, response.status_code, response.text[:400])
    assert response.headers.get("content-type", "").startswith("application/json"), shown
    answer: Any = response.json() if response.content else {}
    if response.status_code >= 400:
        assert response.headers.get("x-supabase-api-version") == API_VERSION, shown
        assert isinstance(answer, dict) and isinstance(answer.get("code"), str), (shown, answer)
        assert isinstance(answer.get("msg"), str), (shown, answer)
    return answer if isinstance(answer, dict) else {"items": answer}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_junk_fields_get_a_4xx_and_no_session(
    junk_node: InProcessNode, cast: Cast, endpoint: Endpoint
) -> None:
    @FUZZ
    @given(body=bodies(endpoint, cast))
    def run(body: dict[str, Any]) -> None:
        content = json.dumps(body).encode()
        response = send(junk_node, endpoint, cast, content)
        answer = check_answer(response, content.decode())
        if endpoint.gives_session:
            assert response.status_code >= 400 and "access_token" not in answer, body
        elif endpoint.name == "signup" and "access_token" in answer:
            assert legit_signup(body), body
        else:
            assert "access_token" not in answer, body

    run()


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(
        [
            b"not json",
            b"{",
            b"[]",
            b"null",
            b"123",
            b'"a string"',
            b"\xff\xfe\x00",
            b"{'email': 'a@example.com'}",
            b'{"email": NaN, "password": Infinity}',
            b'{"email": "a@example.com", "email": {"$ne": null}}',
            b'{"data": 1e999999}',
        ]
    ),
    st.integers(min_value=1, max_value=5_000).map(lambda n: nested(n).encode()),
    st.integers(min_value=60, max_value=3_000).map(
        lambda n: f'{{"data": {{"a": {nested(n)}}}}}'.encode()
    ),
    st.integers(min_value=60, max_value=3_000).map(
        lambda n: f'{{"user_metadata": {{"a": {nested(n)}}}}}'.encode()
    ),
)


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), content=raw_bodies)
def test_junk_bodies_get_a_4xx_and_no_session(
    junk_node: InProcessNode, cast: Cast, endpoint: Endpoint, content: bytes
) -> None:
    response = send(junk_node, endpoint, cast, content)
    answer = check_answer(response, f"{endpoint.name}: {content[:300]!r}")
    if "access_token" in answer:
        assert endpoint.name == "signup", content[:300]
        # Only an anonymous sign-up: an empty body reads as `{}`, as on GET and logout.
        body = json.loads(content.strip() or b"{}")
        assert isinstance(body, dict) and legit_signup(body), content[:300]


# Query values stay under 2,000 characters: longer request lines are refused by the HTTP parser
# itself (aiohttp's 8 KiB limit, a plain-text 400), before any auth code runs.
query_junk = junk.map(lambda value: str(value)[:2_000])


@FUZZ
@given(
    grant=query_junk | st.sampled_from(["password", "refresh_token", "pkce", "id_token"]),
    scope=query_junk | st.sampled_from(["global", "local", "others"]),
    page=query_junk,
)
def test_junk_in_query_strings(
    junk_node: InProcessNode, cast: Cast, grant: str, scope: str, page: str
) -> None:
    token = junk_node.request("POST", "/token", query={"grant_type": grant}, content=b"{}")
    assert "access_token" not in check_answer(token, grant)
    listing = junk_node.http.get(
        f"{junk_node.url}/admin/users",
        params={"page": page, "per_page": page},
        headers={
            "apikey": junk_node.anon_key,
            "Authorization": f"Bearer {junk_node.service_key}",
        },
    )
    check_answer(listing, page)
    link = junk_node.http.get(
        f"{junk_node.url}/verify",
        params={"token": page, "type": grant, "redirect_to": scope},
        follow_redirects=False,
    )
    assert link.status_code < 500 and "access_token" not in link.headers.get("location", "")
    admin_get = junk_node.request(
        "GET", f"/admin/users/{uuid.uuid4()}", bearer=junk_node.service_key
    )
    check_answer(admin_get, "unknown user")


def test_the_target_survives_the_junk(junk_node: InProcessNode, cast: Cast) -> None:
    """Runs last: nothing thrown at the target changed who it is or what it may do."""
    body = json.dumps({"email": cast.target_email, "password": PASSWORD}).encode()
    response = junk_node.request("POST", "/token", query={"grant_type": "password"}, content=body)
    assert response.status_code == 200, response.text
    user = response.json()["user"]
    assert user["id"] == cast.target_id and user["role"] == "authenticated"
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
