"""Resumable uploads (TUS) at /storage/v1/upload/resumable with tuspy, the Python TUS client,
set up as Supabase's docs set up a TUS client: 6 MB chunks, bearer token and apikey, x-upsert,
Upload-Metadata with bucketName, objectName, contentType and cacheControl; and, like storage-js
users with uppy, to a signed upload URL's token in `x-signature` at /upload/resumable/sign."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import RunningNode, serve_module, signed_up
from storage3.types import CreateSignedUploadUrlOptions
from supabase import Client, create_client
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError

from .conftest import MIGRATIONS, data_dir, node_signing_keys, wait_for

CHUNK = 6 * 1024 * 1024  # what Supabase requires of TUS clients


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    yield from serve_module(
        tmp_path_factory,
        "resumable",
        "--migrations",
        str(MIGRATIONS),
        "--storage-resumable-expiry",
        "5",
        "--storage-gc-interval",
        "1",
    )


@pytest.fixture(scope="module")
def service(node: RunningNode) -> Client:
    client = create_client(node.url, node.key("service_role"))
    client.storage.create_bucket("tus")
    return client


def tus_client(node: RunningNode, token: str, *, upsert: bool = False) -> tus.TusClient:
    headers = {"Authorization": f"Bearer {token}", "apikey": node.key("anon")}
    if upsert:
        headers["x-upsert"] = "true"
    return tus.TusClient(f"{node.url}/storage/v1/upload/resumable", headers=headers)


def metadata(name: str, bucket: str = "tus") -> dict[str, str]:
    return {
        "bucketName": bucket,
        "objectName": name,
        "contentType": "application/x-test",
        "cacheControl": "3600",
    }


def test_a_file_of_several_chunks_uploads_byte_exact(node: RunningNode, service: Client) -> None:
    content = os.urandom(2 * CHUNK + 12345)
    uploader = tus_client(node, node.key("service_role")).uploader(
        file_stream=BytesIO(content), chunk_size=CHUNK, metadata=metadata("big/three.bin")
    )
    uploader.upload()
    files = service.storage.from_("tus")
    assert files.download("big/three.bin") == content
    info = files.info("big/three.bin")
    assert info["content_type"] == "application/x-test"
    assert info["cache_control"] == "max-age=3600"
    assert info["size"] == len(content)


def partial_patch(location: str, token: str, apikey: str, sent: bytes, declared: int) -> None:
    """A PATCH whose connection drops after `sent` of `declared` bytes."""
    url = urlsplit(location)
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = (
            f"PATCH {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nTus-Resumable: 1.0.0\r\n"
            f"Authorization: Bearer {token}\r\napikey: {apikey}\r\nUpload-Offset: 0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode() + sent)


def test_an_upload_resumes_after_a_dropped_connection(node: RunningNode, service: Client) -> None:
    content = os.urandom(CHUNK + 4321)
    token = node.key("service_role")
    client = tus_client(node, token)
    first = client.uploader(
        file_stream=BytesIO(content), chunk_size=CHUNK, metadata=metadata("resumed.bin")
    )
    location = first.create_url()
    partial_patch(location, token, node.key("anon"), content[: 3 * 1024 * 1024], CHUNK)

    def offset() -> int:
        response = httpx.head(location, headers={"Authorization": f"Bearer {token}"})
        return int(response.headers["Upload-Offset"])

    wait_for(lambda: offset() > 0)  # what arrived before the drop is kept
    resumed = client.uploader(file_stream=BytesIO(content), chunk_size=CHUNK, url=location)
    assert 0 < resumed.offset <= 3 * 1024 * 1024
    resumed.upload()
    assert service.storage.from_("tus").download("resumed.bin") == content


def test_x_upsert_decides_whether_an_object_is_replaced(node: RunningNode, service: Client) -> None:
    files = service.storage.from_("tus")
    files.upload("taken.txt", b"first")
    token = node.key("service_role")
    refused = tus_client(node, token).uploader(
        file_stream=BytesIO(b"second"), chunk_size=CHUNK, metadata=metadata("taken.txt")
    )
    with pytest.raises(TusCommunicationError) as caught:
        refused.upload()
    assert caught.value.status_code == 409
    assert b'"KeyAlreadyExists"' in caught.value.response_content
    replaced = tus_client(node, token, upsert=True).uploader(
        file_stream=BytesIO(b"second"), chunk_size=CHUNK, metadata=metadata("taken.txt")
    )
    replaced.upload()
    assert files.download("taken.txt") == b"second"


def test_policies_apply_to_resumable_uploads(node: RunningNode, service: Client) -> None:
    user, uid = signed_up(node)
    token = user.auth.get_session().access_token
    own = tus_client(node, token).uploader(
        file_stream=BytesIO(b"mine"), chunk_size=CHUNK, metadata=metadata(f"{uid}/a.txt", "avatars")
    )
    own.upload()
    assert service.storage.from_("avatars").download(f"{uid}/a.txt") == b"mine"
    theirs = tus_client(node, token).uploader(
        file_stream=BytesIO(b"x"), chunk_size=CHUNK, metadata=metadata("someone/a.txt", "avatars")
    )
    with pytest.raises(TusCommunicationError) as caught:
        theirs.upload()
    assert caught.value.status_code == 403


def test_bad_requests_get_the_storage_error_shape(node: RunningNode, service: Client) -> None:
    base = f"{node.url}/storage/v1/upload/resumable"
    token = node.key("service_role")
    auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    cases = [
        ({"Upload-Length": "5"}, 400, "InvalidRequest"),  # no Upload-Metadata
        ({"Upload-Length": "5", "Upload-Metadata": "bucketName !!!"}, 400, "InvalidRequest"),
        ({"Upload-Length": "x", "Upload-Metadata": "bucketName dHVz"}, 400, "InvalidRequest"),
        (
            {"Upload-Length": "5", "Upload-Metadata": "bucketName dHVz,objectName Li4vZXRj"},
            400,
            "InvalidKey",
        ),
        (
            {"Upload-Length": "5", "Upload-Metadata": "bucketName bm9uZQ==,objectName YQ=="},
            404,
            "NoSuchBucket",
        ),
    ]
    for headers, status, code in cases:
        response = httpx.post(base, headers={**auth, **headers})
        assert response.status_code == status, headers
        assert response.json()["code"] == code and response.json()["statusCode"] == str(status)
    created = httpx.post(
        base,
        headers={
            **auth,
            "Upload-Length": "10",
            "Upload-Metadata": "bucketName dHVz,objectName YQ==",
        },
    )
    location = created.headers["Location"]
    octets = {**auth, "Content-Type": "application/offset+octet-stream"}
    wrong = httpx.patch(location, headers={**octets, "Upload-Offset": "3"}, content=b"abc")
    assert wrong.status_code == 409 and wrong.json()["code"] == "InvalidUploadOffset"
    too_long = httpx.patch(location, headers={**octets, "Upload-Offset": "0"}, content=b"x" * 11)
    assert too_long.status_code == 400
    assert httpx.head(base + "/" + "A" * 32, headers=auth).status_code == 404
    other = httpx.head(location, headers={"Authorization": f"Bearer {node.key('anon')}"})
    assert other.status_code == 404  # someone else's upload is not found
    assert httpx.delete(location, headers=auth).status_code == 204
    assert httpx.head(location, headers=auth).status_code == 404


def test_an_abandoned_upload_expires_and_its_data_is_removed(
    node: RunningNode, service: Client
) -> None:
    token = node.key("service_role")
    uploader = tus_client(node, token).uploader(
        file_stream=BytesIO(os.urandom(CHUNK + 10)), chunk_size=CHUNK, metadata=metadata("gone")
    )
    uploader.upload_chunk()  # one chunk of two, then the client goes away
    uploads = data_dir(node) / "uploads"
    upload_id = uploader.url.rsplit("/", 1)[1]
    assert (uploads / f"{upload_id}.part").stat().st_size == CHUNK
    wait_for(lambda: not any(Path(uploads).glob(f"{upload_id}.*")))
    response = httpx.head(uploader.url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404


def signed_tus_client(node: RunningNode, token: str, *, upsert: str | None = None) -> tus.TusClient:
    """A TUS client holding only a signed upload URL's token: no apikey, no JWT."""
    headers = {"x-signature": token}
    if upsert is not None:
        headers["x-upsert"] = upsert  # ignored: the token decides
    return tus.TusClient(f"{node.url}/storage/v1/upload/resumable/sign", headers=headers)


