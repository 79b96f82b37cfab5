"""MFA with TOTP through the sync client: enroll, challenge, verify to aal2, unenroll, admin.

Codes come from `pyotp`, as from any authenticator app: RFC 6238, SHA-1, 6 digits, 30 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pyotp
import pytest
from auth_support import (
    NO_RATE_LIMITS,
    PASSWORD,
    AuthNode,
    check_api_error,
    running_node,
    unique_email,
)
from supabase import Client, create_client
from supabase_auth.errors import AuthApiError

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    with running_node(tmp_path_factory.mktemp("mfa"), *NO_RATE_LIMITS) as started:
        yield started


def signed_up(auth_node: AuthNode) -> tuple[Client, str]:
    email = unique_email("mfa")
    client = create_client(auth_node.url, auth_node.anon_key)
    client.auth.sign_up({"email": email, "password": PASSWORD})
    return client, email


def signed_in(auth_node: AuthNode, email: str) -> Client:
    client = create_client(auth_node.url, auth_node.anon_key)
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return client


def enrolled(client: Client, name: str = "phone app") -> tuple[str, pyotp.TOTP]:
    response = client.auth.mfa.enroll(
        {"factor_type": "totp", "friendly_name": name, "issuer": "Performer Tests"}
    )
    assert response.totp is not None
    return response.id, pyotp.TOTP(response.totp.secret)


def aal_of(client: Client) -> str:
    session = client.auth.get_session()
    assert session is not None
    return str(jwt.decode(session.access_token, options={"verify_signature": False})["aal"])


def test_enroll_challenge_verify_raises_the_session_to_aal2(auth_node: AuthNode) -> None:
    client, email = signed_up(auth_node)
    response = client.auth.mfa.enroll(
        {"factor_type": "totp", "friendly_name": "laptop", "issuer": "Performer Tests"}
    )
    assert response.type == "totp" and response.friendly_name == "laptop"
    totp = response.totp
    assert totp is not None
    assert totp.qr_code.startswith("data:image/svg+xml;utf-8,<svg")
    parsed = pyotp.parse_uri(totp.uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == totp.secret and parsed.digits == 6 and parsed.interval == 30
    assert parsed.issuer == "Performer Tests" and parsed.name == email

    level = client.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal1", "aal1")
    factors = client.auth.mfa.list_factors()
    assert [f.status for f in factors.all] == ["unverified"] and factors.totp == []

    challenge = client.auth.mfa.challenge({"factor_id": response.id})
    assert challenge.factor_type == "totp" and challenge.expires_at > time.time()
    verified = client.auth.mfa.verify(
        {"factor_id": response.id, "challenge_id": challenge.id, "code": parsed.now()}
    )
    assert verified.access_token and verified.user.id
    assert aal_of(client) == "aal2"
    level = client.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal2", "aal2")
    assert {m.method for m in level.current_authentication_methods} >= {"password", "totp"}
    factors = client.auth.mfa.list_factors()
    assert [f.id for f in factors.totp] == [response.id]
    assert factors.totp[0].status == "verified"

    refreshed = client.auth.refresh_session().session
    assert refreshed is not None and aal_of(client) == "aal2"


def test_a_new_sign_in_needs_the_second_factor_again(auth_node: AuthNode) -> None:
    client, email = signed_up(auth_node)
    factor_id, totp = enrolled(client)
    client.auth.mfa.challenge_and_verify({"factor_id": factor_id, "code": totp.now()})

    other = signed_in(auth_node, email)
    level = other.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal1", "aal2")
    other.auth.mfa.challenge_and_verify({"factor_id": factor_id, "code": totp.now()})
    assert aal_of(other) == "aal2"


def test_wrong_codes_and_spent_challenges_are_refused(auth_node: AuthNode) -> None:
    client, _ = signed_up(auth_node)
    factor_id, totp = enrolled(client)
    challenge = client.auth.mfa.challenge({"factor_id": factor_id})
    wrong = f"{(int(totp.now()) + 500_000) % 1_000_000:06d}"
    with pytest.raises(AuthApiError) as caught:
        client.auth.mfa.verify(
            {"factor_id": factor_id, "challenge_id": challenge.id, "code": wrong}
        )
    check_api_error(caught.value, 422, "mfa_verification_failed", "Invalid TOTP code entered")
    assert aal_of(client) == "aal1"

    client.auth.mfa.verify(
        {"factor_id": factor_id, "challenge_id": challenge.id, "code": totp.now()}
    )
    with pytest.raises(AuthApiError) as spent:
        client.auth.mfa.verify(
            {"factor_id": factor_id, "challenge_id": challenge.id, "code": totp.now()}
        )
    check_api_error(spent.value, 404, "mfa_challenge_not_found")

    with pytest.raises(AuthApiError) as name_taken:
        enrolled(client)
    check_api_error(name_taken.value, 422, "mfa_factor_name_conflict")


def test_another_users_factor_is_not_found(auth_node: AuthNode) -> None:
    owner, _ = signed_up(auth_node)
    factor_id, _ = enrolled(owner)
    intruder, _ = signed_up(auth_node)
    with pytest.raises(AuthApiError) as caught:
        intruder.auth.mfa.challenge({"factor_id": factor_id})
    check_api_error(caught.value, 404, "mfa_factor_not_found")
    with pytest.raises(AuthApiError):
        intruder.auth.mfa.unenroll({"factor_id": factor_id})


def test_unenroll_a_verified_factor_needs_aal2(auth_node: AuthNode) -> None:
    client, email = signed_up(auth_node)
    factor_id, totp = enrolled(client)
    client.auth.mfa.challenge_and_verify({"factor_id": factor_id, "code": totp.now()})

    weaker = signed_in(auth_node, email)
    with pytest.raises(AuthApiError) as caught:
        weaker.auth.mfa.unenroll({"factor_id": factor_id})
    check_api_error(caught.value, 403, "insufficient_aal")

    assert client.auth.mfa.unenroll({"factor_id": factor_id}).id == factor_id
    assert client.auth.mfa.list_factors().all == []
    level = weaker.auth.mfa.get_authenticator_assurance_level()
    assert level.current_level == "aal1"


def test_an_unverified_factor_unenrolls_at_aal1(auth_node: AuthNode) -> None:
    client, _ = signed_up(auth_node)
    factor_id, _ = enrolled(client)
    assert client.auth.mfa.unenroll({"factor_id": factor_id}).id == factor_id
    assert client.auth.mfa.list_factors().all == []


def test_admin_lists_and_deletes_factors(auth_node: AuthNode) -> None:
    client, _ = signed_up(auth_node)
    first, totp = enrolled(client, "first")
    client.auth.mfa.challenge_and_verify({"factor_id": first, "code": totp.now()})
    second, _ = enrolled(client, "second")
    user = client.auth.get_user()
    assert user is not None
    admin = create_client(auth_node.url, auth_node.service_key).auth.admin

    factors = admin.mfa.list_factors({"user_id": user.user.id})
    assert {(f.id, f.status) for f in factors} == {(first, "verified"), (second, "unverified")}
    assert all(f.factor_type == "totp" for f in factors)
    assert admin.mfa.delete_factor({"user_id": user.user.id, "id": first}).id == first
    assert [f.id for f in admin.mfa.list_factors({"user_id": user.user.id})] == [second]
    with pytest.raises(AuthApiError) as caught:
        admin.mfa.delete_factor({"user_id": user.user.id, "id": first})
    check_api_error(caught.value, 404, "mfa_factor_not_found")
