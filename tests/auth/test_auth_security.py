"""Attacks on the auth API, each refused with its documented error: forged and expired tokens,
forged service_role claims, refresh-token reuse, password and code brute force.

Raw httpx against real nodes; the rate-limit tests start nodes with small limits of their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from auth_support import (
    NO_RATE_LIMITS,
    PASSWORD,
    AuthNode,
    assert_gotrue_error,
    check_api_error,
    code_of,
    foreign_keys,
    running_node,
    unique_email,
)
from cryptography.hazmat.primitives import serialization
from supabase import ClientOptions, create_client
from supabase_auth.errors import AuthApiError

pytestmark = pytest.mark.network

BAD_JWT = "invalid JWT: unable to parse or verify signature, "


@pytest.fixture(scope="module")
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    with running_node(tmp_path_factory.mktemp("security"), *NO_RATE_LIMITS) as started:
        yield started


@pytest.fixture(scope="module")
def strict_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    """No grace at all for a used refresh token."""
    with running_node(
        tmp_path_factory.mktemp("strict"), "--auth-refresh-reuse-interval", "0", *NO_RATE_LIMITS
    ) as started:
        yield started


def post(node: AuthNode, path: str, body: Any, bearer: str | None = None, **query: str) -> Any:
    return httpx.post(
        f"{node.auth_url}{path}",
        params=query,
        json=body,
        headers=node.headers(bearer),
        timeout=30,
    )


def sign_up(node: AuthNode, email: str | None = None) -> dict[str, Any]:
    response = post(node, "/signup", {"email": email or unique_email("sec"), "password": PASSWORD})
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def sign_in(node: AuthNode, email: str, password: str = PASSWORD) -> httpx.Response:
    response: httpx.Response = post(
        node, "/token", {"email": email, "password": password}, grant_type="password"
    )
    return response


def refresh(node: AuthNode, token: str) -> httpx.Response:
    response: httpx.Response = post(
        node, "/token", {"refresh_token": token}, grant_type="refresh_token"
    )
    return response


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."


def hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """Signed by hand: PyJWT rightly refuses a PEM key as an HMAC secret (algorithm confusion)."""
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def forged_tokens(node: AuthNode, session: dict[str, Any]) -> dict[str, str]:
    """Tokens an attacker can make for the victim's session, or with admin claims."""
    real = session["access_token"]
    kid = jwt.get_unverified_header(real)["kid"]
    claims = jwt.decode(real, options={"verify_signature": False})
    admin = {**claims, "role": "service_role"}
    attacker = foreign_keys()
    own = node.signing_keys()
    public_pem = own.signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, payload, signature = real.split(".")
    now = int(time.time())
    return {
        "other key, node's kid": jwt.encode(
            claims, attacker.signing_key, algorithm="ES256", headers={"kid": kid}
        ),
        "other key, no kid": jwt.encode(claims, attacker.signing_key, algorithm="ES256"),
        "other key, own kid": attacker.sign(claims),
        "alg none": unsigned(claims),
        "alg None": unsigned(claims, "None"),
        "alg none, service_role": unsigned(admin),
        "HS256 with the public key": hs256(claims, public_pem, kid),
        "HS256 with a guessed secret": jwt.encode(admin, "secret" * 6, algorithm="HS256"),
        "service_role with other key": jwt.encode(
            admin, attacker.signing_key, algorithm="ES256", headers={"kid": kid}
        ),
        "payload swapped to service_role": f"{header}.{b64(admin)}.{signature}",
        "signature stripped": f"{header}.{payload}.",
        "expired, node's key": own.sign({**claims, "iat": now - 7200, "exp": now - 10}),
        "not yet valid, node's key": own.sign({**claims, "nbf": now + 3600}),
        "expired service_role, node's key": own.sign({**admin, "exp": now - 10}),
    }


def test_forged_and_expired_tokens_are_refused_everywhere(auth_node: AuthNode) -> None:
    session = sign_up(auth_node)
    for name, token in forged_tokens(auth_node, session).items():
        for method, path, body in (
            ("GET", "/user", None),
            ("PUT", "/user", {"data": {"pwned": True}}),
            ("POST", "/logout", None),
            ("POST", "/factors", {"factor_type": "totp"}),
            ("GET", "/admin/users", None),
            ("POST", "/admin/users", {"email": unique_email("evil"), "password": PASSWORD}),
            ("POST", "/admin/generate_link", {"type": "magiclink", "email": "a@example.com"}),
            ("GET", "/admin/outbox", None),
        ):
            response = httpx.request(
                method,
                f"{auth_node.auth_url}{path}",
                json=body,
                headers={"apikey": auth_node.anon_key, "Authorization": f"Bearer {token}"},
                timeout=30,
            )
            error = assert_gotrue_error(response, 403, "bad_jwt")
            assert error["message"].startswith(BAD_JWT), (name, path, error)
    # The real token still works, and nothing the forgeries asked for happened.
    me = httpx.get(
        f"{auth_node.auth_url}/user", headers=auth_node.headers(session["access_token"]), timeout=30
    )
    assert me.status_code == 200 and "pwned" not in me.json()["user_metadata"]
    assert not any(m["recipient"] == "a@example.com" for m in auth_node.outbox())


