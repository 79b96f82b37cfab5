"""Signed URLs through supabase-py: download and upload without credentials, and the tokens a
node refuses (tampered, expired, made for another object or another operation, foreign key)."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import RunningNode
from storage3.types import CreateSignedUploadUrlOptions
from supabase import Client

from performer_edge.core.tokens import TokenKeys, generate_es256_key

from .conftest import new_bucket, node_signing_keys, storage_error


@pytest.fixture(scope="module")
def bucket(service: Client) -> str:
    bucket_id = new_bucket(service)
    files = service.storage.from_(bucket_id)
    files.upload("docs/a.txt", b"alpha")
    files.upload("docs/b.txt", b"bravo")
    return bucket_id


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def object_url(node: RunningNode, bucket: str, name: str, token: str) -> str:
    return f"{node.url}/storage/v1/object/sign/{bucket}/{name}?token={token}"


def test_signed_download_needs_no_credentials(service: Client, bucket: str) -> None:
    files = service.storage.from_(bucket)
    signed = files.create_signed_url("docs/a.txt", 60)
    response = httpx.get(signed["signedURL"])
    assert (response.status_code, response.content) == (200, b"alpha")
    named = files.create_signed_url("docs/a.txt", 60, {"download": "alpha.txt"})
    disposition = httpx.get(named["signedURL"]).headers["content-disposition"]
    assert disposition == "attachment; filename=alpha.txt; filename*=UTF-8''alpha.txt"


def test_signed_urls_in_bulk_report_missing_objects(service: Client, bucket: str) -> None:
    items = service.storage.from_(bucket).create_signed_urls(["docs/b.txt", "docs/none.txt"], 60)
    assert items[0]["error"] is None
    assert httpx.get(items[0]["signedURL"]).content == b"bravo"
    assert items[1]["error"] and items[1]["signedURL"] is None


def test_no_signed_url_for_a_missing_object(service: Client, bucket: str) -> None:
    error = storage_error(
        lambda: service.storage.from_(bucket).create_signed_url("docs/none.txt", 60)
    )
    assert error.status == "404"


def test_signed_upload_url(service: Client, bucket: str) -> None:
    files = service.storage.from_(bucket)
    signed = files.create_signed_upload_url("up/new.bin")
    assert signed["signed_url"].startswith(
        f"{service.storage_url}object/upload/sign/{bucket}/up/new.bin?token="
    )
    files.upload_to_signed_url("up/new.bin", signed["token"], b"\x00\xffdata")
    assert files.download("up/new.bin") == b"\x00\xffdata"
    again = storage_error(
        lambda: files.upload_to_signed_url("up/new.bin", signed["token"], b"other")
    )
    assert again.status == "409"  # the token was made without upsert
    upsert = files.create_signed_upload_url(
        "up/new.bin", CreateSignedUploadUrlOptions(upsert="true")
    )
    files.upload_to_signed_url("up/new.bin", upsert["token"], b"replaced")
    assert files.download("up/new.bin") == b"replaced"


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "InvalidSignature"


def test_tampered_retargeted_and_misused_tokens_are_refused(
    node: RunningNode, service: Client, bucket: str
) -> None:
    files = service.storage.from_(bucket)
    token = token_of(files.create_signed_url("docs/a.txt", 60)["signedURL"])
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["url"] = f"{bucket}/docs/b.txt"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    _refused(httpx.get(object_url(node, bucket, "docs/b.txt", f"{header}.{forged}.{signature}")))
    _refused(httpx.get(object_url(node, bucket, "docs/b.txt", token)))  # another object
    _refused(httpx.get(object_url(node, "avatars", "docs/a.txt", token)))  # another bucket
    _refused(httpx.get(object_url(node, bucket, "docs/a.txt", token[:-4] + "AAAA")))
    _refused(httpx.get(object_url(node, bucket, "docs/a.txt", "")))
    upload_url = f"{node.url}/storage/v1/object/upload/sign/{bucket}/docs/a.txt?token={token}"
    _refused(httpx.put(upload_url, content=b"overwrite", headers={"x-upsert": "true"}))
    assert files.download("docs/a.txt") == b"alpha"
    upload_token = files.create_signed_upload_url("docs/c.txt")["token"]
    _refused(httpx.get(object_url(node, bucket, "docs/c.txt", upload_token)))


def test_expired_and_foreign_tokens_are_refused(
    node: RunningNode, service: Client, bucket: str
) -> None:
    now = int(time.time())
    claims = {"url": f"{bucket}/docs/a.txt", "scope": "storage.download", "iat": now - 120}
    expired = node_signing_keys(node).sign({**claims, "exp": now - 60})
    _refused(httpx.get(object_url(node, bucket, "docs/a.txt", expired)))
    foreign = TokenKeys(generate_es256_key()).sign({**claims, "exp": now + 60})
    _refused(httpx.get(object_url(node, bucket, "docs/a.txt", foreign)))
    genuine = node_signing_keys(node).sign({**claims, "exp": now + 60})
    assert httpx.get(object_url(node, bucket, "docs/a.txt", genuine)).content == b"alpha"
