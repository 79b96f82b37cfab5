"""Buckets through supabase-py: CRUD, public/private, size limits and mime types, SQL-declared
buckets, and the error shapes storage3 parses."""

from __future__ import annotations

import httpx
from conftest import RunningNode
from supabase import Client

from .conftest import new_bucket, storage_error


def test_create_get_list_update_delete(service: Client) -> None:
    bucket_id = new_bucket(service, public=True, file_size_limit="1MB")
    bucket = service.storage.get_bucket(bucket_id)
    assert (bucket.id, bucket.name, bucket.public, bucket.owner) == (bucket_id, bucket_id, True, "")
    assert bucket.file_size_limit == 1_000_000
    assert bucket.allowed_mime_types is None
    assert bucket_id in {b.id for b in service.storage.list_buckets()}
    answer = service.storage.update_bucket(
        bucket_id, {"public": False, "file_size_limit": 10, "allowed_mime_types": ["image/*"]}
    )
    assert answer == {"message": "Successfully updated"}
    updated = service.storage.get_bucket(bucket_id)
    assert (updated.public, updated.file_size_limit) == (False, 10)
    assert updated.allowed_mime_types == ["image/*"]
    assert service.storage.delete_bucket(bucket_id) == {"message": "Successfully deleted"}
    error = storage_error(lambda: service.storage.get_bucket(bucket_id))
    assert (error.status, error.code) == ("404", "Bucket not found")


def test_duplicate_bucket_is_a_409_in_the_body(service: Client) -> None:
    bucket_id = new_bucket(service)
    error = storage_error(lambda: service.storage.create_bucket(bucket_id))
    assert (error.status, error.code) == ("409", "Duplicate")


def test_delete_refuses_a_bucket_with_objects_until_emptied(service: Client) -> None:
    bucket_id = new_bucket(service)
    service.storage.from_(bucket_id).upload("a/b.txt", b"x")
    error = storage_error(lambda: service.storage.delete_bucket(bucket_id))
    assert error.status == "409"
    assert "message" in service.storage.empty_bucket(bucket_id)
    assert service.storage.from_(bucket_id).list("a") == []
    service.storage.delete_bucket(bucket_id)


def test_size_limit_strings_and_bad_options(service: Client) -> None:
    for given, expected in (("1MB", 1_000_000), ("30KB", 30_000), ("3B", 3), (2048, 2048)):
        bucket_id = new_bucket(service, file_size_limit=given)
        assert service.storage.get_bucket(bucket_id).file_size_limit == expected
    for bad in ({"file_size_limit": "lots"}, {"allowed_mime_types": ["not a type"]}):
        error = storage_error(lambda bad=bad: new_bucket(service, **bad))
        assert error.status == "400"
    error = storage_error(lambda: service.storage.create_bucket("../etc"))
    assert error.status == "400"


def test_file_size_limit_and_mime_types_are_enforced(service: Client) -> None:
    bucket_id = new_bucket(service, file_size_limit=10, allowed_mime_types=["image/*"])
    files = service.storage.from_(bucket_id)
    files.upload("ok.png", b"0123456789", {"content-type": "image/png"})
    too_big = storage_error(
        lambda: files.upload("big.png", b"01234567890", {"content-type": "image/png"})
    )
    assert (too_big.status, too_big.code) == ("413", "Payload too large")
    wrong_type = storage_error(
        lambda: files.upload("doc.txt", b"hi", {"content-type": "text/plain"})
    )
    assert (wrong_type.status, wrong_type.code) == ("415", "invalid_mime_type")
    assert [o["name"] for o in files.list()] == ["ok.png"]


def test_buckets_declared_in_migrations(service: Client) -> None:
    avatars = service.storage.get_bucket("avatars")
    assert (avatars.public, avatars.created_at is not None) == (False, True)
    images = service.storage.get_bucket("images")
    assert (images.public, images.file_size_limit) == (True, 2000)
    assert images.allowed_mime_types == ["image/*", "text/plain"]


def test_anon_sees_no_bucket_without_a_policy(anon: Client) -> None:
    assert anon.storage.list_buckets() == []
    error = storage_error(lambda: anon.storage.create_bucket("anon-made"))
    assert (error.status, error.code) == ("403", "Unauthorized")


def test_errors_are_http_400_with_the_status_in_the_body(node: RunningNode) -> None:
    response = httpx.get(
        f"{node.url}/storage/v1/bucket/missing", headers={"apikey": node.key("service_role")}
    )
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": "404",
        "code": "NoSuchBucket",
        "error": "Bucket not found",
        "message": "Bucket not found",
    }