def test_a_signed_upload_url_takes_a_resumable_upload(node: RunningNode, service: Client) -> None:
    files = service.storage.from_("tus")
    token = files.create_signed_upload_url("signed/resumed.bin")["token"]
    content = os.urandom(CHUNK + 4321)
    first = signed_tus_client(node, token).uploader(
        file_stream=BytesIO(content), chunk_size=CHUNK, metadata=metadata("signed/resumed.bin")
    )
    first.upload_chunk()  # one chunk of two, then the client goes away
    assert first.url and "/storage/v1/upload/resumable/sign/" in first.url
    resumed = signed_tus_client(node, token).uploader(
        file_stream=BytesIO(content), chunk_size=CHUNK, url=first.url
    )
    assert resumed.offset == CHUNK  # HEAD with the token alone
    resumed.upload()
    assert files.download("signed/resumed.bin") == content
    assert files.info("signed/resumed.bin")["content_type"] == "application/x-test"

    again = signed_tus_client(node, token, upsert="true").uploader(
        file_stream=BytesIO(b"other"), chunk_size=CHUNK, metadata=metadata("signed/resumed.bin")
    )
    with pytest.raises(TusCommunicationError) as caught:
        again.upload()  # the token was made without upsert, whatever the header says
    assert caught.value.status_code == 409
    upsert = files.create_signed_upload_url(
        "signed/resumed.bin", CreateSignedUploadUrlOptions(upsert="true")
    )["token"]
    replaced = signed_tus_client(node, upsert, upsert="false").uploader(
        file_stream=BytesIO(b"replaced"), chunk_size=CHUNK, metadata=metadata("signed/resumed.bin")
    )
    replaced.upload()
    assert files.download("signed/resumed.bin") == b"replaced"


