"""Objects through supabase-py against a real node: byte-exact round trips, upsert, info,
listing (v1 and v2), move, copy, remove, and the download response's HTTP details."""

from __future__ import annotations

import os

import httpx
import pytest
from conftest import RunningNode
from supabase import Client

from .conftest import data_dir, new_bucket, storage_error

BINARY = bytes(range(256)) * 1000 + os.urandom(4097)
TEXT = "Grüße, 世界! 🚀\n" * 100


@pytest.fixture(scope="module")
def bucket(service: Client) -> str:
    return new_bucket(service, public=True)


def test_text_and_binary_round_trip_byte_exact(service: Client, bucket: str) -> None:
    files = service.storage.from_(bucket)
    files.upload("round/text.txt", TEXT.encode(), {"content-type": "text/plain;charset=UTF-8"})
    files.upload("round/blob.bin", BINARY, {"content-type": "application/octet-stream"})
    assert files.download("round/text.txt").decode() == TEXT
    assert files.download("round/blob.bin") == BINARY


def test_upload_refuses_an_existing_key_unless_upsert(service: Client, bucket: str) -> None:
    files = service.storage.from_(bucket)
    files.upload("dup.txt", b"one")
    error = storage_error(lambda: files.upload("dup.txt", b"two"))
    assert (error.status, error.code) == ("409", "Duplicate")
    files.upload("dup.txt", b"three", {"upsert": "true"})
    assert files.download("dup.txt") == b"three"
    files.update("dup.txt", b"four")
    assert files.download("dup.txt") == b"four"


def test_info_exists_cache_control_and_metadata(service: Client, bucket: str) -> None:
    files = service.storage.from_(bucket)
    files.upload(
        "info/pic.svg",
        b"<svg/>",
        {"content-type": "image/svg+xml", "cache-control": "3600", "metadata": {"k": "v"}},
    )
    info = files.info("info/pic.svg")
    assert info["name"] == "info/pic.svg"
    assert (info["content_type"], info["cache_control"]) == ("image/svg+xml", "max-age=3600")
    assert (info["metadata"], info["size"]) == ({"k": "v"}, 6)
    assert files.exists("info/pic.svg")
    assert not files.exists("info/missing.svg")
    listed = files.list("info")
    assert listed[0]["metadata"]["mimetype"] == "image/svg+xml"


def test_list_folders_search_sort_limit_offset(service: Client) -> None:
    files = service.storage.from_(new_bucket(service))
    for name in ("docs/b.txt", "docs/a.txt", "docs/Apple.txt", "docs/sub/c.txt", "top.txt"):
        files.upload(name, name.encode())
    assert [e["name"] for e in files.list()] == ["docs", "top.txt"]
    assert files.list()[0]["id"] is None
    assert [e["name"] for e in files.list("docs")] == ["Apple.txt", "a.txt", "b.txt", "sub"]
    assert [e["name"] for e in files.list("docs/")] == ["Apple.txt", "a.txt", "b.txt", "sub"]
    assert [e["name"] for e in files.list("docs", {"search": "a"})] == ["Apple.txt", "a.txt"]
    descending = files.list("docs", {"sortBy": {"column": "name", "order": "desc"}})
    assert [e["name"] for e in descending] == ["sub", "b.txt", "a.txt", "Apple.txt"]
    page = files.list("docs", {"limit": 2, "offset": 1})
    assert [e["name"] for e in page] == ["a.txt", "b.txt"]


