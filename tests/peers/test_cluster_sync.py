"""Membership end to end over real links: a node joins a serving root through the join endpoint,
syncs with it, and each then accepts the other's users' tokens; once revoked, the node's key is
dropped everywhere the revocation reached, its open session ended and its next handshake
refused."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from peer_support import dialing, served, wait_for

from performer_edge.core.datadir import DataDir
from performer_edge.errors import Unauthorized
from performer_edge.node import Node
from performer_edge.peers import admission, cluster_client, membership
from performer_edge.peers.cluster_events import REVOKED
from performer_edge.peers.invites import InviteBook

pytestmark = pytest.mark.network


def user_token(node: Node, subject: str) -> str:
    claims = {"role": "authenticated", "sub": subject, "exp": int(time.time()) + 600}
    return node.tokens.sign(claims)


def trusts(node: Node, token: str) -> bool:
    try:
        node.tokens.verify(token)
    except Unauthorized:
        return False
    return True


async def rest_status(http: aiohttp.ClientSession, node_url: str, anon: str, token: str) -> int:
    headers = {"apikey": anon, "Authorization": f"Bearer {token}"}
    async with http.get(f"{node_url}/rest/v1/", headers=headers) as response:
        return response.status


async def test_join_sync_trust_each_others_tokens_then_revoke(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    root_dir, member_dir = DataDir(tmp_path / "a"), DataDir(tmp_path / "b")
    root_dir.initialize()
    member_dir.initialize()
    membership.create_cluster(root_dir, root_dir.load_identity(), now)
    async with served(root_dir.root) as a, aiohttp.ClientSession() as http:
        made = a.node.cluster.membership
        assert made is not None
        invite = InviteBook(root_dir).issue(made.cluster_id, (a.url,), ("node",), now, now + 60_000)
        key = member_dir.load_identity().signing_key
        joined = await asyncio.to_thread(cluster_client.request_membership, invite, key, now)
        membership.save(member_dir, joined)
        async with served(member_dir.root) as b:
            from_a, from_b = user_token(a.node, "alice"), user_token(b.node, "bob")
            b_anon = b.node.api_keys.anon_key
            assert await rest_status(http, b.url, b_anon, from_a) == 401
            async with dialing(b, a.url):
                await wait_for(
                    lambda: trusts(b.node, from_a) and trusts(a.node, from_b),
                    "each node to trust the other's JWT key",
                )
                assert await rest_status(http, b.url, b_anon, from_a) == 200
                assert await rest_status(http, a.url, a.node.api_keys.anon_key, from_b) == 200
                b_id = b.node.identity.public_key
                payload = admission.plan_revocation(root_dir, a.node.cluster, b_id, now)
                await a.node.append(REVOKED, b_id.hex(), payload)
                assert not trusts(a.node, from_b)
                assert await rest_status(http, a.url, a.node.api_keys.anon_key, from_b) == 401
                # a ends b's open session at once (b learns why from the BYE, not the event)
                await wait_for(
                    lambda: not any(c.peer_id == b_id for c in a.peers.connections),
                    "a to end the revoked node's open session",
                )
            refused_before = sum(a.peers.faults.values())
            async with dialing(b, a.url):
                await wait_for(
                    lambda: sum(a.peers.faults.values()) > refused_before,
                    "a to refuse b's next handshake",
                )
