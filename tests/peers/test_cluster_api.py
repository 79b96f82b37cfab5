"""`/performer/v1/cluster`: the join endpoint's scenarios (one valid join, then each refusal
with its status and code, in the performer error shape, never a 5xx) and the revocations route,
against a real root node served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cluster_support import NOW_MS, make_member, make_root, pending_invite
from nacl.signing import SigningKey

from performer_edge.http.app import make_app
from performer_edge.node import Node
from performer_edge.peers import admission, invites, trust

JOIN = "/performer/v1/cluster/join"
REVOKE = "/performer/v1/cluster/revocations"


@dataclass
class Served:
    node: Node
    server: TestServer
    http: aiohttp.ClientSession

    async def post(
        self, path: str, body: Any = None, *, raw: bytes | None = None, key: str | None = None
    ) -> tuple[int, Any]:
        headers = {"apikey": key} if key else {}
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self.http.post(self.server.make_url(path), headers=headers, **kwargs) as r:
            return r.status, await r.json()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    opened: list[tuple[Node, TestServer]] = []
    http = aiohttp.ClientSession()

    async def serve(node: Node) -> Served:
        node.bus.attach(asyncio.get_running_loop())
        server = TestServer(make_app(node), host="127.0.0.1", port=0)
        await server.start_server()
        opened.append((node, server))
        return Served(node, server, http)

    try:
        yield serve
    finally:
        await http.close()
        for node, server in opened:
            await server.close()
            node.close()


@pytest.fixture
async def root(served: Callable[..., Any], tmp_path: Path) -> Served:
    served_root: Served = await served(make_root(tmp_path / "root", cluster_join_rate_limit=1000))
    return served_root


def body(invite: invites.Invite, key: SigningKey, **override: Any) -> dict[str, Any]:
    return {**admission.join_request(invite, key).to_json(), **override}


async def test_a_node_joins_with_a_valid_invite_once(root: Served) -> None:
    invite = pending_invite(root.node)
    key = SigningKey.generate()
    status, answer = await root.post(JOIN, body(invite, key))
    assert status == 200, answer
    assert answer["cluster_id"] == invite.cluster_id.hex() and answer["roles"] == ["node"]
    certificate = base64.b64decode(answer["certificate"])
    parsed = trust.verify(certificate, invite.cluster_id, bytes(key.verify_key), NOW_MS + 1)
    assert parsed.roles == ("node",)
    status, answer = await root.post(JOIN, body(invite, key))
    assert (status, answer) == (403, {"code": "invite_used", "message": answer["message"]})
    other_key = SigningKey.generate()  # a replay by anyone else is refused the same way
    assert (await root.post(JOIN, body(invite, other_key)))[1]["code"] == "invite_used"


def bad_proof(invite: invites.Invite, key: SigningKey) -> dict[str, Any]:
    forged = SigningKey.generate().sign(invite.cluster_id + invite.secret + bytes(key.verify_key))
    return body(invite, key, proof=invites.b64url(forged.signature))


def proof_over_another_secret(invite: invites.Invite, key: SigningKey) -> dict[str, Any]:
    signed = key.sign(invite.cluster_id + b"x" * 32 + bytes(key.verify_key)).signature
    return body(invite, key, proof=invites.b64url(signed))


def unknown_secret(invite: invites.Invite, key: SigningKey) -> dict[str, Any]:
    stranger = invites.Invite(invite.cluster_id, invite.urls, b"u" * 32, invite.expires_ms)
    return body(stranger, key)


def other_cluster(invite: invites.Invite, key: SigningKey) -> dict[str, Any]:
    return body(invite, key, cluster_id=bytes(SigningKey(b"o" * 32).verify_key).hex())


@pytest.mark.parametrize(
    ("make_body", "status", "code"),
    [
        (bad_proof, 401, "bad_proof"),
        (proof_over_another_secret, 401, "bad_proof"),
        (unknown_secret, 403, "invite_invalid"),
        (other_cluster, 409, "wrong_cluster"),
        (lambda i, k: body(i, k, node_id="zz" * 32), 400, "invalid_join"),
        (lambda i, k: body(i, k, node_id="ab" * 31), 400, "invalid_join"),
        (lambda i, k: body(i, k, invite_secret=7), 400, "invalid_join"),
        (lambda i, k: body(i, k, proof="!" * 86), 400, "invalid_join"),
        (lambda i, k: body(i, k, extra=True), 400, "invalid_join"),
        (lambda i, k: {"node_id": bytes(k.verify_key).hex()}, 400, "invalid_join"),
        (lambda i, k: [body(i, k)], 400, "invalid_join"),
        (lambda i, k: "pe1.whole-invite-pasted", 400, "invalid_join"),
        (lambda i, k: None, 400, "invalid_json"),  # aiohttp sends no body
    ],
)
async def test_refusals_leave_the_invite_usable(
    root: Served, make_body: Callable[..., Any], status: int, code: str
) -> None:
    invite = pending_invite(root.node)
    key = SigningKey.generate()
    got, answer = await root.post(JOIN, make_body(invite, key))
    assert (got, answer["code"]) == (status, code), answer
    assert set(answer) == {"code", "message"} and answer["message"]
    assert (await root.post(JOIN, body(invite, key)))[0] == 200  # not burned by the refusal


async def test_an_expired_invite_is_refused(root: Served) -> None:
    invite = pending_invite(root.node, expires_ms=NOW_MS + 1)
    status, answer = await root.post(JOIN, body(invite, SigningKey.generate()))
    assert (status, answer["code"]) == (403, "invite_expired")


async def test_a_revoked_key_cannot_join_again(root: Served) -> None:
    key = SigningKey.generate()
    first = await root.post(JOIN, body(pending_invite(root.node), key))
    assert first[0] == 200
    status, answer = await root.post(
        REVOKE, {"node_id": bytes(key.verify_key).hex()}, key=root.node.api_keys.service_role_key
    )
    assert status == 201 and answer["event"]["kind"] == "cluster.revoked"
    status, answer = await root.post(JOIN, body(pending_invite(root.node), key))
    assert (status, answer["code"]) == (403, "node_revoked")


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"\xff\xfe", b"[]", b'"x"', b"1e999", b"{" * 5000 + b"}" * 5000]
)
async def test_garbage_bodies_are_400(root: Served, raw: bytes) -> None:
    status, answer = await root.post(JOIN, raw=raw)
    assert status == 400 and answer["code"] in {"invalid_json", "invalid_join"}, answer


async def test_random_bodies_never_get_a_5xx(root: Served) -> None:
    rng = random.Random(20261129)
    invite = pending_invite(root.node)
    genuine = body(invite, SigningKey.generate())
    for _ in range(60):
        mutated = dict(genuine)
        name = rng.choice(sorted(genuine))
        mutated[name] = rng.choice(
            [
                None,
                rng.randint(-(2**70), 2**70),
                rng.random(),
                "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 90))),
                invites.b64url(rng.randbytes(rng.choice([0, 31, 32, 33, 64]))),
                rng.randbytes(32).hex(),
                {"nested": [1, 2]},
            ]
        )
        status, _ = await root.post(JOIN, mutated)
        assert 400 <= status < 500
    assert (await root.post(JOIN, genuine))[0] == 200


async def test_join_is_rate_limited_per_ip(served: Callable[..., Any], tmp_path: Path) -> None:
    limited: Served = await served(make_root(tmp_path / "r", cluster_join_rate_limit=3))
    for _ in range(3):
        assert (await limited.post(JOIN, {}))[0] == 400
    status, answer = await limited.post(JOIN, {})
    assert (status, answer["code"]) == (429, "over_request_rate_limit")


async def test_only_a_root_node_in_a_cluster_admits(
    served: Callable[..., Any], root: Served, tmp_path: Path
) -> None:
    member: Served = await served(make_member(tmp_path / "member", root.node))
    invite = pending_invite(root.node)
    status, answer = await member.post(JOIN, body(invite, SigningKey.generate()))
    assert (status, answer["code"]) == (403, "not_root")
    loner: Served = await served(Node.open(root.node.settings.__class__(data=tmp_path / "l")))
    status, answer = await loner.post(JOIN, body(invite, SigningKey.generate()))
    assert (status, answer["code"]) == (404, "no_cluster")


async def test_the_revocations_route(
    served: Callable[..., Any], root: Served, tmp_path: Path
) -> None:
    node_id = SigningKey.generate().verify_key.encode().hex()
    service = root.node.api_keys.service_role_key
    assert (await root.post(REVOKE, {"node_id": node_id}))[0] == 401
    anon = await root.post(REVOKE, {"node_id": node_id}, key=root.node.api_keys.anon_key)
    assert anon[0] == 403
    for bad in ({"node_id": "xyz"}, {"node": node_id}, [node_id]):
        status, answer = await root.post(REVOKE, bad, key=service)
        assert (status, answer["code"]) == (400, "invalid_node_id")
    own = await root.post(REVOKE, {"node_id": root.node.identity.node_id}, key=service)
    assert own[0] == 400 and "itself" in own[1]["message"]
    status, answer = await root.post(REVOKE, {"node_id": node_id}, key=service)
    assert status == 201 and answer["node_id"] == node_id
    assert bytes.fromhex(node_id) in root.node.cluster.revoked
    again = await root.post(REVOKE, {"node_id": node_id}, key=service)
    assert (again[0], again[1]["code"]) == (409, "already_revoked")
    member: Served = await served(make_member(tmp_path / "member", root.node))
    status, answer = await member.post(
        REVOKE, {"node_id": node_id}, key=member.node.api_keys.service_role_key
    )
    assert (status, answer["code"]) == (403, "not_root")
