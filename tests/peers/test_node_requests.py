"""Node-signed HTTP requests (peers/node_requests.py), without sockets: what a member's header
proves, and every way a header fails, with the status class each failure maps to."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nacl.signing import SigningKey

from performer_edge.errors import Forbidden, PerformerError, Unauthorized
from performer_edge.peers import node_requests, trust
from performer_edge.peers.trust import ClusterTrust

ROOT = SigningKey(b"r" * 32)
CLUSTER = bytes(ROOT.verify_key)
NOW = 1_800_000_000_000
PATH = "/performer/v1/blobs/" + "ab" * 32
MEMBER = SigningKey(b"m" * 32)
MEMBER_ID = bytes(MEMBER.verify_key)


def header(
    key: SigningKey = MEMBER,
    *,
    root: SigningKey = ROOT,
    cluster: bytes = CLUSTER,
    method: str = "GET",
    path: str = PATH,
    at: int = NOW,
    expires: int = 0,
) -> dict[str, str]:
    certificate = trust.issue(root, bytes(key.verify_key), NOW - 1000, expires_ms=expires)
    return node_requests.signed_headers(
        lambda m: key.sign(m).signature, cluster, certificate, method, path, at
    )


def policy(revoked: set[bytes] | None = None) -> ClusterTrust:
    return ClusterTrust(CLUSTER, lambda: NOW, revoked or set())


def test_a_member_is_named_by_its_request() -> None:
    assert node_requests.authenticate(policy(), header(), "GET", PATH, NOW) == MEMBER_ID
    within = NOW + node_requests.MAX_SKEW_MS  # clocks apart by the allowed skew
    assert node_requests.authenticate(policy(), header(at=within), "GET", PATH, NOW) == MEMBER_ID


def _garbled(text: str) -> dict[str, str]:
    return {node_requests.HEADER: text}


def _swap_signature() -> dict[str, str]:
    cert, at, _ = header()[node_requests.HEADER].split(".")
    other = header(path="/elsewhere")[node_requests.HEADER].split(".")[2]
    return _garbled(f"{cert}.{at}.{other}")


CASES: list[tuple[str, Callable[[], dict[str, str]], type[PerformerError]]] = [
    ("no header", dict, Unauthorized),
    ("not three parts", lambda: _garbled("abc"), Unauthorized),
    ("time not a number", lambda: _garbled("a.b.c"), Unauthorized),
    ("certificate not base64", lambda: _garbled("!!.1.AA"), Unauthorized),
    ("certificate unreadable", lambda: _garbled("AAAA.1.AAAA"), Unauthorized),
    ("signed for another path", lambda: header(path="/performer/v1/blobs/x"), Unauthorized),
    ("signed for another method", lambda: header(method="HEAD"), Unauthorized),
    ("signed for another cluster", lambda: header(cluster=b"x" * 32), Unauthorized),
    ("signature of another request", _swap_signature, Unauthorized),
    ("too old", lambda: header(at=NOW - node_requests.MAX_SKEW_MS - 1), Unauthorized),
    ("too far ahead", lambda: header(at=NOW + node_requests.MAX_SKEW_MS + 1), Unauthorized),
    ("another root's certificate", lambda: header(root=SigningKey(b"o" * 32)), Forbidden),
    ("an expired certificate", lambda: header(expires=NOW - 1), Forbidden),
]


@pytest.mark.parametrize(("what", "make", "error"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_request_is_refused(
    what: str, make: Callable[[], dict[str, str]], error: type[PerformerError]
) -> None:
    with pytest.raises(error) as refused:
        node_requests.authenticate(policy(), make(), "GET", PATH, NOW)
    assert type(refused.value) is error, what


def test_a_revoked_member_is_refused() -> None:
    with pytest.raises(Forbidden, match="revoked"):
        node_requests.authenticate(policy({MEMBER_ID}), header(), "GET", PATH, NOW)
