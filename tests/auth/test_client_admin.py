"""The admin API through the sync client created with the service_role key.

Users: create, list (paging headers read with raw httpx), get, update, ban, delete; invites;
`generate_link` for every type, each link then used the way an app would use it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

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
    running_node,
    unique_email,
    unique_phone,
)
from supabase import Client, ClientOptions, create_client
from supabase_auth import SyncGoTrueAdminAPI
from supabase_auth.errors import AuthApiError
from supabase_auth.types import User

pytestmark = pytest.mark.network

SITE_URL = "http://localhost:3000"


@pytest.fixture(scope="module")
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthNode]:
    with running_node(tmp_path_factory.mktemp("admin"), *NO_RATE_LIMITS) as started:
        yield started


@pytest.fixture
def admin(auth_node: AuthNode) -> SyncGoTrueAdminAPI:
    return create_client(auth_node.url, auth_node.service_key).auth.admin


def user_client(auth_node: AuthNode) -> Client:
    return create_client(auth_node.url, auth_node.anon_key, ClientOptions(flow_type="implicit"))


def sign_in(auth_node: AuthNode, email: str, password: str = PASSWORD) -> Client:
    client = user_client(auth_node)
    client.auth.sign_in_with_password({"email": email, "password": password})
    return client


def created(admin: SyncGoTrueAdminAPI, prefix: str = "admin") -> User:
    email = unique_email(prefix)
    return admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True}).user


def test_create_user_adds_the_provider_to_app_metadata(
    admin: SyncGoTrueAdminAPI, auth_node: AuthNode
) -> None:
    email = unique_email("create")
    user = admin.create_user(
        {
            "email": email,
            "password": PASSWORD,
            "email_confirm": True,
            "user_metadata": {"name": "Grace"},
            "app_metadata": {"plan": "pro"},
        }
    ).user
    assert user.email == email and user.email_confirmed_at is not None
    assert user.app_metadata == {"plan": "pro", "provider": "email", "providers": ["email"]}
    assert user.user_metadata == {"name": "Grace"}
    assert user.identities and user.identities[0].identity_data["email"] == email
    session = sign_in(auth_node, email).auth.get_session()
    assert session is not None and session.user.app_metadata["plan"] == "pro"

    with pytest.raises(AuthApiError) as caught:
        admin.create_user({"email": email, "password": PASSWORD})
    check_api_error(
        caught.value,
        422,
        "email_exists",
        "A user with this email address has already been registered",
    )


def test_create_user_with_an_id_and_a_phone(admin: SyncGoTrueAdminAPI, auth_node: AuthNode) -> None:
    wanted, phone = str(uuid.uuid4()), unique_phone()
    user = admin.create_user(
        {"id": wanted, "phone": phone, "password": PASSWORD, "phone_confirm": True}
    ).user
    assert user.id == wanted and user.phone == phone
    assert user.app_metadata == {"provider": "phone", "providers": ["phone"]}
    signed_in = user_client(auth_node).auth.sign_in_with_password(
        {"phone": phone, "password": PASSWORD}
    )
    assert signed_in.user is not None and signed_in.user.id == wanted


def test_list_users_pages_with_total_and_link_headers(
    admin: SyncGoTrueAdminAPI, auth_node: AuthNode
) -> None:
    for _ in range(3):
        created(admin, "page")
    assert len(admin.list_users()) >= 3  # sends `page=&per_page=`: the defaults
    everyone = admin.list_users(per_page=1000)
    total = len(everyone)
    assert total >= 3

    response = httpx.get(
        f"{auth_node.auth_url}/admin/users",
        params={"page": "1", "per_page": "2"},
        headers=auth_node.admin_headers(),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["aud"] == "authenticated"
    assert len(response.json()["users"]) == 2
    assert response.headers["x-total-count"] == str(total)
    last = -(-total // 2)
    assert response.headers["link"] == (
        f'</admin/users?page=2&per_page=2>; rel="next", '
        f'</admin/users?page={last}&per_page=2>; rel="last"'
    )
    on_last = httpx.get(
        f"{auth_node.auth_url}/admin/users",
        params={"page": str(last), "per_page": "2"},
        headers=auth_node.admin_headers(),
        timeout=30,
    )
    assert 'rel="next"' not in on_last.headers["link"]

    pages = [admin.list_users(page=p, per_page=2) for p in range(1, last + 1)]
    assert [u.id for page in pages for u in page] == [u.id for u in everyone]
    assert admin.list_users(page=last + 1, per_page=2) == []


def test_get_user_by_id(admin: SyncGoTrueAdminAPI) -> None:
    user = created(admin, "get")
    fetched = admin.get_user_by_id(user.id).user
    assert fetched.id == user.id and fetched.email == user.email
    with pytest.raises(AuthApiError) as caught:
        admin.get_user_by_id(str(uuid.uuid4()))
    check_api_error(caught.value, 404, "user_not_found", "User not found")


def test_update_user_by_id_merges_metadata_and_sets_a_password(
    admin: SyncGoTrueAdminAPI, auth_node: AuthNode
) -> None:
    user = created(admin, "update")
    admin.update_user_by_id(user.id, {"user_metadata": {"a": 1}, "app_metadata": {"tier": 1}})
    updated = admin.update_user_by_id(
        user.id, {"user_metadata": {"b": 2}, "password": "set-by-admin"}
    ).user
    assert updated.user_metadata == {"a": 1, "b": 2}
    assert updated.app_metadata["tier"] == 1 and updated.app_metadata["provider"] == "email"
    assert sign_in(auth_node, str(user.email), "set-by-admin").auth.get_session()


def test_ban_duration_blocks_sign_in_until_lifted(
    admin: SyncGoTrueAdminAPI, auth_node: AuthNode
) -> None:
    user = created(admin, "ban")
    email = str(user.email)
    session = sign_in(auth_node, email).auth.get_session()
    assert session is not None

    banned = admin.update_user_by_id(user.id, {"ban_duration": "24h"}).user
    assert banned.banned_until is not None
    until = datetime.fromisoformat(str(banned.banned_until).replace("Z", "+00:00"))
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
    with pytest.raises(AuthApiError) as caught:
        user_client(auth_node).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    check_api_error(caught.value, 400, "user_banned", "User is banned")
    with pytest.raises(AuthApiError) as refresh:
        user_client(auth_node).auth.refresh_session(session.refresh_token)
    check_api_error(refresh.value, 400, "user_banned")

    lifted = admin.update_user_by_id(user.id, {"ban_duration": "none"}).user
    assert lifted.banned_until is None
    assert sign_in(auth_node, email).auth.get_session()

    with pytest.raises(AuthApiError) as bad:
        admin.update_user_by_id(user.id, {"ban_duration": "forever"})
    check_api_error(bad.value, 400, "validation_failed")


@pytest.mark.parametrize("soft", [True, False], ids=["soft", "hard"])
def test_delete_user(admin: SyncGoTrueAdminAPI, auth_node: AuthNode, soft: bool) -> None:
    user = created(admin, "delete")
    email = str(user.email)
    client = sign_in(auth_node, email)
    session = client.auth.get_session()
    assert session is not None

    admin.delete_user(user.id, should_soft_delete=soft)
    with pytest.raises(AuthApiError) as gone:
        admin.get_user_by_id(user.id)
    check_api_error(gone.value, 404, "user_not_found")
    assert user.id not in {u.id for u in admin.list_users(per_page=1000)}
    with pytest.raises(AuthApiError) as sign_in_error:
        user_client(auth_node).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    check_api_error(sign_in_error.value, 400, "invalid_credentials")
    with pytest.raises(AuthApiError) as token_error:
        client.auth.get_user(session.access_token)
    assert token_error.value.status == 403
    with pytest.raises(AuthApiError):
        user_client(auth_node).auth.refresh_session(session.refresh_token)

    # The address is free again.
    again = admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})
    assert again.user.id != user.id
    with pytest.raises(AuthApiError) as twice:
        admin.delete_user(user.id)
    check_api_error(twice.value, 404, "user_not_found")


def test_invite_user_by_email(admin: SyncGoTrueAdminAPI, auth_node: AuthNode) -> None:
    email = unique_email("invite")
    user = admin.invite_user_by_email(
        email, {"data": {"team": "blue"}, "redirect_to": f"{SITE_URL}/welcome"}
    ).user
    assert user.invited_at is not None and user.email == email
    assert user.user_metadata == {"team": "blue"} and user.email_confirmed_at is None
    message = auth_node.mail_to(email, "invite")
    assert "type=invite" in message["action_link"]
    assert "redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fwelcome" in message["action_link"]

    client = user_client(auth_node)
    response = client.auth.verify_otp({"email": email, "token": code_of(message), "type": "invite"})
    assert response.user is not None and response.user.email_confirmed_at is not None
    client.auth.update_user({"password": "chosen-after-invite"})
    assert sign_in(auth_node, email, "chosen-after-invite").auth.get_session()

    with pytest.raises(AuthApiError) as caught:
        admin.invite_user_by_email(email)
    check_api_error(caught.value, 422, "email_exists")


LINK_FIELDS = ("action_link", "email_otp", "hashed_token", "redirect_to", "verification_type")


def test_generate_link_answers_flat_user_and_link_fields(
    admin: SyncGoTrueAdminAPI, auth_node: AuthNode
) -> None:
    email = unique_email("flat")
    response = httpx.post(
        f"{auth_node.auth_url}/admin/generate_link",
        params={"redirect_to": f"{SITE_URL}/flat"},
        json={"type": "signup", "email": email, "password": PASSWORD},
        headers=auth_node.admin_headers(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert all(isinstance(body[field], str) for field in LINK_FIELDS)
    assert body["email"] == email and body["aud"] == "authenticated" and "id" in body
    assert "properties" not in body and "user" not in body
    assert body["redirect_to"] == f"{SITE_URL}/flat"
    assert re.fullmatch(r"\d{6}", body["email_otp"])
    assert re.fullmatch(r"[0-9a-f]{64}", body["hashed_token"])
    # Generated links are for the app to send: nothing goes to the outbox.
    assert auth_node.mails_to(email) == []


def test_generate_link_signup(admin: SyncGoTrueAdminAPI, auth_node: AuthNode) -> None:
    email = unique_email("gensignup")
    link = admin.generate_link({"type": "signup", "email": email, "password": PASSWORD})
    props = link.properties
    assert props.verification_type == "signup" and props.redirect_to == SITE_URL
    assert "type=signup" in props.action_link and props.hashed_token in props.action_link
    assert link.user.email == email and link.user.email_confirmed_at is None
    client = user_client(auth_node)
    verified = client.auth.verify_otp({"token_hash": props.hashed_token, "type": "signup"})
    assert verified.user is not None and verified.user.email_confirmed_at is not None
    assert sign_in(auth_node, email).auth.get_session()


def test_generate_link_invite(admin: SyncGoTrueAdminAPI, auth_node: AuthNode) -> None:
    email = unique_email("geninvite")
    link = admin.generate_link(
        {"type": "invite", "email": email, "options": {"redirect_to": f"{SITE_URL}/join"}}
    )
    assert link.properties.verification_type == "invite"
    assert link.user.invited_at is not None
    location = follow_verify_link(auth_node, link.properties.action_link).headers["location"]
    assert location.startswith(f"{SITE_URL}/join#")
    fragment = fragment_of(location)
    assert fragment["type"] == "invite" and fragment["access_token"]


def test_generate_link_magiclink(admin: SyncGoTrueAdminAPI, auth_node: AuthNode) -> None:
    user = created(admin, "genmagic")
    link = admin.generate_link({"type": "magiclink", "email": str(user.email)})
    assert link.properties.verification_type == "magiclink"
    assert link.user.id == user.id
    response = user_client(auth_node).auth.verify_otp(
        {"email": str(user.email), "token": link.properties.email_otp, "type": "magiclink"}
    )
    assert response.user is not None and response.user.id == user.id


def test_generate_link_recovery(admin: SyncGoTrueAdminAPI, auth_node: AuthNode) -> None:
    user = created(admin, "genrecovery")
    link = admin.generate_link({"type": "recovery", "email": str(user.email)})
    assert link.properties.verification_type == "recovery"
    client = user_client(auth_node)
    response = client.auth.verify_otp(
        {"token_hash": link.properties.hashed_token, "type": "recovery"}
    )
    assert response.user is not None and response.user.id == user.id

    with pytest.raises(AuthApiError) as caught:
        admin.generate_link({"type": "recovery", "email": unique_email("nobody")})
    check_api_error(caught.value, 404, "user_not_found")


@pytest.mark.parametrize("link_type", ["email_change_current", "email_change_new"])
def test_generate_link_email_change(
    admin: SyncGoTrueAdminAPI, auth_node: AuthNode, link_type: str
) -> None:
    user = created(admin, "genchange")
    new_email = unique_email("genchanged")
    link = admin.generate_link(
        {"type": link_type, "email": str(user.email), "new_email": new_email}  # type: ignore[typeddict-item]
    )
    props = link.properties
    assert props.verification_type == link_type
    assert "type=email_change" in props.action_link
    assert link.user.new_email == new_email
    response = user_client(auth_node).auth.verify_otp(
        {"token_hash": props.hashed_token, "type": "email_change"}
    )
    assert response.user is not None and response.user.id == user.id
    assert admin.get_user_by_id(user.id).user.email == new_email
