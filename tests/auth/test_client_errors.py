"""The failure table of supabase-wire.md §2.5: as the sync client raises it, and on the wire.

Each case asserts the client's error class, HTTP status, `code` and message. The wire checks
(raw httpx) assert what makes the clients read the code at all: `X-Supabase-Api-Version:
2024-01-01`, a JSON body with a string `code`, and never a 5xx (supabase-js retries those).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from auth_support import (
    API_VERSION,
    NO_RATE_LIMITS,
    PASSWORD,
    AuthNode,
    assert_gotrue_error,
    check_api_error,
    foreign_keys,
    running_node,
    unique_email,
    user_claims,
)
from supabase import Client, ClientOptions, create_client
from supabase_auth import SyncGoTrueAdminAPI
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

pytestmark = pytest.mark.network

BAD_JWT_PREFIX = "invalid JWT: unable to parse or verify signature, "


@pytest.fixture(scope="module")
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    # No reuse grace, so "Already Used" is what a second use of a refresh token gets.
    with running_node(
        tmp_path_factory.mktemp("errors"),
        "--auth-refresh-reuse-interval",
        "0",
        *NO_RATE_LIMITS,
    ) as started:
        yield started


@pytest.fixture(scope="module")
def closed_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    with running_node(
        tmp_path_factory.mktemp("closed"), "--auth-signup-enabled", "false", *NO_RATE_LIMITS
    ) as started:
        yield started


def client_of(node: AuthNode, key: str | None = None) -> Client:
    options = ClientOptions(flow_type="implicit")
    return create_client(node.url, key or node.anon_key, options)


def signed_up(node: AuthNode) -> tuple[Client, str]:
    email = unique_email("err")
    client = client_of(node)
    client.auth.sign_up({"email": email, "password": PASSWORD})
    return client, email


def access_token_of(client: Client) -> str:
    session = client.auth.get_session()
    assert session is not None
    return session.access_token


def test_bad_credentials(auth_node: AuthNode) -> None:
    _, email = signed_up(auth_node)
    for attempt in (
        {"email": email, "password": "not-the-password"},
        {"email": unique_email("nobody"), "password": PASSWORD},
    ):
        with pytest.raises(AuthApiError) as caught:
            client_of(auth_node).auth.sign_in_with_password(attempt)  # type: ignore[arg-type]
        check_api_error(caught.value, 400, "invalid_credentials", "Invalid login credentials")


def test_unknown_refresh_token(auth_node: AuthNode) -> None:
    with pytest.raises(AuthApiError) as caught:
        client_of(auth_node).auth.refresh_session("no-such-refresh-token")
    check_api_error(
        caught.value,
        400,
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
    )


def test_used_refresh_token(auth_node: AuthNode) -> None:
    client, _ = signed_up(auth_node)
    session = client.auth.get_session()
    assert session is not None
    client.auth.refresh_session()
    with pytest.raises(AuthApiError) as caught:
        client_of(auth_node).auth.refresh_session(session.refresh_token)
    check_api_error(
        caught.value, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"
    )


def test_signup_disabled(closed_node: AuthNode) -> None:
    client = client_of(closed_node)
    with pytest.raises(AuthApiError) as caught:
        client.auth.sign_up({"email": unique_email("closed"), "password": PASSWORD})
    check_api_error(caught.value, 422, "signup_disabled", "Signups not allowed for this instance")
    with pytest.raises(AuthApiError) as anonymous:
        client.auth.sign_in_anonymously()
    check_api_error(anonymous.value, 422, "signup_disabled")
    with pytest.raises(AuthApiError) as otp:
        client.auth.sign_in_with_otp({"email": unique_email("closed")})
    check_api_error(otp.value, 422, "otp_disabled")

    # Users the admin makes still sign in.
    email = unique_email("made")
    admin = client_of(closed_node, closed_node.service_key).auth.admin
    admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})
    assert client.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
    settings = httpx.get(
        f"{closed_node.auth_url}/settings", headers=closed_node.headers(), timeout=30
    )
    assert settings.json()["disable_signup"] is True


def test_user_already_exists(auth_node: AuthNode) -> None:
    _, email = signed_up(auth_node)
    with pytest.raises(AuthApiError) as caught:
        client_of(auth_node).auth.sign_up({"email": email, "password": PASSWORD})
    check_api_error(caught.value, 422, "user_already_exists", "User already registered")


def test_weak_password_gives_its_reasons(auth_node: AuthNode) -> None:
    with pytest.raises(AuthWeakPasswordError) as caught:
        client_of(auth_node).auth.sign_up({"email": unique_email("weak"), "password": "12345"})
    error = caught.value
    assert (error.status, error.code) == (422, "weak_password")
    assert error.message == "Password should be at least 6 characters."
    assert error.reasons == ["length"]

    client, _ = signed_up(auth_node)
    with pytest.raises(AuthWeakPasswordError) as update:
        client.auth.update_user({"password": "abc"})
    assert update.value.reasons == ["length"]


def test_bad_otp(auth_node: AuthNode) -> None:
    _, email = signed_up(auth_node)
    client = client_of(auth_node)
    client.auth.sign_in_with_otp({"email": email})
    for kind in ("email", "magiclink", "signup", "recovery", "invite", "email_change"):
        with pytest.raises(AuthApiError) as caught:
            client.auth.verify_otp({"email": email, "token": "000000", "type": kind})  # type: ignore[typeddict-item]
        check_api_error(caught.value, 403, "otp_expired", "Token has expired or is invalid")
    with pytest.raises(AuthApiError) as by_hash:
        client.auth.verify_otp({"token_hash": "f" * 64, "type": "email"})
    check_api_error(by_hash.value, 403, "otp_expired", "Token has expired or is invalid")
    with pytest.raises(AuthApiError) as sms:
        client.auth.verify_otp({"phone": "+15555550100", "token": "123456", "type": "sms"})
    check_api_error(sms.value, 403, "otp_expired", "Token has expired or is invalid")


def test_bad_phone(auth_node: AuthNode) -> None:
    client = client_of(auth_node)
    calls = (
        lambda: client.auth.sign_up({"phone": "12", "password": PASSWORD}),
        lambda: client.auth.sign_in_with_password({"phone": "not-a-phone", "password": PASSWORD}),
        lambda: client.auth.sign_in_with_otp({"phone": "+0123"}),
    )
    for call in calls:
        with pytest.raises(AuthApiError) as caught:
            call()
        check_api_error(
            caught.value, 400, "validation_failed", "Invalid phone number format (E.164 required)"
        )


def test_no_bearer_token(auth_node: AuthNode) -> None:
    # A bare admin client sends only the apikey: no Authorization header at all.
    bare = SyncGoTrueAdminAPI(url=auth_node.auth_url, headers={"apikey": auth_node.anon_key})
    with pytest.raises(AuthApiError) as caught:
        bare.list_users()
    check_api_error(
        caught.value, 401, "no_authorization", "This endpoint requires a valid Bearer token"
    )
    response = httpx.get(f"{auth_node.auth_url}/user", headers=auth_node.headers(), timeout=30)
    assert_gotrue_error(
        response, 401, "no_authorization", "This endpoint requires a valid Bearer token"
    )


def test_bad_or_expired_jwt(auth_node: AuthNode) -> None:
    client, _ = signed_up(auth_node)
    with pytest.raises(AuthApiError) as garbage:
        client.auth.get_user("not.a.jwt")
    check_api_error(garbage.value, 403, "bad_jwt")
    assert garbage.value.message.startswith(BAD_JWT_PREFIX)

    claims = user_claims("00000000-0000-4000-8000-000000000000")
    with pytest.raises(AuthApiError) as forged:
        client.auth.get_user(foreign_keys().sign(claims))
    check_api_error(forged.value, 403, "bad_jwt")
    assert forged.value.message.startswith(BAD_JWT_PREFIX)

    session = client.auth.get_session()
    assert session is not None
    real = user_claims(session.user.id)
    expired = auth_node.signing_keys().sign(
        {**real, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 60}
    )
    with pytest.raises(AuthApiError) as stale:
        client.auth.get_user(expired)
    check_api_error(stale.value, 403, "bad_jwt")
    assert stale.value.message.startswith(BAD_JWT_PREFIX)

    # Signing out with a garbage token is still a JSON 4xx the client can read.
    with pytest.raises(AuthApiError) as logout:
        client.auth.admin.sign_out("garbage")
    check_api_error(logout.value, 403, "bad_jwt")


def test_session_gone_after_sign_out(auth_node: AuthNode) -> None:
    client, _ = signed_up(auth_node)
    token = access_token_of(client)
    client.auth.sign_out()
    with pytest.raises(AuthApiError) as caught:
        client.auth.get_user(token)
    check_api_error(
        caught.value,
        403,
        "session_not_found",
        "Session from session_id claim in JWT does not exist",
    )
    with pytest.raises(AuthApiError) as update:
        client.auth.admin.sign_out(token)
    check_api_error(update.value, 403, "session_not_found")


def test_not_admin(auth_node: AuthNode) -> None:
    anon_admin = client_of(auth_node).auth.admin
    with pytest.raises(AuthApiError) as caught:
        anon_admin.list_users()
    check_api_error(caught.value, 403, "not_admin", "User not allowed")

    client, _ = signed_up(auth_node)
    user_admin = SyncGoTrueAdminAPI(
        url=auth_node.auth_url,
        headers={
            "apikey": auth_node.anon_key,
            "Authorization": f"Bearer {access_token_of(client)}",
        },
    )
    with pytest.raises(AuthApiError) as as_user:
        user_admin.create_user({"email": unique_email("sneaky"), "password": PASSWORD})
    check_api_error(as_user.value, 403, "not_admin", "User not allowed")


def test_sso_is_disabled(auth_node: AuthNode) -> None:
    for credentials in ({"domain": "example.com"}, {"provider_id": "00000000-0000-0000-0000-0"}):
        with pytest.raises(AuthApiError) as caught:
            client_of(auth_node).auth.sign_in_with_sso(credentials)  # type: ignore[arg-type]
        check_api_error(caught.value, 404, "saml_provider_disabled", "SAML 2.0 is disabled")


def test_email_not_confirmed(auth_node: AuthNode) -> None:
    email = unique_email("unconfirmed")
    client_of(auth_node, auth_node.service_key).auth.admin.create_user(
        {"email": email, "password": PASSWORD}
    )
    with pytest.raises(AuthApiError) as caught:
        client_of(auth_node).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    check_api_error(caught.value, 400, "email_not_confirmed", "Email not confirmed")


@dataclass(frozen=True)
class Failing:
    """One deterministic failure on the wire: the request and the GoTrue answer it must get."""

    name: str
    method: str
    path: str
    status: int
    code: str
    body: Any = None
    query: dict[str, str] | None = None
    bearer: str | None = None  # "anon", "garbage", or None
    raw: bytes | None = None


FAILING = [
    Failing("signup bad email", "POST", "/signup", 400, "validation_failed",
            {"email": "nope", "password": PASSWORD}),
    Failing("signup weak password", "POST", "/signup", 422, "weak_password",
            {"email": "weak@example.com", "password": "1"}),
    Failing("signup non-JSON body", "POST", "/signup", 400, "bad_json", raw=b"email=a"),
    Failing("signup JSON array", "POST", "/signup", 400, "bad_json", raw=b"[1,2]"),
    Failing("token unknown grant", "POST", "/token", 400, "validation_failed", {},
            {"grant_type": "client_credentials"}),
    Failing("token no grant", "POST", "/token", 400, "validation_failed", {}),
    Failing("token bad credentials", "POST", "/token", 400, "invalid_credentials",
            {"email": "nobody@example.com", "password": PASSWORD}, {"grant_type": "password"}),
    Failing("token no login", "POST", "/token", 400, "validation_failed",
            {"password": PASSWORD}, {"grant_type": "password"}),
    Failing("refresh unknown", "POST", "/token", 400, "refresh_token_not_found",
            {"refresh_token": "x"}, {"grant_type": "refresh_token"}),
    Failing("refresh missing", "POST", "/token", 400, "refresh_token_not_found", {},
            {"grant_type": "refresh_token"}),
    Failing("pkce missing", "POST", "/token", 400, "validation_failed", {},
            {"grant_type": "pkce"}),
    Failing("pkce unknown code", "POST", "/token", 404, "flow_state_not_found",
            {"auth_code": "nope", "code_verifier": "v" * 43}, {"grant_type": "pkce"}),
    Failing("user no bearer", "GET", "/user", 401, "no_authorization"),
    Failing("user garbage bearer", "GET", "/user", 403, "bad_jwt", bearer="garbage"),
    Failing("user anon key", "GET", "/user", 403, "bad_jwt", bearer="anon"),
    Failing("put user no bearer", "PUT", "/user", 401, "no_authorization", {"data": {}}),
    Failing("logout no bearer", "POST", "/logout", 401, "no_authorization"),
    Failing("logout garbage", "POST", "/logout", 403, "bad_jwt", bearer="garbage"),
    Failing("otp bad email", "POST", "/otp", 400, "validation_failed", {"email": "x"}),
    Failing("otp sms", "POST", "/otp", 400, "sms_send_failed", {"phone": "+15555550100"}),
    Failing("verify no type", "POST", "/verify", 400, "validation_failed", {"token": "1"}),
    Failing("verify bad token", "POST", "/verify", 403, "otp_expired",
            {"type": "email", "email": "a@example.com", "token": "123456"}),
    Failing("recover bad email", "POST", "/recover", 400, "validation_failed", {"email": 1}),
    Failing("resend bad type", "POST", "/resend", 400, "validation_failed",
            {"type": "nope", "email": "a@example.com"}),
    Failing("reauthenticate no bearer", "GET", "/reauthenticate", 401, "no_authorization"),
    Failing("factors no bearer", "POST", "/factors", 401, "no_authorization",
            {"factor_type": "totp"}),
    Failing("sso", "POST", "/sso", 404, "saml_provider_disabled", {"domain": "example.com"}),
    Failing("authorize", "GET", "/authorize", 400, "validation_failed", None,
            {"provider": "github"}),
    Failing("admin users anon", "GET", "/admin/users", 403, "not_admin", bearer="anon"),
    Failing("admin users garbage", "GET", "/admin/users", 403, "bad_jwt", bearer="garbage"),
    Failing("admin create no bearer", "POST", "/admin/users", 401, "no_authorization",
            {"email": "a@example.com"}),
    Failing("admin generate_link anon", "POST", "/admin/generate_link", 403, "not_admin",
            {"type": "signup"}, bearer="anon"),
    Failing("invite anon", "POST", "/invite", 403, "not_admin", {"email": "a@example.com"},
            bearer="anon"),
    Failing("unknown route", "GET", "/nothing-here", 404, "not_found", bearer="anon"),
]  # fmt: skip


@pytest.mark.parametrize("case", FAILING, ids=[c.name for c in FAILING])
def test_every_error_carries_the_api_version_and_a_string_code(
    auth_node: AuthNode, case: Failing
) -> None:
    headers = {"apikey": auth_node.anon_key, "Content-Type": "application/json;charset=UTF-8"}
    if case.bearer == "anon":
        headers["Authorization"] = f"Bearer {auth_node.anon_key}"
    elif case.bearer == "garbage":
        headers["Authorization"] = "Bearer garbage.garbage.garbage"
    content = case.raw if case.raw is not None else (b"" if case.body is None else None)
    response = httpx.request(
        case.method,
        f"{auth_node.auth_url}{case.path}",
        params=case.query,
        json=case.body if content is None else None,
        content=content,
        headers=headers,
        timeout=30,
    )
    body = assert_gotrue_error(response, case.status, case.code)
    assert isinstance(body["message"], str) and body["message"]
    assert body["msg"] == body["message"] and body["error_code"] == case.code
    assert response.headers["x-sb-error-code"] == case.code
    assert response.headers["x-supabase-api-version"] == API_VERSION
