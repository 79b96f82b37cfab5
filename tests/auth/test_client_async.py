"""The async `supabase` client (`acreate_client` / `AsyncClient`) through every auth endpoint.

The same contract as the sync modules, walked once per area: sessions, email codes and links,
MFA, the admin API and the errors the client raises.
"""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pyotp
import pytest
from auth_support import (
    NO_RATE_LIMITS,
    PASSWORD,
    AuthNode,
    check_api_error,
    code_of,
    follow_verify_link_async,
    query_of,
    running_node,
    unique_email,
    unique_phone,
)
from supabase import AClientOptions, AsyncClient, acreate_client
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

pytestmark = pytest.mark.network

APP = "http://localhost:3000"


@pytest.fixture(scope="module")
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    with running_node(tmp_path_factory.mktemp("async"), *NO_RATE_LIMITS) as started:
        yield started


async def new_client(node: AuthNode, key: str | None = None, flow: str = "pkce") -> AsyncClient:
    options = AClientOptions(flow_type=flow)  # type: ignore[arg-type]
    return await acreate_client(node.url, key or node.anon_key, options)


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_async_sessions(auth_node: AuthNode) -> None:
    email = unique_email("async")
    client = await new_client(auth_node)
    signed_up = await client.auth.sign_up(
        {"email": email, "password": PASSWORD, "options": {"data": {"a": 1}}}
    )
    assert signed_up.session is not None and signed_up.user is not None
    assert signed_up.user.app_metadata["provider"] == "email"

    user = await client.auth.get_user()
    assert user is not None and user.user.email == email

    refreshed = await client.auth.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != signed_up.session.refresh_token

    updated = await client.auth.update_user({"data": {"b": 2}, "password": "async-new-pass"})
    assert updated.user.user_metadata == {"a": 1, "b": 2}

    other = await new_client(auth_node)
    signed_in = await other.auth.sign_in_with_password(
        {"email": email, "password": "async-new-pass"}
    )
    assert signed_in.session is not None

    third = await new_client(auth_node)
    restored = await third.auth.set_session(
        signed_in.session.access_token, signed_in.session.refresh_token
    )
    assert restored.user is not None and restored.user.email == email

    claims = await client.auth.get_claims()
    assert claims is not None and claims["claims"]["email"] == email
    assert claims["headers"]["alg"] == "ES256" and claims["headers"]["kid"]

    # others: only `client` keeps its session; then local ends that one too.
    await client.auth.sign_out({"scope": "others"})
    for gone in (other, third):
        session = await gone.auth.get_session()
        assert session is not None
        with pytest.raises(AuthApiError) as caught:
            await gone.auth.refresh_session(session.refresh_token)
        check_api_error(caught.value, 400, "refresh_token_not_found")
    kept = await client.auth.get_session()
    assert kept is not None
    await client.auth.sign_out({"scope": "local"})
    assert await client.auth.get_session() is None
    with pytest.raises(AuthApiError):
        await (await new_client(auth_node)).auth.refresh_session(kept.refresh_token)

    again = await new_client(auth_node)
    await again.auth.sign_in_with_password({"email": email, "password": "async-new-pass"})
    await again.auth.sign_out()
    assert await again.auth.get_session() is None


async def test_async_anonymous_and_phone(auth_node: AuthNode) -> None:
    client = await new_client(auth_node)
    anonymous = await client.auth.sign_in_anonymously()
    assert anonymous.user is not None and anonymous.user.is_anonymous is True
    assert anonymous.session is not None
    assert claims_of(anonymous.session.access_token)["is_anonymous"] is True

    phone = unique_phone()
    phoned = await (await new_client(auth_node)).auth.sign_up(
        {"phone": f"+{phone}", "password": PASSWORD}
    )
    assert phoned.user is not None and phoned.user.phone == phone
    signed_in = await (await new_client(auth_node)).auth.sign_in_with_password(
        {"phone": f"+{phone}", "password": PASSWORD}
    )
    assert signed_in.user is not None and signed_in.user.id == phoned.user.id


async def test_async_email_codes_and_links(auth_node: AuthNode) -> None:
    email = unique_email("asynclinks")
    await (await new_client(auth_node)).auth.sign_up({"email": email, "password": PASSWORD})

    client = await new_client(auth_node, flow="implicit")
    await client.auth.sign_in_with_otp({"email": email})
    code = code_of(await auth_node.mail_to_async(email, "magiclink"))
    verified = await client.auth.verify_otp({"email": email, "token": code, "type": "email"})
    assert verified.session is not None

    pkce = await new_client(auth_node)
    await pkce.auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": APP}})
    link = (await auth_node.mail_to_async(email, "magiclink"))["action_link"]
    location = (await follow_verify_link_async(auth_node, link)).headers["location"]
    exchanged = await pkce.auth.exchange_code_for_session(
        {"auth_code": query_of(location)["code"], "redirect_to": ""}
    )
    assert exchanged.user is not None and exchanged.user.email == email

    await pkce.auth.reset_password_for_email(email, {"redirect_to": f"{APP}/reset"})
    recovery = code_of(await auth_node.mail_to_async(email, "recovery"))
    recovered = await client.auth.verify_otp(
        {"email": email, "token": recovery, "type": "recovery"}
    )
    assert recovered.session is not None

    await client.auth.reauthenticate()
    assert (await auth_node.mail_to_async(email, "reauthentication"))["body"]
    await client.auth.resend({"type": "signup", "email": email})

    with pytest.raises(AuthApiError) as caught:
        await client.auth.verify_otp({"email": email, "token": code, "type": "email"})
    check_api_error(caught.value, 403, "otp_expired", "Token has expired or is invalid")


