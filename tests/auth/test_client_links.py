"""Email codes and links with the sync client: magic links, OTP codes, PKCE, recovery.

The mail is read back through the admin outbox (`GET /auth/v1/admin/outbox`); links are followed
one request at a time, as a browser starts to, and the redirect is read, never followed.
"""

from __future__ import annotations

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
    follow_verify_link,
    fragment_of,
    query_of,
    running_node,
    unique_email,
)
from supabase import Client, ClientOptions, create_client
from supabase_auth.errors import AuthApiError, AuthImplicitGrantRedirectError

pytestmark = pytest.mark.network

APP = "http://localhost:3000"


@pytest.fixture(scope="module")
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    with running_node(tmp_path_factory.mktemp("links"), *NO_RATE_LIMITS) as started:
        yield started


def pkce_client(auth_node: AuthNode) -> Client:
    """The supabase-py default: the PKCE flow (supabase-wire.md §2.1)."""
    return create_client(auth_node.url, auth_node.anon_key)


def implicit_client(auth_node: AuthNode) -> Client:
    return create_client(auth_node.url, auth_node.anon_key, ClientOptions(flow_type="implicit"))


def registered(auth_node: AuthNode, prefix: str) -> str:
    email = unique_email(prefix)
    pkce_client(auth_node).auth.sign_up({"email": email, "password": PASSWORD})
    return email


def test_otp_code_signs_in_with_verify_type_email(auth_node: AuthNode) -> None:
    email = registered(auth_node, "otp")
    client = pkce_client(auth_node)
    response = client.auth.sign_in_with_otp({"email": email})
    assert response.user is None and response.session is None
    message = auth_node.mail_to(email, "magiclink")
    assert message["subject"] and message["action_link"]

    verified = client.auth.verify_otp({"email": email, "token": code_of(message), "type": "email"})
    assert verified.session is not None and verified.user is not None
    assert verified.user.email == email
    assert client.auth.get_session() == verified.session

    with pytest.raises(AuthApiError) as caught:
        client.auth.verify_otp({"email": email, "token": code_of(message), "type": "email"})
    check_api_error(caught.value, 403, "otp_expired", "Token has expired or is invalid")


def test_otp_creates_a_user_unless_told_not_to(auth_node: AuthNode) -> None:
    email = unique_email("otpnew")
    client = implicit_client(auth_node)
    client.auth.sign_in_with_otp({"email": email, "options": {"data": {"plan": "free"}}})
    code = code_of(auth_node.mail_to(email))
    verified = client.auth.verify_otp({"email": email, "token": code, "type": "email"})
    assert verified.user is not None
    assert verified.user.email_confirmed_at is not None
    assert verified.user.user_metadata == {"plan": "free"}

    stranger = unique_email("nobody")
    with pytest.raises(AuthApiError) as caught:
        client.auth.sign_in_with_otp({"email": stranger, "options": {"should_create_user": False}})
    check_api_error(caught.value, 422, "otp_disabled", "Signups not allowed for otp")
    assert auth_node.mails_to(stranger) == []


def test_otp_code_is_bound_to_its_email(auth_node: AuthNode) -> None:
    email, other = registered(auth_node, "bound"), registered(auth_node, "other")
    client = pkce_client(auth_node)
    client.auth.sign_in_with_otp({"email": email})
    code = code_of(auth_node.mail_to(email, "magiclink"))
    with pytest.raises(AuthApiError) as caught:
        client.auth.verify_otp({"email": other, "token": code, "type": "email"})
    check_api_error(caught.value, 403, "otp_expired", "Token has expired or is invalid")
    # A wrong type does not consume the code either.
    with pytest.raises(AuthApiError):
        client.auth.verify_otp({"email": email, "token": code, "type": "recovery"})
    assert client.auth.verify_otp({"email": email, "token": code, "type": "magiclink"}).session


def test_pkce_magic_link_gives_a_code_to_exchange(auth_node: AuthNode) -> None:
    email = registered(auth_node, "pkce")
    client = pkce_client(auth_node)
    client.auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": f"{APP}/in"}})
    message = auth_node.mail_to(email, "magiclink")
    assert "type=magiclink" in message["action_link"]

    location = follow_verify_link(auth_node, message["action_link"]).headers["location"]
    assert location.startswith(f"{APP}/in?code=")
    code = query_of(location)["code"]
    assert "access_token" not in location  # PKCE: only the verifier's holder gets a session

    with pytest.raises(AuthApiError) as wrong:
        pkce_client(auth_node).auth.exchange_code_for_session(
            {"auth_code": code, "code_verifier": "x" * 43, "redirect_to": ""}
        )
    check_api_error(wrong.value, 400, "bad_code_verifier")

    storage_key = f"{client.auth._storage_key}-code-verifier"
    verifier = client.auth._storage.get_item(storage_key)
    assert verifier
    response = client.auth.exchange_code_for_session({"auth_code": code, "redirect_to": ""})
    assert response.session is not None and response.user is not None
    assert response.user.email == email
    assert client.auth.get_session() == response.session

    with pytest.raises(AuthApiError) as reused:
        client.auth.exchange_code_for_session(
            {"auth_code": code, "code_verifier": verifier, "redirect_to": ""}
        )
    check_api_error(reused.value, 404, "flow_state_not_found")


