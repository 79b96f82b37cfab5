"""The upload encodings storage-js sends (supabase-wire.md §3.2), byte for byte as it builds
them: a raw body with `x-metadata`, and multipart with an empty field name. (storage3's own
multipart encoding is what every other test in this folder uploads with.)"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator

import httpx
from conftest import RunningNode
from supabase import Client

from performer_edge.storage.uploads import SMALL_UPLOAD_BYTES
from storage_blobs import BlobStore

from .conftest import data_dir, new_bucket

CONTENT = os.urandom(70_000) + b"\r\n--boundary-like--\r\n"


def _headers(node: RunningNode, **extra: str) -> dict[str, str]:
    key = node.key("service_role")
    return {"apikey": key, "Authorization": f"Bearer {key}", **extra}


def test_js_raw_body_with_x_metadata(node: RunningNode, service: Client) -> None:
    bucket = new_bucket(service)
    metadata = base64.b64encode(json.dumps({"owner": "js", "n": 1}).encode()).decode()
    url = f"{node.url}/storage/v1/object/{bucket}/raw/file.bin"
    headers = _headers(
        node,
        **{
            "content-type": "application/x-thing",
            "cache-control": "max-age=60",
            "x-upsert": "false",
            "x-metadata": metadata,
        },
    )
    response = httpx.post(url, content=CONTENT, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["Key"] == f"{bucket}/raw/file.bin"
    info = service.storage.from_(bucket).info("raw/file.bin")
    assert (info["content_type"], info["cache_control"]) == ("application/x-thing", "max-age=60")
    assert info["metadata"] == {"owner": "js", "n": 1}
    assert service.storage.from_(bucket).download("raw/file.bin") == CONTENT
    bad = httpx.post(url + "2", content=b"x", headers={**headers, "x-metadata": "%%%"})
    assert (bad.status_code, bad.json()["statusCode"]) == (400, "400")


def test_js_multipart_with_an_empty_field_name(node: RunningNode, service: Client) -> None:
    bucket = new_bucket(service)
    boundary = "----formdata-undici-0123456789"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="cacheControl"\r\n\r\n3600\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{{"a":"b"}}\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name=""; filename="blob"\r\n'
        "Content-Type: image/png\r\n\r\n",
    ]
    body = "".join(parts).encode() + CONTENT + f"\r\n--{boundary}--\r\n".encode()
    response = httpx.post(
        f"{node.url}/storage/v1/object/{bucket}/multi/pic.png",
        content=body,
        headers=_headers(node, **{"content-type": f"multipart/form-data; boundary={boundary}"}),
    )
    assert response.status_code == 200, response.text
    files = service.storage.from_(bucket)
    info = files.info("multi/pic.png")
    assert (info["content_type"], info["cache_control"]) == ("image/png", "max-age=3600")
    assert info["metadata"] == {"a": "b"}
    assert files.download("multi/pic.png") == CONTENT


def test_a_refused_upload_answers_with_the_error(node: RunningNode, service: Client) -> None:
    bucket = new_bucket(service, file_size_limit=1000)
    response = httpx.post(
        f"{node.url}/storage/v1/object/{bucket}/big.bin",
        content=CONTENT,
        headers=_headers(node, **{"content-type": "application/octet-stream"}),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "EntityTooLarge"
    assert service.storage.from_(bucket).list() == []


def test_small_and_streamed_uploads_round_trip_on_both_sides_of_the_limit(
    node: RunningNode, service: Client
) -> None:
    """A body of at most SMALL_UPLOAD_BYTES is read whole and stored in one thread call; a
    larger one, or one sent chunked (no Content-Length), streams: the bytes are the same."""
    bucket = new_bucket(service)
    files = service.storage.from_(bucket)
    headers = _headers(node, **{"content-type": "application/octet-stream"})
    sizes = (0, 1, SMALL_UPLOAD_BYTES, SMALL_UPLOAD_BYTES + 1)
    for size in sizes:
        content = os.urandom(size)
        url = f"{node.url}/storage/v1/object/{bucket}/sized/{size}.bin"
        response = httpx.post(url, content=content, headers=headers)
        assert response.status_code == 200, response.text
        assert files.download(f"sized/{size}.bin") == content
        assert files.info(f"sized/{size}.bin")["size"] == size

    def chunked() -> Iterator[bytes]:
        yield b"sent "
        yield b"chunked"

    url = f"{node.url}/storage/v1/object/{bucket}/sized/chunked.bin"
    response = httpx.post(url, content=chunked(), headers=headers)
    assert response.status_code == 200, response.text
    assert files.download("sized/chunked.bin") == b"sent chunked"


def test_a_refused_small_upload_stores_no_blob(node: RunningNode, service: Client) -> None:
    """The small path checks the bucket, type, size and duplicate before writing the blob."""
    bucket = new_bucket(service, file_size_limit=100, allowed_mime_types=["image/*"])
    blobs = BlobStore(data_dir(node) / "blobs")
    url = f"{node.url}/storage/v1/object/{bucket}/refused.png"
    png = _headers(node, **{"content-type": "image/png"})
    refusals = [
        (url, b"x" * 101, png, "EntityTooLarge"),
        (url, b"plain text", _headers(node, **{"content-type": "text/plain"}), "InvalidMimeType"),
        (f"{node.url}/storage/v1/object/no-such-bucket/a.png", b"no bucket", png, "NoSuchBucket"),
    ]
    for target, content, headers, code in [*refusals, (url, b"again", png, "KeyAlreadyExists")]:
        if code == "KeyAlreadyExists":
            assert httpx.post(url, content=b"first", headers=png).status_code == 200
        response = httpx.post(target, content=content, headers=headers)
        assert (response.status_code, response.json()["code"]) == (400, code), response.text
        assert not blobs.has(hashlib.sha256(content).hexdigest()), code
    assert [o["name"] for o in service.storage.from_(bucket).list()] == ["refused.png"]
