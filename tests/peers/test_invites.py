"""Invites: the string round-trips, anything else is refused as not an invite or damaged; the
issuing node's book keeps hashes only and burns each invite once, even under contention."""

from __future__ import annotations

import contextlib
import json
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from performer_edge.core.datadir import DataDir
from performer_edge.errors import Conflict, Forbidden, InvalidInput, PerformerError
from performer_edge.peers import admission, invites

CLUSTER = bytes(SigningKey(b"r" * 32).verify_key)
NODE = SigningKey(b"n" * 32)
NOW = 1_800_000_000_000


@pytest.fixture
def book(tmp_path: Path) -> invites.InviteBook:
    data_dir = DataDir(tmp_path / "d")
    data_dir.initialize()
    return invites.InviteBook(data_dir)


def test_an_invite_round_trips_through_its_string() -> None:
    invite = invites.Invite(
        CLUSTER, ("http://10.0.0.5:54321", "https://hub.example"), b"s" * 32, NOW
    )
    text = invite.encode()
    assert text.startswith("pe1.") and "=" not in text
    assert invites.decode(f"  {text}\n") == invite


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not a Performer cluster invite"),
        ("pe2.AAAA", "not a Performer cluster invite"),
        ("pe1.", "damaged"),
        ("pe1.!!!!", "damaged"),
        ("pe1." + invites.b64url(b"\xff\xff"), "damaged"),
        (invites.Invite(CLUSTER, ("ftp://x",), b"s" * 32, NOW).encode(), "damaged"),
        (invites.Invite(CLUSTER, ("http://x",), b"short", NOW).encode(), "damaged"),
        (invites.Invite(CLUSTER[:5], ("http://x",), b"s" * 32, NOW).encode(), "damaged"),
    ],
)
def test_what_is_not_an_invite_is_refused_clearly(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        invites.decode(text)


@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: "pe1." + invites.b64url(b)))
def test_decoding_junk_only_ever_raises_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        invites.decode(text)


@given(
    st.dictionaries(
        st.sampled_from(["invite_secret", "node_id", "proof", "cluster_id", "x"]),
        st.none() | st.integers() | st.text(max_size=130) | st.lists(st.integers(), max_size=2),
    )
    | st.lists(st.integers(), max_size=3)
    | st.text(max_size=10)
)
def test_join_bodies_are_parsed_or_refused_with_invalid_input(body: object) -> None:
    with contextlib.suppress(InvalidInput):
        admission.parse_join(body)
        return
    with pytest.raises(InvalidInput) as refused:
        admission.parse_join(body)
    assert refused.value.error_code == "invalid_join"


def test_roles() -> None:
    assert invites.parse_roles("node") == ("node",)
    assert invites.parse_roles("hub") == ("node", "hub")
    assert invites.parse_roles("hub, node") == ("node", "hub")
    for bad in ("", "root", "node,root"):
        with pytest.raises(InvalidInput, match="roles"):
            invites.parse_roles(bad)


def test_the_book_keeps_only_the_hash_and_burns_an_invite_once(book: invites.InviteBook) -> None:
    invite = book.issue(CLUSTER, ("http://a",), ("node", "hub"), NOW, NOW + 1000)
    stored = book.path.read_text()
    assert invite.secret.hex() not in stored and invites.b64url(invite.secret) not in stored
    assert invites.secret_hash(invite.secret) in stored
    assert stat.S_IMODE(book.path.stat().st_mode) == 0o600
    assert book.pending(NOW) == 1
    node = NODE.verify_key.encode()
    assert book.redeem(CLUSTER, invite.secret, node, NOW + 1) == (["node", "hub"], 1)
    assert book.pending(NOW) == 0
    with pytest.raises(Forbidden, match="already been used") as used:
        book.redeem(CLUSTER, invite.secret, node, NOW + 2)
    assert used.value.error_code == "invite_used"
    (entry,) = json.loads(stored)["invites"]
    assert entry["roles"] == ["node", "hub"] and entry["expires_ms"] == NOW + 1000


def test_unknown_expired_and_other_cluster_invites_are_refused(book: invites.InviteBook) -> None:
    node = NODE.verify_key.encode()
    invite = book.issue(CLUSTER, ("http://a",), ("node",), NOW, NOW + 1000)
    with pytest.raises(Forbidden) as unknown:
        book.redeem(CLUSTER, b"u" * 32, node, NOW)
    assert unknown.value.error_code == "invite_invalid"
    with pytest.raises(Conflict) as other:
        book.redeem(bytes(32), invite.secret, node, NOW)
    assert other.value.error_code == "wrong_cluster"
    with pytest.raises(Forbidden) as expired:
        book.redeem(CLUSTER, invite.secret, node, NOW + 1000)
    assert expired.value.error_code == "invite_expired"
    assert book.pending(NOW) == 1 and book.pending(NOW + 1000) == 0


def test_spent_invites_are_forgotten_after_a_week(book: invites.InviteBook) -> None:
    old = book.issue(CLUSTER, ("http://a",), ("node",), NOW, NOW + 1000)
    book.issue(CLUSTER, ("http://a",), ("node",), NOW + invites.KEEP_SPENT_MS + 2000, NOW * 2)
    assert len(json.loads(book.path.read_text())["invites"]) == 1
    with pytest.raises(Forbidden, match="unknown"):
        book.redeem(CLUSTER, old.secret, NODE.verify_key.encode(), NOW)


def test_each_member_gets_its_own_identity_block_even_after_pruning(
    book: invites.InviteBook,
) -> None:
    node = NODE.verify_key.encode()
    blocks = []
    for i in range(3):
        invite = book.issue(CLUSTER, ("http://a",), ("node",), NOW + i, NOW + 1000)
        blocks.append(book.redeem(CLUSTER, invite.secret, node, NOW + i)[1])
    assert blocks == [1, 2, 3]  # 0 is the root's
    later = NOW + invites.KEEP_SPENT_MS + 5000  # the spent invites are pruned by this issue
    invite = book.issue(CLUSTER, ("http://a",), ("node",), later, later + 1000)
    assert len(json.loads(book.path.read_text())["invites"]) == 1
    assert book.redeem(CLUSTER, invite.secret, node, later)[1] == 4


def test_concurrent_redemptions_burn_the_invite_exactly_once(book: invites.InviteBook) -> None:
    invite = book.issue(CLUSTER, ("http://a",), ("node",), NOW, NOW + 10_000)
    outcomes: list[str] = []

    def redeem(i: int) -> None:
        try:
            book.redeem(CLUSTER, invite.secret, bytes([i]) * 32, NOW)
            outcomes.append("joined")
        except PerformerError as error:
            outcomes.append(error.error_code)

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["invite_used"] * 7 + ["joined"]


def test_an_unreadable_book_is_a_data_dir_error(book: invites.InviteBook) -> None:
    book.path.write_text("{not json")
    with pytest.raises(PerformerError, match="unusable"):
        book.pending(NOW)