def test_implicit_magic_link_puts_the_session_in_the_fragment(auth_node: AuthNode) -> None:
    email = registered(auth_node, "implicit")
    client = implicit_client(auth_node)
    client.auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": f"{APP}/cb"}})
    link = auth_node.mail_to(email, "magiclink")["action_link"]
    location = follow_verify_link(auth_node, link).headers["location"]
    assert location.startswith(f"{APP}/cb#")
    fragment = fragment_of(location)
    assert fragment["token_type"] == "bearer" and fragment["type"] == "magiclink"

    browser = implicit_client(auth_node)
    browser.auth.initialize_from_url(location)
    session = browser.auth.get_session()
    assert session is not None and session.user.email == email
    assert session.refresh_token == fragment["refresh_token"]

    again = follow_verify_link(auth_node, link).headers["location"]
    assert fragment_of(again)["error_code"] == "otp_expired"
    with pytest.raises(AuthImplicitGrantRedirectError):
        implicit_client(auth_node).auth.initialize_from_url(again)


def test_password_recovery_with_a_code(auth_node: AuthNode) -> None:
    email = registered(auth_node, "recover")
    client = implicit_client(auth_node)
    client.auth.reset_password_for_email(email, {"redirect_to": f"{APP}/reset"})
    message = auth_node.mail_to(email, "recovery")
    assert (
        f"redirect_to={APP.replace(':', '%3A').replace('/', '%2F')}%2Freset"
        in (message["action_link"])
    )
    response = client.auth.verify_otp(
        {"email": email, "token": code_of(message), "type": "recovery"}
    )
    assert response.session is not None and response.user is not None
    assert response.user.recovery_sent_at is not None
    client.auth.update_user({"password": "recovered-password"})
    assert (
        pkce_client(auth_node)
        .auth.sign_in_with_password({"email": email, "password": "recovered-password"})
        .session
    )


def test_password_recovery_with_a_pkce_link(auth_node: AuthNode) -> None:
    email = registered(auth_node, "recoverpkce")
    client = pkce_client(auth_node)
    events: list[str] = []
    client.auth.on_auth_state_change(lambda event, session: events.append(event))
    client.auth.reset_password_for_email(email, {"redirect_to": f"{APP}/reset"})
    link = auth_node.mail_to(email, "recovery")["action_link"]
    code = query_of(follow_verify_link(auth_node, link).headers["location"])["code"]
    response = client.auth.exchange_code_for_session({"auth_code": code, "redirect_to": ""})
    assert response.user is not None and response.user.email == email
    assert events[-1] == "PASSWORD_RECOVERY"
    client.auth.update_user({"password": "pkce-recovered"})
    assert (
        pkce_client(auth_node)
        .auth.sign_in_with_password({"email": email, "password": "pkce-recovered"})
        .session
    )


def test_recovery_of_an_unknown_email_answers_the_same(auth_node: AuthNode) -> None:
    stranger = unique_email("ghost")
    implicit_client(auth_node).auth.reset_password_for_email(stranger)
    assert auth_node.mails_to(stranger) == []


def test_resend_and_reauthenticate_answer_200(auth_node: AuthNode) -> None:
    email = registered(auth_node, "reauth")
    client = pkce_client(auth_node)
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    response = client.auth.reauthenticate()
    assert response.user is None and response.session is None
    nonce = code_of(auth_node.mail_to(email, "reauthentication"))
    client.auth.update_user({"password": "after-reauth", "nonce": nonce})
    assert (
        pkce_client(auth_node)
        .auth.sign_in_with_password({"email": email, "password": "after-reauth"})
        .session
    )

    # Resending the confirmation of a confirmed or unknown user changes nothing, quietly.
    before = len(auth_node.outbox())
    client.auth.resend({"type": "signup", "email": email})
    client.auth.resend({"type": "signup", "email": unique_email("nobody")})
    assert len(auth_node.outbox()) == before


def test_verify_link_with_a_bad_token_redirects_with_an_error(auth_node: AuthNode) -> None:
    response = httpx.get(
        f"{auth_node.auth_url}/verify",
        params={"token": "0" * 64, "type": "magiclink", "redirect_to": f"{APP}/x"},
        follow_redirects=False,
        timeout=30,
    )
    assert response.status_code in (302, 303)
    fragment = fragment_of(response.headers["location"])
    assert fragment["error"] == "access_denied" and fragment["error_code"] == "otp_expired"
    assert response.headers["location"].startswith(f"{APP}/x#")


def test_links_and_issuer_name_the_address_the_node_listens_on(auth_node: AuthNode) -> None:
    email = registered(auth_node, "address")
    client = pkce_client(auth_node)
    client.auth.sign_in_with_otp({"email": email})
    link = auth_node.mail_to(email, "magiclink")["action_link"]
    session = client.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
    assert session is not None
    assert link.startswith(f"{auth_node.url}/auth/v1/verify?")
    claims = jwt.decode(session.access_token, options={"verify_signature": False})
    assert claims["iss"] == f"{auth_node.url}/auth/v1"


def test_a_redirect_to_outside_the_site_url_falls_back_to_it(auth_node: AuthNode) -> None:
    email = registered(auth_node, "phish")
    client = implicit_client(auth_node)
    client.auth.sign_in_with_otp(
        {"email": email, "options": {"email_redirect_to": "https://attacker.example/steal"}}
    )
    link = auth_node.mail_to(email, "magiclink")["action_link"]
    location = follow_verify_link(auth_node, link).headers["location"]
    assert location.startswith(f"{APP}")