async def test_async_mfa(auth_node: AuthNode) -> None:
    client = await new_client(auth_node)
    await client.auth.sign_up({"email": unique_email("asyncmfa"), "password": PASSWORD})
    enrolled = await client.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "async"})
    assert enrolled.totp is not None
    totp = pyotp.TOTP(enrolled.totp.secret)
    challenge = await client.auth.mfa.challenge({"factor_id": enrolled.id})
    await client.auth.mfa.verify(
        {"factor_id": enrolled.id, "challenge_id": challenge.id, "code": totp.now()}
    )
    level = await client.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal2", "aal2")
    factors = await client.auth.mfa.list_factors()
    assert [f.id for f in factors.totp] == [enrolled.id]
    await client.auth.mfa.challenge_and_verify({"factor_id": enrolled.id, "code": totp.now()})
    assert (await client.auth.mfa.unenroll({"factor_id": enrolled.id})).id == enrolled.id
    assert (await client.auth.mfa.list_factors()).all == []


async def test_async_admin(auth_node: AuthNode) -> None:
    admin = (await new_client(auth_node, auth_node.service_key)).auth.admin
    email = unique_email("asyncadmin")
    user = (
        await admin.create_user(
            {"email": email, "password": PASSWORD, "email_confirm": True, "app_metadata": {"x": 1}}
        )
    ).user
    assert user.app_metadata == {"x": 1, "provider": "email", "providers": ["email"]}
    assert (await admin.get_user_by_id(user.id)).user.email == email
    listed = await admin.list_users(page=1, per_page=1000)
    assert user.id in {u.id for u in listed}

    banned = (await admin.update_user_by_id(user.id, {"ban_duration": "24h"})).user
    assert banned.banned_until is not None
    client = await new_client(auth_node)
    with pytest.raises(AuthApiError) as caught:
        await client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    check_api_error(caught.value, 400, "user_banned", "User is banned")
    await admin.update_user_by_id(user.id, {"ban_duration": "none"})
    await client.auth.sign_in_with_password({"email": email, "password": PASSWORD})

    enrolled = await client.auth.mfa.enroll({"factor_type": "totp"})
    factors = await admin.mfa.list_factors({"user_id": user.id})
    assert [f.id for f in factors] == [enrolled.id]
    deleted = await admin.mfa.delete_factor({"user_id": user.id, "id": enrolled.id})
    assert deleted.id == enrolled.id

    invited = (await admin.invite_user_by_email(unique_email("asyncinvite"))).user
    assert invited.invited_at is not None
    for link_type in ("signup", "invite", "magiclink", "recovery"):
        target = email if link_type in ("magiclink", "recovery") else unique_email(link_type)
        params = {"type": link_type, "email": target, "password": PASSWORD}
        link = await admin.generate_link(params)  # type: ignore[arg-type]
        assert link.properties.verification_type == link_type
        assert link.properties.action_link and link.properties.hashed_token
    for link_type in ("email_change_current", "email_change_new"):
        params = {"type": link_type, "email": email, "new_email": unique_email("asyncnew")}
        link = await admin.generate_link(params)  # type: ignore[arg-type]
        assert link.properties.verification_type == link_type

    await admin.delete_user(user.id, should_soft_delete=True)
    with pytest.raises(AuthApiError) as gone:
        await admin.get_user_by_id(user.id)
    check_api_error(gone.value, 404, "user_not_found")
    await admin.delete_user(invited.id)
    with pytest.raises(AuthApiError):
        await admin.get_user_by_id(invited.id)


async def test_async_errors(auth_node: AuthNode) -> None:
    client = await new_client(auth_node)
    with pytest.raises(AuthApiError) as bad:
        await client.auth.sign_in_with_password(
            {"email": unique_email("nobody"), "password": PASSWORD}
        )
    check_api_error(bad.value, 400, "invalid_credentials", "Invalid login credentials")
    with pytest.raises(AuthWeakPasswordError) as weak:
        await client.auth.sign_up({"email": unique_email("weak"), "password": "1"})
    assert weak.value.reasons == ["length"] and weak.value.status == 422
    with pytest.raises(AuthApiError) as not_admin:
        await client.auth.admin.list_users()
    check_api_error(not_admin.value, 403, "not_admin", "User not allowed")
    with pytest.raises(AuthApiError) as sso:
        await client.auth.sign_in_with_sso({"domain": "example.com"})
    check_api_error(sso.value, 404, "saml_provider_disabled", "SAML 2.0 is disabled")
    with pytest.raises(AuthApiError) as unknown:
        await client.auth.refresh_session("nope")
    check_api_error(unknown.value, 400, "refresh_token_not_found")
