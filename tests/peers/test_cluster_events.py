"""Revocations and members' JWT keys as replicated events, between real in-process nodes:
a token signed on one node verifies on another once its key event arrives; a root-signed
revocation drops the key and refuses the node at the handshake; anything forged or malformed
changes nothing; every delivery order and a replay give the same tables."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import apsw
import pytest
from cluster_support import NOW_MS, make_member, make_root, receive
from nacl.signing import SigningKey

from performer_edge.config import Settings
from performer_edge.core.replay import replay
from performer_edge.core.tokens import generate_es256_key, public_jwk
from performer_edge.errors import Unauthorized
from performer_edge.http.principal import VerifiedTokens
from performer_edge.node import Node
from performer_edge.peers import admission, cluster_events, trust
from performer_edge.peers.cluster_events import JWT_KEY, REVOKED
from sync.messages import PROTOCOL_VERSION, Hello


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, Node]]:
    a = make_root(tmp_path / "a")
    b = make_member(tmp_path / "b", a)
    c = make_member(tmp_path / "c", a, roles=("node", "hub"))
    try:
        yield a, b, c
    finally:
        for node in (a, b, c):
            node.close()


def user_token(node: Node, subject: str) -> str:
    claims = {"role": "authenticated", "sub": subject, "exp": int(time.time()) + 3600}
    return node.tokens.sign(claims)


def tables(node: Node) -> dict[str, list[tuple[Any, ...]]]:
    def read(conn: apsw.Connection) -> dict[str, list[tuple[Any, ...]]]:
        return {
            name: [tuple(row) for row in conn.execute(f"SELECT * FROM {name} ORDER BY 1, 2, 3")]
            for name in ("cluster_revocations", "cluster_jwt_keys")
        }

    return node.db.read_sync(read)


def hello(node: Node) -> Hello:
    made = node.cluster.membership
    assert made is not None
    return Hello(
        PROTOCOL_VERSION, node.identity.public_key, made.cluster_id, b"n" * 32, made.certificate
    )


async def revoke(root: Node, victim: Node) -> None:
    payload = admission.plan_revocation(
        root.data_dir, root.cluster, victim.identity.public_key, NOW_MS
    )
    await root.append(REVOKED, victim.identity.node_id, payload)


async def test_a_token_signed_on_one_node_verifies_on_another_once_its_key_arrives(
    nodes: tuple[Node, Node, Node],
) -> None:
    a, b, _ = nodes
    token = user_token(a, "user-on-a")
    with pytest.raises(Unauthorized, match="unknown signing key"):
        b.tokens.verify(token)
    assert await receive(b, a) >= 1
    assert b.tokens.verify(token)["sub"] == "user-on-a"
    assert VerifiedTokens(b.tokens).verify(token)["sub"] == "user-on-a"  # the HTTP path
    assert {k["kid"] for k in b.tokens.jwks()["keys"]} == {a.tokens.kid, b.tokens.kid}
    await receive(a, b)
    assert a.tokens.verify(user_token(b, "user-on-b"))["sub"] == "user-on-b"
    members = {key.node_id: key.roles for key in a.cluster.members()}
    assert members == {a.identity.public_key: ("node", "root"), b.identity.public_key: ("node",)}


async def test_a_revocation_drops_the_key_and_the_trust_policy_refuses_the_node(
    nodes: tuple[Node, Node, Node],
) -> None:
    a, b, c = nodes
    await receive(c, b)
    await receive(c, a)
    b_token = user_token(b, "user-on-b")
    cache = VerifiedTokens(c.tokens)
    assert cache.verify(b_token)["sub"] == "user-on-b"
    policy = c.cluster.trust_policy()  # made before the revocation: it must stay current
    assert policy is not None and policy.check(hello(b)) is None
    await revoke(a, b)
    await receive(c, a)
    assert c.cluster.revoked == {b.identity.public_key}
    assert policy.check(hello(b)) == "the node's key is revoked"
    assert c.cluster.trust_policy().check(hello(b)) == "the node's key is revoked"  # type: ignore[union-attr]
    assert policy.check(hello(a)) is None
    with pytest.raises(Unauthorized, match="unknown signing key"):
        c.tokens.verify(b_token)
    with pytest.raises(Unauthorized):
        cache.verify(b_token)  # the cached claims went with the key
    assert b.tokens.kid not in {k["kid"] for k in c.tokens.jwks()["keys"]}
    kept = {row[1] for row in tables(c)["cluster_jwt_keys"]}
    assert kept == {a.identity.public_key, c.identity.public_key}


async def test_a_key_announced_by_a_node_already_revoked_is_never_trusted(
    nodes: tuple[Node, Node, Node],
) -> None:
    a, b, c = nodes
    await revoke(a, b)  # before a has b's key event
    await receive(a, b)  # a: revocation first, then the key
    await receive(c, b)  # c: the key first, then the revocation
    await receive(c, a)
    await receive(a, c)
    for node in (a, c):
        assert b.identity.public_key not in {k.node_id for k in node.cluster.members()}
        with pytest.raises(Unauthorized):
            node.tokens.verify(user_token(b, "late"))
    assert tables(a) == tables(c)


@pytest.mark.parametrize(
    "forge",
    [
        "revocation signed by another root",
        "revocation with a tampered node id",
        "revocation payload not a map",
        "revocation payload with wrong types",
        "key whose kid is not its thumbprint",
        "key with another node's certificate",
        "key with a certificate of another cluster",
        "key with a forged certificate",
        "key off the curve",
        "key payload undecodable",
    ],
)
async def test_forged_or_malformed_cluster_events_change_nothing_and_do_not_stop_sync(
    nodes: tuple[Node, Node, Node], forge: str
) -> None:
    a, b, c = nodes
    await receive(c, a)
    await receive(c, b)
    before = tables(c)
    made = b.cluster.membership
    assert made is not None
    victim = c.identity.public_key
    other_root = SigningKey(b"o" * 32)
    kind, payload = forged(forge, a, b, victim, other_root, made.certificate)
    if isinstance(payload, bytes):  # not CBOR at all: append the raw bytes
        await b.db.write(lambda tx: b.log.append_encoded(tx, kind, "", payload))
    else:
        await b.append(kind, "", payload)
    assert await receive(c, b) >= 1  # ingested without error
    after = tables(c)
    assert after["cluster_revocations"] == before["cluster_revocations"] == []
    # Keys are kept per cluster (the projection knows no local state): this cluster's are
    # untouched, whatever another cluster's root signs.
    ours = [row for row in after["cluster_jwt_keys"] if row[0] == made.cluster_id]
    assert ours == before["cluster_jwt_keys"] and len(ours) == 3  # a's, b's and c's own
    assert {key.node_id for key in c.cluster.members()} == {
        n.identity.public_key for n in (a, b, c)
    }
    assert c.cluster.revoked == set()


def forged(
    forge: str, a: Node, b: Node, victim: bytes, other_root: SigningKey, b_cert: bytes
) -> tuple[str, Any]:
    cluster_id = trust.parse(b_cert).cluster_id
    genuine = admission.plan_revocation(a.data_dir, a.cluster, victim, NOW_MS)
    b_public = b.tokens.signing_key.public_key()
    stranger = generate_es256_key().public_key()
    if forge == "revocation signed by another root":
        payload = cluster_events.revocation(other_root, victim, NOW_MS)
        return REVOKED, {**payload, "cluster_id": cluster_id}
    if forge == "revocation with a tampered node id":
        return REVOKED, {**genuine, "node_id": a.identity.public_key}
    if forge == "revocation payload not a map":
        return REVOKED, [cluster_id, victim]
    if forge == "revocation payload with wrong types":
        return REVOKED, {**genuine, "revoked_ms": "now", "node_id": "x"}
    if forge == "key whose kid is not its thumbprint":
        return JWT_KEY, {**cluster_events.jwt_key(stranger, b_cert), "kid": b.tokens.kid}
    if forge == "key with another node's certificate":
        a_cert = a.cluster.membership.certificate  # type: ignore[union-attr]
        return JWT_KEY, cluster_events.jwt_key(stranger, a_cert)
    if forge == "key with a certificate of another cluster":
        return JWT_KEY, cluster_events.jwt_key(
            stranger, trust.issue(other_root, b.identity.public_key, NOW_MS)
        )
    if forge == "key with a forged certificate":
        return JWT_KEY, cluster_events.jwt_key(stranger, b_cert[:-1] + bytes([b_cert[-1] ^ 1]))
    if forge == "key off the curve":
        jwk = public_jwk(b_public)
        bad = {**jwk, "y": jwk["x"]}
        return JWT_KEY, {"kid": b.tokens.kid, "jwk": bad, "certificate": b_cert}
    assert forge == "key payload undecodable"
    return JWT_KEY, b"\xff\xfe not cbor"


async def test_replay_rebuilds_the_cluster_tables_and_state(
    nodes: tuple[Node, Node, Node],
) -> None:
    a, b, c = nodes
    await receive(a, b)
    await receive(a, c)
    await revoke(a, c)
    before = tables(a)
    assert len(before["cluster_revocations"]) == 1 and len(before["cluster_jwt_keys"]) == 2
    report = a.db.run_exclusive(lambda conn: replay(conn, a.projections))
    assert "cluster" in report.projections
    assert tables(a) == before
    a.db.read_sync(a.cluster.load)
    assert a.cluster.revoked == {c.identity.public_key}
    assert a.tokens.verify(user_token(b, "after replay"))["sub"] == "after replay"


async def test_each_node_announces_each_key_once(tmp_path: Path) -> None:
    a = make_root(tmp_path / "a")
    a.close()
    a = Node.open(Settings(data=tmp_path / "a", port=0))  # reopening announces nothing new
    loner = Node.open(Settings(data=tmp_path / "loner", port=0))
    try:

        def kinds(node: Node) -> list[str]:
            return node.db.read_sync(
                lambda conn: [r[0] for r in conn.execute("SELECT kind FROM events")]
            )

        assert kinds(a).count(JWT_KEY) == 1
        assert JWT_KEY not in kinds(loner) and loner.cluster.trust_policy() is None
    finally:
        a.close()
        loner.close()