def test_signed_resumable_uploads_refuse_bad_tokens(node: RunningNode, service: Client) -> None:
    base = f"{node.url}/storage/v1/upload/resumable/sign"
    files = service.storage.from_("tus")
    token = files.create_signed_upload_url("signed/x.txt")["token"]
    other = files.create_signed_upload_url("signed/y.txt")["token"]
    now = int(time.time())
    claims = {"url": "tus/signed/x.txt", "scope": "storage.upload", "upsert": False}
    expired = node_signing_keys(node).sign({**claims, "iat": now - 120, "exp": now - 60})
    download = node_signing_keys(node).sign(
        {**claims, "scope": "storage.download", "iat": now, "exp": now + 60}
    )
    header, payload, signature = token.split(".")
    forged = payload[:-6] + ("AAAAAA" if payload[-6:] != "AAAAAA" else "BBBBBB")
    x_meta = "bucketName dHVz,objectName c2lnbmVkL3gudHh0"  # tus, signed/x.txt
    in_avatars = "bucketName YXZhdGFycw==,objectName c2lnbmVkL3gudHh0"  # avatars, signed/x.txt

    def create(signature_header: str | None, meta: str = x_meta) -> httpx.Response:
        headers = {"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": meta}
        if signature_header is not None:
            headers["x-signature"] = signature_header
        return httpx.post(base, headers=headers)

    def refused(response: httpx.Response) -> None:
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "InvalidSignature"
        assert response.json()["statusCode"] == "400"

    refused(create(None))
    refused(create(other))  # made for another object
    refused(create(token, in_avatars))  # the same name in another bucket
    refused(create(expired))
    refused(create(download))  # a download URL's token
    refused(create(f"{header}.{forged}.{signature}"))  # tampered
    refused(create(token[:-4] + "AAAA"))  # bad signature

    created = create(token)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    octets = {"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}
    chunk = {**octets, "Upload-Offset": "0"}
    refused(httpx.patch(location, headers=chunk, content=b"hello"))
    refused(httpx.patch(location, headers={**chunk, "x-signature": other}, content=b"hello"))
    assert httpx.head(location, headers={"x-signature": expired}).status_code == 400  # no body
    refused(httpx.delete(location, headers={"x-signature": other}))
    as_jwt = location.replace("/resumable/sign/", "/resumable/")
    service_jwt = {"Authorization": f"Bearer {node.key('service_role')}"}
    assert (
        httpx.patch(as_jwt, headers={**chunk, **service_jwt}, content=b"hello").status_code == 404
    )
    assert httpx.head(location, headers={"x-signature": token}).headers["Upload-Offset"] == "0"
    assert not files.exists("signed/x.txt")
    done = httpx.patch(location, headers={**chunk, "x-signature": token}, content=b"hello")
    assert done.status_code == 204, done.text
    assert files.download("signed/x.txt") == b"hello"