def test_a_user_token_is_not_an_admin_token(auth_node: AuthNode) -> None:
    session = sign_up(auth_node)
    victim = sign_up(auth_node)["user"]["id"]
    factor = "00000000-0000-4000-8000-000000000000"
    for method, path, body in (
        ("GET", "/admin/users", None),
        ("POST", "/admin/users", {"email": unique_email("evil"), "role": "service_role"}),
        ("GET", f"/admin/users/{victim}", None),
        ("PUT", f"/admin/users/{victim}", {"password": "taken-over"}),
        ("DELETE", f"/admin/users/{victim}", {}),
        ("GET", f"/admin/users/{victim}/factors", None),
        ("DELETE", f"/admin/users/{victim}/factors/{factor}", None),
        ("POST", "/admin/generate_link", {"type": "recovery", "email": "a@example.com"}),
        ("POST", "/invite", {"email": unique_email("evil")}),
        ("GET", "/admin/outbox", None),
    ):
        response = httpx.request(
            method,
            f"{auth_node.auth_url}{path}",
            json=body,
            headers=auth_node.headers(session["access_token"]),
            timeout=30,
        )
        assert_gotrue_error(response, 403, "not_admin", "User not allowed")
    admin = httpx.get(
        f"{auth_node.auth_url}/admin/users/{victim}", headers=auth_node.admin_headers(), timeout=30
    )
    assert admin.status_code == 200


