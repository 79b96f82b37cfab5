"""Cluster certificates: issued by the root for one key, checked for cluster, key, signature,
expiry and revocation; anything else is refused with a reason."""

from __future__ import annotations

from pathlib import Path

import cbor2
import pytest
from nacl.signing import SigningKey

from performer_edge.core.datadir import DataDir
from performer_edge.errors import DataDirError
from performer_edge.peers import membership
from performer_edge.peers.trust import CertificateError, ClusterTrust, issue, parse, verify
from sync.messages import PROTOCOL_VERSION, Hello

ROOT = SigningKey(b"r" * 32)
CLUSTER = bytes(ROOT.verify_key)
NODE = bytes(SigningKey(b"n" * 32).verify_key)
NOW = 1_800_000_000_000


def hello(node: bytes, certificate: bytes) -> Hello:
    return Hello(PROTOCOL_VERSION, node, CLUSTER, b"x" * 32, certificate)


def test_a_root_certificate_for_the_key_is_trusted() -> None:
    certificate = issue(ROOT, NODE, NOW, roles=("node", "hub"), block=7)
    parsed = verify(certificate, CLUSTER, NODE, NOW + 1)
    assert parsed.roles == ("node", "hub") and parsed.issued_ms == NOW and parsed.block == 7
    assert ClusterTrust(CLUSTER, lambda: NOW).check(hello(NODE, certificate)) is None


def test_a_certificate_from_before_identity_blocks_is_still_trusted() -> None:
    body = cbor2.dumps([1, CLUSTER, NODE, NOW, 0, ["node"]])
    certificate = body + ROOT.sign(body).signature
    assert verify(certificate, CLUSTER, NODE, NOW + 1).block is None


@pytest.mark.parametrize(
    ("certificate", "reason"),
    [
        (b"", "bad size"),
        (b"\xff" * 100, "not readable"),
        (cbor2.dumps([1, CLUSTER]) + b"s" * 64, "not readable"),
        (cbor2.dumps([2, CLUSTER, NODE, NOW, 0, []]) + b"s" * 64, "malformed"),
        (cbor2.dumps([1, CLUSTER, NODE, NOW, 0, [], -1]) + b"s" * 64, "malformed"),
        (cbor2.dumps([1, CLUSTER, NODE, NOW, 0, [], 1 << 21]) + b"s" * 64, "malformed"),
        (cbor2.dumps([1, CLUSTER, NODE, NOW, 0, [], 1, 2]) + b"s" * 64, "malformed"),
        (issue(SigningKey(b"o" * 32), NODE, NOW), "another cluster"),
        (issue(ROOT, bytes(32), NOW), "another node key"),
        (issue(ROOT, NODE, NOW)[:-1] + b"\x00", "not signed by the cluster root"),
        (issue(ROOT, NODE, NOW, expires_ms=NOW + 5), "expired"),
    ],
)
def test_refusals(certificate: bytes, reason: str) -> None:
    with pytest.raises(CertificateError, match=reason):
        verify(certificate, CLUSTER, NODE, NOW + 10)
    assert reason in (ClusterTrust(CLUSTER, lambda: NOW + 10).check(hello(NODE, certificate)) or "")


def test_a_forged_body_with_the_root_signature_of_another_is_refused() -> None:
    genuine = issue(ROOT, bytes(32), NOW)
    forged = parse(genuine)
    body = type(forged)(CLUSTER, NODE, NOW, 0, ("hub",)).encode_unsigned()
    with pytest.raises(CertificateError, match="not signed"):
        verify(body + genuine[-64:], CLUSTER, NODE, NOW)


def test_revoked_keys_are_refused_even_with_a_good_certificate() -> None:
    trust = ClusterTrust(CLUSTER, lambda: NOW, revoked={NODE})
    assert trust.check(hello(NODE, issue(ROOT, NODE, NOW))) == "the node's key is revoked"


def test_a_new_cluster_is_saved_with_its_root_and_a_certificate_for_this_node(
    tmp_path: Path,
) -> None:
    data_dir = DataDir(tmp_path / "d")
    data_dir.initialize()
    identity = data_dir.load_identity()
    made = membership.create_cluster(data_dir, identity, NOW)
    assert membership.load(data_dir) == made and made.roles == ("node", "root")
    root = membership.load_root(data_dir)
    assert root is not None and bytes(root.verify_key) == made.cluster_id
    verify(made.certificate, made.cluster_id, identity.public_key, NOW)
    with pytest.raises(DataDirError, match="already belongs"):
        membership.create_cluster(data_dir, identity, NOW)
    (data_dir.keys_dir / membership.MEMBERSHIP_FILE).write_text("{}")
    with pytest.raises(DataDirError, match="unusable"):
        membership.load(data_dir)
