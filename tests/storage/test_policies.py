"""Policies on storage.objects from the migration (each user owns the folder named by their id
in `avatars`): user B cannot read, list, overwrite, move into, copy into, sign URLs for or
remove user A's objects; service_role bypasses; a `to public` policy lets anyone read."""

from __future__ import annotations

import httpx
import pytest
from conftest import RunningNode, signed_up
from supabase import Client

from .conftest import storage_error

BUCKET = "avatars"


@pytest.fixture(scope="module")
def alice(node: RunningNode) -> tuple[Client, str]:
    client, user_id = signed_up(node)
    client.storage.from_(BUCKET).upload(f"{user_id}/me.txt", b"alice's")
    client.storage.from_(BUCKET).upload(f"{user_id}/public-face.png", b"png")
    return client, user_id


@pytest.fixture(scope="module")
def bob(node: RunningNode) -> tuple[Client, str]:
    client, user_id = signed_up(node)
    client.storage.from_(BUCKET).upload(f"{user_id}/mine.txt", b"bob's")
    return client, user_id


def test_owner_reads_lists_and_updates_own_folder(alice: tuple[Client, str]) -> None:
    client, me = alice
    files = client.storage.from_(BUCKET)
    assert files.download(f"{me}/me.txt") == b"alice's"
    assert [e["name"] for e in files.list(me)] == ["me.txt", "public-face.png"]
    files.upload(f"{me}/me.txt", b"alice v2", {"upsert": "true"})
    assert files.download(f"{me}/me.txt") == b"alice v2"


def test_other_user_cannot_read_or_list(alice: tuple[Client, str], bob: tuple[Client, str]) -> None:
    _, alice_id = alice
    files = bob[0].storage.from_(BUCKET)
    error = storage_error(lambda: files.download(f"{alice_id}/me.txt"))
    assert (error.status, error.code) == ("404", "not_found")
    assert not files.exists(f"{alice_id}/me.txt")
    assert [e["name"] for e in files.list(alice_id)] == ["public-face.png"]
    flat = files.list_v2({"prefix": f"{alice_id}/"})
    assert [o.name for o in flat.objects] == [f"{alice_id}/public-face.png"]


def test_other_user_cannot_write_overwrite_or_remove(
    alice: tuple[Client, str], bob: tuple[Client, str]
) -> None:
    alice_client, alice_id = alice
    files = bob[0].storage.from_(BUCKET)
    denied = storage_error(lambda: files.upload(f"{alice_id}/planted.txt", b"x"))
    assert (denied.status, denied.code) == ("403", "Unauthorized")
    overwrite = storage_error(
        lambda: files.upload(f"{alice_id}/me.txt", b"bob was here", {"upsert": "true"})
    )
    assert overwrite.status == "403"
    assert files.remove([f"{alice_id}/me.txt"]) == []
    assert alice_client.storage.from_(BUCKET).download(f"{alice_id}/me.txt").startswith(b"alice")


def test_other_user_cannot_move_or_copy_across_folders(
    alice: tuple[Client, str], bob: tuple[Client, str]
) -> None:
    _, alice_id = alice
    _, bob_id = bob
    files = bob[0].storage.from_(BUCKET)
    into = storage_error(lambda: files.move(f"{bob_id}/mine.txt", f"{alice_id}/mine.txt"))
    assert into.status == "403"
    out_of = storage_error(lambda: files.move(f"{alice_id}/me.txt", f"{bob_id}/stolen.txt"))
    assert out_of.status == "404"
    copy_in = storage_error(lambda: files.copy(f"{bob_id}/mine.txt", f"{alice_id}/copy.txt"))
    assert copy_in.status == "403"
    copy_out = storage_error(lambda: files.copy(f"{alice_id}/me.txt", f"{bob_id}/copy.txt"))
    assert copy_out.status == "404"
    assert files.download(f"{bob_id}/mine.txt") == b"bob's"


def test_other_user_cannot_sign_urls(alice: tuple[Client, str], bob: tuple[Client, str]) -> None:
    _, alice_id = alice
    files = bob[0].storage.from_(BUCKET)
    assert storage_error(lambda: files.create_signed_url(f"{alice_id}/me.txt", 60)).status == "404"
    (item,) = files.create_signed_urls([f"{alice_id}/me.txt"], 60)
    assert item["signedURL"] is None and item["error"]
    upload = storage_error(lambda: files.create_signed_upload_url(f"{alice_id}/new.txt"))
    assert upload.status == "403"


def test_public_policy_service_role_and_anon(
    node: RunningNode, service: Client, anon: Client, alice: tuple[Client, str]
) -> None:
    _, alice_id = alice
    assert anon.storage.from_(BUCKET).download(f"{alice_id}/public-face.png") == b"png"
    assert (
        storage_error(lambda: anon.storage.from_(BUCKET).download(f"{alice_id}/me.txt")).status
        == "404"
    )
    assert service.storage.from_(BUCKET).download(f"{alice_id}/me.txt").startswith(b"alice")
    response = httpx.get(f"{node.url}/storage/v1/object/public/{BUCKET}/{alice_id}/public-face.png")
    assert response.json()["statusCode"] == "404"  # avatars is private: no public URLs