def test_a_users_own_claims_cannot_make_them_admin(auth_node: AuthNode) -> None:
    """Metadata a user controls never reaches the `role` claim."""
    session = sign_up(auth_node)
    token = session["access_token"]
    response = httpx.put(
        f"{auth_node.auth_url}/user",
        json={"data": {"role": "service_role"}, "role": "service_role", "app_metadata": {"x": 1}},
        headers=auth_node.headers(token),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["role"] == "authenticated"
    assert "x" not in response.json()["app_metadata"]
    renewed = refresh(auth_node, session["refresh_token"]).json()["access_token"]
    assert jwt.decode(renewed, options={"verify_signature": False})["role"] == "authenticated"
    listing = httpx.get(
        f"{auth_node.auth_url}/admin/users", headers=auth_node.headers(renewed), timeout=30
    )
    assert_gotrue_error(listing, 403, "not_admin")


def test_refresh_token_reuse_revokes_the_whole_session(strict_node: AuthNode) -> None:
    email = unique_email("reuse")
    first = sign_up(strict_node, email)
    bystander = sign_in(strict_node, email).json()
    second = refresh(strict_node, first["refresh_token"]).json()
    third = refresh(strict_node, second["refresh_token"]).json()
    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3

    reused = refresh(strict_node, first["refresh_token"])
    assert_gotrue_error(
        reused, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"
    )
    # The thief may hold the newest token: it dies with the session.
    newest = refresh(strict_node, third["refresh_token"])
    assert newest.status_code == 400
    assert newest.json()["code"] in ("refresh_token_not_found", "refresh_token_already_used")
    me = httpx.get(
        f"{strict_node.auth_url}/user",
        headers=strict_node.headers(third["access_token"]),
        timeout=30,
    )
    assert_gotrue_error(me, 403, "session_not_found")
    # Another session of the same user is untouched.
    assert refresh(strict_node, bystander["refresh_token"]).status_code == 200


def test_refresh_token_reuse_within_the_grace_window_succeeds(auth_node: AuthNode) -> None:
    first = sign_up(auth_node)
    started = time.monotonic()
    second = refresh(auth_node, first["refresh_token"])
    again = refresh(auth_node, first["refresh_token"])
    assert time.monotonic() - started < 10, "the default grace window is 10 s"
    assert second.status_code == 200 and again.status_code == 200, again.text
    session_of = [
        jwt.decode(r.json()["access_token"], options={"verify_signature": False})["session_id"]
        for r in (second, again)
    ]
    assert session_of[0] == session_of[1]
    assert refresh(auth_node, again.json()["refresh_token"]).status_code == 200


def test_password_brute_force_hits_the_email_rate_limit(tmp_path_factory: Any) -> None:
    with running_node(
        tmp_path_factory.mktemp("bruteforce"),
        "--auth-rate-limit-email",
        "5",
        "--auth-rate-limit-ip",
        "1000",
        "--auth-rate-limit-refresh",
        "1000",
    ) as node:
        victim = unique_email("victim")
        sign_up(node, victim)
        for _ in range(5):
            assert_gotrue_error(sign_in(node, victim, "guess-123"), 400, "invalid_credentials")
        # The sixth attempt is refused before the password is looked at, right or wrong, and
        # whatever the case of the address.
        blocked = sign_in(node, victim.upper(), PASSWORD)
        body = assert_gotrue_error(blocked, 429, "over_request_rate_limit")
        assert "access_token" not in body
        client = create_client(node.url, node.anon_key, ClientOptions(flow_type="implicit"))
        with pytest.raises(AuthApiError) as caught:
            client.auth.sign_in_with_password({"email": victim, "password": PASSWORD})
        check_api_error(caught.value, 429, "over_request_rate_limit")

        # Other addresses are not locked out by the attack on this one.
        bystander = unique_email("bystander")
        sign_up(node, bystander)
        assert sign_in(node, bystander).status_code == 200

        # Guessing a 6-digit email code is limited the same way.
        target = unique_email("otp")
        sign_up(node, target)
        assert post(node, "/otp", {"email": target}).status_code == 200
        code = code_of(node.mail_to(target, "magiclink"))
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        statuses = [
            post(node, "/verify", {"type": "email", "email": target, "token": wrong}).status_code
            for _ in range(5)
        ]
        assert 429 in statuses and set(statuses) <= {403, 429}
        right = post(node, "/verify", {"type": "email", "email": target, "token": code})
        assert_gotrue_error(right, 429, "over_request_rate_limit")


def test_ip_and_refresh_rate_limits(tmp_path_factory: Any) -> None:
    with running_node(
        tmp_path_factory.mktemp("iplimit"),
        "--auth-rate-limit-ip",
        "3",
        "--auth-rate-limit-refresh",
        "2",
        "--auth-rate-limit-email",
        "1000",
    ) as node:
        session = sign_up(node)
        token = session["refresh_token"]
        for _ in range(2):
            response = refresh(node, token)
            assert response.status_code == 200
            token = response.json()["refresh_token"]
        assert_gotrue_error(refresh(node, token), 429, "over_request_rate_limit")

        assert post(node, "/signup", {}).status_code == 200  # anonymous: same group
        assert sign_in(node, session["user"]["email"]).status_code == 200
        blocked = post(node, "/signup", {"email": unique_email("late"), "password": PASSWORD})
        assert_gotrue_error(blocked, 429, "over_request_rate_limit")
        assert_gotrue_error(post(node, "/signup", {}), 429, "over_request_rate_limit")


def test_hs256_mode_refuses_tokens_signed_with_another_secret(tmp_path_factory: Any) -> None:
    """With `--jwt-secret` tokens are HS256 without `kid`; get_claims then asks `GET /user`."""
    secret = "a-project-secret-with-at-least-32-characters"
    with running_node(
        tmp_path_factory.mktemp("hs256"), "--jwt-secret", secret, *NO_RATE_LIMITS
    ) as node:
        client = create_client(node.url, node.anon_key, ClientOptions(flow_type="implicit"))
        email = unique_email("hs")
        session = client.auth.sign_up({"email": email, "password": PASSWORD}).session
        assert session is not None
        header = jwt.get_unverified_header(session.access_token)
        assert header["alg"] == "HS256" and "kid" not in header
        claims = client.auth.get_claims()
        assert claims is not None and claims["claims"]["email"] == email
        jwks = httpx.get(f"{node.auth_url}/.well-known/jwks.json", timeout=30).json()
        assert all(key["kty"] != "oct" and "k" not in key for key in jwks["keys"])

        real = jwt.decode(
            session.access_token, secret, algorithms=["HS256"], audience="authenticated"
        )
        for forged in (
            jwt.encode({**real, "role": "service_role"}, "another-secret" * 3, algorithm="HS256"),
            unsigned({**real, "role": "service_role"}),
            foreign_keys().sign({**real, "role": "service_role"}),
        ):
            for path in ("/user", "/admin/users"):
                response = httpx.get(
                    f"{node.auth_url}{path}", headers=node.headers(forged), timeout=30
                )
                assert_gotrue_error(response, 403, "bad_jwt")
        # The project's own secret makes service_role tokens, as Supabase's keys are made.
        service = jwt.encode({"role": "service_role"}, secret, algorithm="HS256")
        listing = httpx.get(
            f"{node.auth_url}/admin/users", headers=node.headers(service), timeout=30
        )
        assert listing.status_code == 200 and email in [u["email"] for u in listing.json()["users"]]
