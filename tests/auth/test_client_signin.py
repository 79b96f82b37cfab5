"""The sync `supabase` client signing up, in and out against a real node (supabase-wire.md §2.2).

One node serves the module; every test uses its own email addresses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from auth_support import (
    NO_RATE_LIMITS,
    PASSWORD,
    AuthNode,
    check_api_error,
    code_of,
    foreign_keys,
    running_node,
    unique_email,
    unique_phone,
    user_claims,
)
from supabase import Client, create_client
from supabase_auth.errors import AuthApiError, AuthInvalidJwtError

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    with running_node(tmp_path_factory.mktemp("signin"), *NO_RATE_LIMITS) as started:
        yield started


@pytest.fixture
def client(auth_node: AuthNode) -> Client:
    return create_client(auth_node.url, auth_node.anon_key)


def new_client(auth_node: AuthNode) -> Client:
    return create_client(auth_node.url, auth_node.anon_key)


def signed_up(auth_node: AuthNode, email: str, password: str = PASSWORD) -> Client:
    client = new_client(auth_node)
    client.auth.sign_up({"email": email, "password": password})
    return client


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def test_sign_up_with_autoconfirm_returns_a_session_with_gotrue_claims(client: Client) -> None:
    email = unique_email("signup")
    response = client.auth.sign_up(
        {"email": email, "password": PASSWORD, "options": {"data": {"name": "Ada"}}}
    )
    session, user = response.session, response.user
    assert session is not None and user is not None
    assert user.email == email
    assert user.user_metadata == {"name": "Ada"}
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert user.identities and user.identities[0].identity_data["email"] == email
    assert user.email_confirmed_at is not None and user.is_anonymous is False
    assert session.token_type == "bearer" and session.expires_in == 3600
    assert session.expires_at is not None and session.expires_at > time.time() + 3000
    header = jwt.get_unverified_header(session.access_token)
    assert header["alg"] == "ES256" and header["kid"]
    claims = claims_of(session.access_token)
    assert claims["sub"] == user.id and claims["email"] == email
    assert claims["role"] == "authenticated" and claims["aud"] == "authenticated"
    assert claims["aal"] == "aal1" and claims["is_anonymous"] is False
    assert claims["amr"][0]["method"] == "password"  # type: ignore[index]
    assert claims["user_metadata"] == {"name": "Ada"}
    assert isinstance(claims["session_id"], str)
    assert client.auth.get_session() == session


def test_sign_in_anonymously_then_link_an_email(client: Client) -> None:
    response = client.auth.sign_in_anonymously({"options": {"data": {"guest": True}}})
    assert response.session is not None and response.user is not None
    assert response.user.is_anonymous is True and response.user.email == ""
    claims = claims_of(response.session.access_token)
    assert claims["is_anonymous"] is True and claims["role"] == "authenticated"
    assert claims["amr"][0]["method"] == "anonymous"  # type: ignore[index]

    email = unique_email("converted")
    updated = client.auth.update_user({"email": email, "password": PASSWORD}).user
    assert updated.email == email and updated.is_anonymous is False
    assert updated.app_metadata["provider"] == "email"
    again = new_client_signed_in(client, email)
    assert again == response.user.id


def new_client_signed_in(client: Client, email: str) -> str:
    other = create_client(str(client.supabase_url), client.supabase_key)
    user = other.auth.sign_in_with_password({"email": email, "password": PASSWORD}).user
    assert user is not None
    return user.id


def test_sign_in_with_password_by_email(auth_node: AuthNode, client: Client) -> None:
    email = unique_email("password")
    first = signed_up(auth_node, email).auth.get_session()
    assert first is not None
    response = client.auth.sign_in_with_password({"email": email.upper(), "password": PASSWORD})
    assert response.session is not None and response.user is not None
    assert response.user.id == first.user.id
    assert response.user.last_sign_in_at is not None
    assert client.auth.get_session() == response.session
    # A sign-in opens a session of its own.
    assert (
        claims_of(response.session.access_token)["session_id"]
        != claims_of(first.access_token)["session_id"]
    )


def test_sign_up_and_sign_in_with_phone(client: Client, auth_node: AuthNode) -> None:
    phone = unique_phone()
    response = client.auth.sign_up({"phone": f"+{phone}", "password": PASSWORD})
    assert response.session is not None and response.user is not None
    assert response.user.phone == phone
    assert response.user.app_metadata["provider"] == "phone"

    other = new_client(auth_node)
    signed_in = other.auth.sign_in_with_password({"phone": f"+{phone}", "password": PASSWORD})
    assert signed_in.user is not None and signed_in.user.id == response.user.id
    with pytest.raises(AuthApiError) as caught:
        other.auth.sign_in_with_password({"phone": f"+{phone}", "password": "wrong-password"})
    check_api_error(caught.value, 400, "invalid_credentials", "Invalid login credentials")


def test_refresh_session_rotates_the_refresh_token(client: Client) -> None:
    email = unique_email("refresh")
    first = client.auth.sign_up({"email": email, "password": PASSWORD}).session
    assert first is not None
    refreshed = client.auth.refresh_session().session
    assert refreshed is not None
    assert refreshed.refresh_token != first.refresh_token
    assert (
        claims_of(refreshed.access_token)["session_id"]
        == claims_of(first.access_token)["session_id"]
    )
    assert client.auth.get_session() == refreshed
    user = client.auth.get_user(refreshed.access_token)
    assert user is not None and user.user.email == email

    again = client.auth.refresh_session(refreshed.refresh_token).session
    assert again is not None and again.refresh_token not in (
        first.refresh_token,
        refreshed.refresh_token,
    )


def test_set_session_with_a_live_token_keeps_it(auth_node: AuthNode) -> None:
    email = unique_email("set")
    session = signed_up(auth_node, email).auth.get_session()
    assert session is not None
    other = new_client(auth_node)
    response = other.auth.set_session(session.access_token, session.refresh_token)
    assert response.user is not None and response.user.email == email
    current = other.auth.get_session()
    assert current is not None
    assert current.access_token == session.access_token
    assert current.refresh_token == session.refresh_token


def test_set_session_with_an_expired_token_refreshes(auth_node: AuthNode) -> None:
    email = unique_email("expired")
    session = signed_up(auth_node, email).auth.get_session()
    assert session is not None
    claims = claims_of(session.access_token)
    expired = auth_node.signing_keys().sign(
        {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
    )
    other = new_client(auth_node)
    response = other.auth.set_session(expired, session.refresh_token)
    assert response.session is not None and response.user is not None
    assert response.user.email == email
    assert response.session.refresh_token != session.refresh_token
    assert response.session.access_token != expired


def test_get_user_returns_the_user_shape(auth_node: AuthNode) -> None:
    email = unique_email("getuser")
    client = signed_up(auth_node, email)
    response = client.auth.get_user()
    assert response is not None
    user = response.user
    assert user.email == email and user.aud == "authenticated" and user.role == "authenticated"
    assert user.identities is not None and len(user.identities) == 1
    identity = user.identities[0]
    assert identity.provider == "email" and identity.user_id == user.id
    assert identity.identity_data["sub"] == user.id
    assert user.created_at is not None and user.updated_at is not None


def test_update_user_merges_data(auth_node: AuthNode) -> None:
    client = signed_up(auth_node, unique_email("merge"))
    client.auth.update_user({"data": {"theme": "dark", "lang": "en"}})
    user = client.auth.update_user({"data": {"lang": "fr"}}).user
    assert user.user_metadata == {"theme": "dark", "lang": "fr"}
    fetched = client.auth.get_user()
    assert fetched is not None and fetched.user.user_metadata == {"theme": "dark", "lang": "fr"}
    refreshed = client.auth.refresh_session().session
    assert refreshed is not None
    assert claims_of(refreshed.access_token)["user_metadata"] == {"theme": "dark", "lang": "fr"}


def test_update_password_then_sign_in_with_it(auth_node: AuthNode) -> None:
    email = unique_email("newpass")
    client = signed_up(auth_node, email)
    client.auth.update_user({"password": "a-brand-new-password"})
    other = new_client(auth_node)
    with pytest.raises(AuthApiError) as caught:
        other.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    check_api_error(caught.value, 400, "invalid_credentials", "Invalid login credentials")
    response = other.auth.sign_in_with_password(
        {"email": email, "password": "a-brand-new-password"}
    )
    assert response.session is not None

    with pytest.raises(AuthApiError) as same:
        client.auth.update_user({"password": "a-brand-new-password"})
    check_api_error(same.value, 422, "same_password")


def test_update_email_is_confirmed_from_the_new_address_even_with_autoconfirm(
    auth_node: AuthNode,
) -> None:
    """As GoTrue: autoconfirm confirms sign-ups; a permanent user proves a new address."""
    email, new_email = unique_email("old"), unique_email("new")
    client = signed_up(auth_node, email)
    user = client.auth.update_user({"email": new_email}).user
    assert user.email == email and user.new_email == new_email
    assert user.email_change_sent_at is not None
    message = auth_node.mail_to(new_email, "email_change")
    other = new_client(auth_node)
    with pytest.raises(AuthApiError) as pending:
        other.auth.sign_in_with_password({"email": new_email, "password": PASSWORD})
    check_api_error(pending.value, 400, "invalid_credentials")

    client.auth.verify_otp({"email": new_email, "token": code_of(message), "type": "email_change"})
    fetched = client.auth.get_user()
    assert fetched is not None and fetched.user.email == new_email
    assert fetched.user.new_email is None
    assert other.auth.sign_in_with_password({"email": new_email, "password": PASSWORD}).session
    with pytest.raises(AuthApiError) as caught:
        other.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    check_api_error(caught.value, 400, "invalid_credentials")

    taken = unique_email("taken")
    signed_up(auth_node, taken)
    with pytest.raises(AuthApiError) as exists:
        client.auth.update_user({"email": taken})
    check_api_error(exists.value, 422, "email_exists")


def three_sessions(auth_node: AuthNode) -> list[Client]:
    email = unique_email("scopes")
    signed_up(auth_node, email)
    clients = [new_client(auth_node) for _ in range(3)]
    for client in clients:
        client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return clients


def refresh_token_of(client: Client) -> str:
    session = client.auth.get_session()
    assert session is not None
    return session.refresh_token


def refresh_fails(auth_node: AuthNode, refresh_token: str) -> None:
    with pytest.raises(AuthApiError) as caught:
        new_client(auth_node).auth.refresh_session(refresh_token)
    check_api_error(
        caught.value,
        400,
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
    )


def refresh_works(auth_node: AuthNode, refresh_token: str) -> None:
    assert new_client(auth_node).auth.refresh_session(refresh_token).session is not None


def test_sign_out_global_ends_every_session(auth_node: AuthNode) -> None:
    clients = three_sessions(auth_node)
    tokens = [refresh_token_of(c) for c in clients]
    access = clients[1].auth.get_session().access_token  # type: ignore[union-attr]
    clients[0].auth.sign_out()
    assert clients[0].auth.get_session() is None
    for token in tokens:
        refresh_fails(auth_node, token)
    with pytest.raises(AuthApiError) as caught:
        clients[1].auth.get_user(access)
    check_api_error(
        caught.value,
        403,
        "session_not_found",
        "Session from session_id claim in JWT does not exist",
    )


def test_sign_out_local_ends_only_this_session(auth_node: AuthNode) -> None:
    clients = three_sessions(auth_node)
    tokens = [refresh_token_of(c) for c in clients]
    clients[0].auth.sign_out({"scope": "local"})
    assert clients[0].auth.get_session() is None
    refresh_fails(auth_node, tokens[0])
    refresh_works(auth_node, tokens[1])
    refresh_works(auth_node, tokens[2])


def test_sign_out_others_keeps_only_this_session(auth_node: AuthNode) -> None:
    clients = three_sessions(auth_node)
    tokens = [refresh_token_of(c) for c in clients]
    clients[0].auth.sign_out({"scope": "others"})
    assert clients[0].auth.get_session() is not None
    refresh_works(auth_node, tokens[0])
    refresh_fails(auth_node, tokens[1])
    refresh_fails(auth_node, tokens[2])


def test_admin_sign_out_with_a_user_jwt(auth_node: AuthNode) -> None:
    client = signed_up(auth_node, unique_email("adminout"))
    session = client.auth.get_session()
    assert session is not None
    admin = create_client(auth_node.url, auth_node.service_key).auth.admin
    admin.sign_out(session.access_token, "local")
    refresh_fails(auth_node, session.refresh_token)


def test_get_claims_verifies_through_jwks(auth_node: AuthNode) -> None:
    email = unique_email("claims")
    client = signed_up(auth_node, email)
    response = client.auth.get_claims()
    assert response is not None
    assert response["claims"]["email"] == email
    assert response["headers"]["alg"] == "ES256"
    kid = response["headers"]["kid"]
    # The key came from the JWKS endpoint (ES256 with a kid is verified locally).
    assert [key["kid"] for key in client.auth._jwks["keys"]] == [kid]

    jwks = httpx.get(f"{auth_node.auth_url}/.well-known/jwks.json", timeout=30)
    assert jwks.status_code == 200
    assert jwks.headers["cache-control"] == "public, max-age=600"
    (key,) = jwks.json()["keys"]
    assert key["kid"] == kid and key["kty"] == "EC" and key["alg"] == "ES256"
    assert "d" not in key


def test_get_claims_refuses_a_token_signed_by_another_key(auth_node: AuthNode) -> None:
    client = signed_up(auth_node, unique_email("forged"))
    session = client.auth.get_session()
    assert session is not None
    claims = claims_of(session.access_token)
    kid = jwt.get_unverified_header(session.access_token)["kid"]
    other = foreign_keys()
    forged = jwt.encode(claims, other.signing_key, algorithm="ES256", headers={"kid": kid})
    with pytest.raises(AuthInvalidJwtError, match="Invalid JWT signature"):
        client.auth.get_claims(forged)
    unknown_kid = other.sign(user_claims(str(claims["sub"]), str(claims["session_id"])))
    with pytest.raises(AuthInvalidJwtError, match="No matching signing key"):
        client.auth.get_claims(unknown_kid)


def test_settings_and_health(auth_node: AuthNode) -> None:
    settings = httpx.get(f"{auth_node.auth_url}/settings", headers=auth_node.headers(), timeout=30)
    assert settings.status_code == 200
    body = settings.json()
    assert body["external"]["email"] is True and body["disable_signup"] is False
    assert body["mailer_autoconfirm"] is True
    health = httpx.get(f"{auth_node.auth_url}/health", headers=auth_node.headers(), timeout=30)
    assert health.status_code == 200 and health.json()["name"]
