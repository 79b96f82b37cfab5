"""Confirm-by-email (`--auth-autoconfirm false`) with the sync client: sign-up, resend, changes.

Sign-up answers a user with `confirmation_sent_at` and no session; the code or link in the
outbox confirms it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
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
from supabase_auth.errors import AuthApiError

pytestmark = pytest.mark.network

APP = "http://localhost:3000"


@pytest.fixture(scope="module")
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    with running_node(
        tmp_path_factory.mktemp("confirm"), "--auth-autoconfirm", "false", *NO_RATE_LIMITS
    ) as started:
        yield started


def pkce_client(auth_node: AuthNode) -> Client:
    return create_client(auth_node.url, auth_node.anon_key)


def implicit_client(auth_node: AuthNode) -> Client:
    return create_client(auth_node.url, auth_node.anon_key, ClientOptions(flow_type="implicit"))


def unconfirmed(auth_node: AuthNode, client: Client, prefix: str) -> str:
    email = unique_email(prefix)
    response = client.auth.sign_up({"email": email, "password": PASSWORD})
    assert response.session is None and response.user is not None
    return email


def confirmed(auth_node: AuthNode, prefix: str) -> str:
    client = implicit_client(auth_node)
    email = unconfirmed(auth_node, client, prefix)
    code = code_of(auth_node.mail_to(email, "signup"))
    assert client.auth.verify_otp({"email": email, "token": code, "type": "signup"}).session
    return email


def test_sign_up_answers_a_user_awaiting_confirmation(auth_node: AuthNode) -> None:
    email = unique_email("pending")
    client = implicit_client(auth_node)
    response = client.auth.sign_up({"email": email, "password": PASSWORD})
    assert response.session is None and response.user is not None
    user = response.user
    assert user.email == email and user.confirmation_sent_at is not None
    assert user.email_confirmed_at is None and user.confirmed_at is None
    assert user.identities and user.identities[0].identity_data["email"] == email
    assert client.auth.get_session() is None

    with pytest.raises(AuthApiError) as caught:
        client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    check_api_error(caught.value, 400, "email_not_confirmed", "Email not confirmed")

    message = auth_node.mail_to(email, "signup")
    assert message["subject"] == "Confirm your signup"
    verified = client.auth.verify_otp({"email": email, "token": code_of(message), "type": "signup"})
    assert verified.session is not None and verified.user is not None
    assert verified.user.email_confirmed_at is not None
    assert (
        implicit_client(auth_node)
        .auth.sign_in_with_password({"email": email, "password": PASSWORD})
        .session
    )


def test_verify_type_email_confirms_a_sign_up(auth_node: AuthNode) -> None:
    client = implicit_client(auth_node)
    email = unconfirmed(auth_node, client, "typeemail")
    code = code_of(auth_node.mail_to(email, "signup"))
    response = client.auth.verify_otp({"email": email, "token": code, "type": "email"})
    assert response.user is not None and response.user.email_confirmed_at is not None


def test_pkce_confirmation_link_gives_a_code(auth_node: AuthNode) -> None:
    client = pkce_client(auth_node)
    email = unique_email("pkcesignup")
    client.auth.sign_up(
        {"email": email, "password": PASSWORD, "options": {"email_redirect_to": f"{APP}/ok"}}
    )
    link = auth_node.mail_to(email, "signup")["action_link"]
    assert "type=signup" in link
    location = follow_verify_link(auth_node, link).headers["location"]
    assert location.startswith(f"{APP}/ok?code=")
    response = client.auth.exchange_code_for_session(
        {"auth_code": query_of(location)["code"], "redirect_to": ""}
    )
    assert response.user is not None and response.user.email == email
    assert response.user.email_confirmed_at is not None
    assert (
        pkce_client(auth_node)
        .auth.sign_in_with_password({"email": email, "password": PASSWORD})
        .session
    )


def test_implicit_confirmation_link_signs_in(auth_node: AuthNode) -> None:
    client = implicit_client(auth_node)
    email = unconfirmed(auth_node, client, "implicitsignup")
    link = auth_node.mail_to(email, "signup")["action_link"]
    location = follow_verify_link(auth_node, link).headers["location"]
    fragment = fragment_of(location)
    assert fragment["type"] == "signup" and fragment["access_token"]
    user = client.auth.get_user(fragment["access_token"])
    assert user is not None and user.user.email_confirmed_at is not None


def test_resend_replaces_the_confirmation_code(auth_node: AuthNode) -> None:
    client = implicit_client(auth_node)
    email = unconfirmed(auth_node, client, "resend")
    first = auth_node.mail_to(email, "signup")
    response = client.auth.resend({"type": "signup", "email": email})
    assert response.user is None and response.session is None
    mails = auth_node.mails_to(email)
    assert len(mails) == 2
    second = mails[0]
    assert second["id"] != first["id"]
    if code_of(first) != code_of(second):  # one chance in a million they are equal
        with pytest.raises(AuthApiError) as caught:
            client.auth.verify_otp({"email": email, "token": code_of(first), "type": "signup"})
        check_api_error(caught.value, 403, "otp_expired")
    assert client.auth.verify_otp({"email": email, "token": code_of(second), "type": "signup"})

    # Unknown users and SMS without a provider get the same 200.
    client.auth.resend({"type": "signup", "email": unique_email("nobody")})


def test_signing_up_again_before_confirming_resends_and_keeps_the_password(
    auth_node: AuthNode,
) -> None:
    """As GoTrue: a second sign-up has not proved the address, so it may not set the password."""
    client = implicit_client(auth_node)
    email = unconfirmed(auth_node, client, "twice")
    again = client.auth.sign_up({"email": email, "password": "intruder-password"})
    assert again.user is not None and again.session is None
    mails = auth_node.mails_to(email)
    assert len(mails) == 2
    client.auth.verify_otp({"email": email, "token": code_of(mails[0]), "type": "signup"})
    with pytest.raises(AuthApiError) as caught:
        implicit_client(auth_node).auth.sign_in_with_password(
            {"email": email, "password": "intruder-password"}
        )
    check_api_error(caught.value, 400, "invalid_credentials")
    assert (
        implicit_client(auth_node)
        .auth.sign_in_with_password({"email": email, "password": PASSWORD})
        .session
    )


def test_signing_up_with_a_taken_address_tells_nothing(auth_node: AuthNode) -> None:
    """As GoTrue without autoconfirm: a made-up user, no error, no mail (no enumeration)."""
    email = confirmed(auth_node, "taken")
    real = implicit_client(auth_node).auth.sign_in_with_password(
        {"email": email, "password": PASSWORD}
    )
    assert real.user is not None
    mails = len(auth_node.mails_to(email))
    response = implicit_client(auth_node).auth.sign_up({"email": email, "password": "other-pw"})
    assert response.session is None and response.user is not None
    assert response.user.id != real.user.id and response.user.email == email
    assert response.user.identities == [] and response.user.confirmation_sent_at is not None
    assert len(auth_node.mails_to(email)) == mails


def test_email_change_is_confirmed_from_the_new_address(auth_node: AuthNode) -> None:
    email, new_email = confirmed(auth_node, "change"), unique_email("changed")
    client = implicit_client(auth_node)
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    user = client.auth.update_user({"email": new_email}).user
    assert user.email == email and user.new_email == new_email
    assert user.email_change_sent_at is not None

    client.auth.resend({"type": "email_change", "email": new_email})
    message = auth_node.mail_to(new_email, "email_change")
    response = client.auth.verify_otp(
        {"email": new_email, "token": code_of(message), "type": "email_change"}
    )
    if response.user is not None:
        assert response.user.email == new_email
    fetched = client.auth.get_user()
    assert fetched is not None and fetched.user.email == new_email
    assert (
        implicit_client(auth_node)
        .auth.sign_in_with_password({"email": new_email, "password": PASSWORD})
        .session
    )


def test_an_anonymous_user_proves_the_address_it_adds(auth_node: AuthNode) -> None:
    """Without autoconfirm, adding an email to an anonymous account needs the emailed code."""
    client = implicit_client(auth_node)
    anonymous = client.auth.sign_in_anonymously()
    assert anonymous.user is not None
    email = unique_email("claimed")
    user = client.auth.update_user({"email": email}).user
    assert user.is_anonymous is True and user.email == "" and user.new_email == email

    code = code_of(auth_node.mail_to(email, "email_change"))
    response = client.auth.verify_otp({"email": email, "token": code, "type": "email_change"})
    assert response.session is not None
    fetched = client.auth.get_user()
    assert fetched is not None
    converted = fetched.user
    assert converted.id == anonymous.user.id and converted.email == email
    assert converted.is_anonymous is False and converted.email_confirmed_at is not None
    assert converted.app_metadata["provider"] == "email"
    assert converted.identities and converted.identities[0].identity_data["email"] == email
    client.auth.update_user({"password": PASSWORD})
    assert (
        implicit_client(auth_node)
        .auth.sign_in_with_password({"email": email, "password": PASSWORD})
        .session
    )


def test_settings_say_mail_must_be_confirmed(auth_node: AuthNode) -> None:
    settings = httpx.get(f"{auth_node.auth_url}/settings", headers=auth_node.headers(), timeout=30)
    assert settings.json()["mailer_autoconfirm"] is False
