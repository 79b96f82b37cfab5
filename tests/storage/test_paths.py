"""Path safety: keys that climb, are absolute, hold NUL, control characters or backslashes, are
too long, are not UTF-8, or are another normal form of a key are refused with the storage
error shape, on every route that takes a key; nothing is written outside the data dir."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from conftest import RunningNode
from supabase import Client

from performer_edge.storage.paths import key_problem

from .conftest import data_dir, new_bucket

BAD_RAW_KEYS = {
    "dot-dot": "a/../../../outside.txt",
    "encoded dot-dot": "%2E%2E/%2E%2E/outside.txt",
    "encoded slash climb": "a%2F..%2F..%2Foutside.txt",
    "absolute": "/etc/passwd",
    "encoded absolute": "%2Fetc%2Fpasswd",
    "nul": "a%00b.txt",
    "newline": "a%0Ab.txt",
    "backslash": "a%5C..%5Cb.txt",
    "empty segment": "a//b.txt",
    "dot segment": "a/./b.txt",
    "non-utf8": "%FF%FE.txt",
    "lone surrogate": "%ED%A0%80.txt",
    "over-long": "x" * 1100,
    "over-long segment": "a/" + "y" * 300,
    "not NFC": quote("cafe\u0301.txt"),
}


def raw_request(
    node: RunningNode, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str]]:
    """Send `path` byte for byte (http.client does not normalise it, unlike httpx or yarl)."""
    parts = urlsplit(node.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        key = node.key("service_role")
        all_headers = {"apikey": key, "Authorization": f"Bearer {key}", **headers}
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def files_outside(root: Path, data: Path) -> set[Path]:
    return {p for p in root.rglob("*") if data not in p.parents and p != data}


@pytest.fixture(scope="module")
def bucket(service: Client) -> str:
    return new_bucket(service, public=True)


@pytest.mark.parametrize("raw", list(BAD_RAW_KEYS.values()), ids=list(BAD_RAW_KEYS))
def test_bad_keys_are_refused_on_every_route(node: RunningNode, bucket: str, raw: str) -> None:
    base = "/storage/v1/object"
    data = data_dir(node)
    before = files_outside(data.parent, data)
    attempts = [
        ("POST", f"{base}/{bucket}/{raw}", b"payload", {"Content-Type": "text/plain"}),
        ("PUT", f"{base}/{bucket}/{raw}", b"payload", {"Content-Type": "text/plain"}),
        ("GET", f"{base}/{bucket}/{raw}", b"", {}),
        ("GET", f"{base}/public/{bucket}/{raw}", b"", {}),
        ("GET", f"{base}/info/{bucket}/{raw}", b"", {}),
        ("POST", f"{base}/sign/{bucket}/{raw}", b'{"expiresIn": 60}', {}),
        ("POST", f"{base}/upload/sign/{bucket}/{raw}", b"", {}),
    ]
    for method, path, body, headers in attempts:
        status, answer = raw_request(node, method, path, body, **headers)
        assert status == 400, (method, path, answer)
        assert answer["statusCode"] in ("400", "404"), (method, path, answer)
        if answer["statusCode"] == "400":
            assert answer["code"] == "InvalidKey", answer
    assert files_outside(data.parent, data) == before


@pytest.mark.parametrize(
    "key", ["../x.txt", "/abs.txt", "a\x00b", "a\\b", "cafe\u0301", "a//b", "z" * 1025]
)
def test_bad_keys_in_json_bodies(node: RunningNode, service: Client, bucket: str, key: str) -> None:
    service.storage.from_(bucket).upload("json/src.txt", b"src", {"upsert": "true"})
    for path, body in (
        ("/storage/v1/object/move", {"bucketId": bucket, "sourceKey": "json/src.txt"}),
        ("/storage/v1/object/copy", {"bucketId": bucket, "sourceKey": "json/src.txt"}),
    ):
        payload = json.dumps({**body, "destinationKey": key}).encode()
        status, answer = raw_request(
            node, "POST", path, payload, **{"Content-Type": "application/json"}
        )
        assert (status, answer["code"]) == (400, "InvalidKey"), answer
    status, answer = raw_request(
        node, "DELETE", f"/storage/v1/object/{bucket}", json.dumps({"prefixes": [key]}).encode()
    )
    assert (status, answer["code"]) == (400, "InvalidKey")


def test_good_unusual_keys_round_trip(service: Client, bucket: str) -> None:
    files = service.storage.from_(bucket)
    for key in ("caf\u00e9/r\u00e9sum\u00e9.txt", "spaces and (parens)/x y.txt", "emoji/🚀.bin"):
        files.upload(key, key.encode())
        assert files.download(key) == key.encode()
    assert [e["name"] for e in files.list("caf\u00e9")] == ["r\u00e9sum\u00e9.txt"]


def test_bad_bucket_ids_are_refused(node: RunningNode) -> None:
    for raw in ("..", "%2E%2E", "a%2Fb", "%FF"):
        status, answer = raw_request(node, "GET", f"/storage/v1/object/{raw}/x.txt")
        assert status == 400
        assert answer["code"] in ("InvalidBucketName", "InvalidKey"), answer


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ok/name.txt", None),
        ("", "empty"),
        ("a/../b", "segment"),
        ("/a", "absolute"),
        ("a\\b", "backslash"),
        ("a\x7fb", "control"),
        ("e\u0301", "normal form"),
        ("\udc80", "UTF-8"),
        ("a" * 1025, "longer"),
    ],
)
def test_key_rules(name: str, problem: str | None) -> None:
    found = key_problem(name)
    assert (found is None) if problem is None else (found is not None and problem in found)