def test_list_v2_flat_delimiter_and_cursor_pages(service: Client) -> None:
    files = service.storage.from_(new_bucket(service))
    for i in range(8):
        files.upload(f"folder/file-{i}.txt", b"x")
    files.upload("other.txt", b"y")
    flat = files.list_v2({"prefix": "folder/"})
    assert [o.name for o in flat.objects] == [f"folder/file-{i}.txt" for i in range(8)]
    nested = files.list_v2({"with_delimiter": True})
    assert [(f.key, f.name) for f in nested.folders] == [("folder", "folder/")]
    assert [o.name for o in nested.objects] == ["other.txt"]
    pages, cursor = [], None
    while True:
        options: dict[str, object] = {"prefix": "folder/", "limit": 2}
        if cursor:
            options["cursor"] = cursor
        page = files.list_v2(options)  # type: ignore[arg-type]
        pages.append([o.name for o in page.objects])
        if not page.hasNext:
            break
        cursor = page.nextCursor
    assert len(pages) == 4
    assert [name for page in pages for name in page] == [f"folder/file-{i}.txt" for i in range(8)]


def test_move_copy_remove(service: Client, bucket: str) -> None:
    files = service.storage.from_(bucket)
    files.upload("mv/src.txt", b"payload")
    assert files.move("mv/src.txt", "mv/dst.txt")["message"] == "Successfully moved"
    assert not files.exists("mv/src.txt")
    assert files.copy("mv/dst.txt", "mv/copy.txt")["Key"] == f"{bucket}/mv/copy.txt"
    assert files.download("mv/copy.txt") == b"payload"
    files.upload("mv/taken.txt", b"t")
    assert storage_error(lambda: files.move("mv/dst.txt", "mv/taken.txt")).status == "409"
    removed = files.remove(["mv/dst.txt", "mv/copy.txt", "mv/never.txt"])
    assert sorted(r["name"] for r in removed) == ["mv/copy.txt", "mv/dst.txt"]
    assert [e["name"] for e in files.list("mv")] == ["taken.txt"]
    missing = storage_error(lambda: files.move("mv/dst.txt", "mv/again.txt"))
    assert (missing.status, missing.code) == ("404", "not_found")


def test_range_etag_and_content_disposition(
    node: RunningNode, service: Client, bucket: str
) -> None:
    files = service.storage.from_(bucket)
    files.upload("http/data.bin", BINARY)
    url = files.get_public_url("http/data.bin")
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == BINARY
    assert whole.headers["accept-ranges"] == "bytes"
    etag = whole.headers["etag"]
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == BINARY[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(BINARY)}"
    tail = httpx.get(url, headers={"Range": "bytes=-5"})
    assert tail.content == BINARY[-5:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(BINARY)}-"})
    assert beyond.status_code == 416
    head = httpx.head(url)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(BINARY))
    assert (head.headers["etag"], head.headers["content-type"]) == (
        etag,
        whole.headers["content-type"],
    )
    head_part = httpx.head(url, headers={"Range": "bytes=10-19"})
    assert (head_part.status_code, head_part.headers["content-length"]) == (206, "10")
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    named = httpx.get(files.get_public_url("http/data.bin", {"download": "my file.bin"}))
    assert named.headers["content-disposition"] == (
        "attachment; filename=my%20file.bin; filename*=UTF-8''my%20file.bin"
    )
    anonymous = httpx.get(files.get_public_url("http/data.bin", {"download": True}))
    assert anonymous.headers["content-disposition"] == "attachment;"
    authenticated = httpx.get(
        f"{node.url}/storage/v1/object/authenticated/{bucket}/http/data.bin",
        headers={"apikey": node.key("service_role")},
    )
    assert authenticated.content == BINARY


def test_public_url_of_a_private_bucket_is_refused(service: Client) -> None:
    files = service.storage.from_(new_bucket(service))
    files.upload("secret.txt", b"s")
    response = httpx.get(files.get_public_url("secret.txt"))
    assert response.status_code == 400
    assert response.json()["statusCode"] == "404"


def test_identical_content_is_stored_once(node: RunningNode, service: Client, bucket: str) -> None:
    files = service.storage.from_(bucket)
    content = os.urandom(5000)
    files.upload("dedup/one.bin", content)
    files.upload("dedup/two.bin", content)
    one, two = files.info("dedup/one.bin"), files.info("dedup/two.bin")
    assert one["etag"] == two["etag"]
    copies = list((data_dir(node) / "blobs").rglob(one["etag"].strip('"')))
    assert len(copies) == 1
