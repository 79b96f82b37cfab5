"""Checking a peer's batch: a forged or malformed event anywhere in it, small or large (checked
over several threads), refuses the batch and names the event."""

from __future__ import annotations

import dataclasses

import pytest
from nacl.signing import SigningKey

from performer_edge.core.events import Event, encode_payload, sign_event
from performer_edge.peers.bridge import PARALLEL_FROM, refusal

KEY = SigningKey(b"k" * 32)


def events(count: int) -> list[Event]:
    return [
        sign_event(KEY, seq, (1_760_000_000_000 + seq) << 16, "app.note", "s", encode_payload(seq))
        for seq in range(1, count + 1)
    ]


@pytest.mark.parametrize("count", [3, PARALLEL_FROM * 3 + 1])
def test_a_clean_batch_passes_and_one_bad_event_anywhere_refuses_it(count: int) -> None:
    batch = events(count)
    assert refusal(batch) is None
    for where in (0, count // 2, count - 1):
        forged = list(batch)
        forged[where] = dataclasses.replace(batch[where], scope="tampered")
        reason = refusal(forged)
        assert reason is not None and f":{where + 1} refused" in reason and "signature" in reason
    malformed = list(batch)
    malformed[-1] = dataclasses.replace(batch[-1], kind="Not A Kind")
    assert "malformed event" in (refusal(malformed) or "")
