"""The frame codec: every message round-trips, and no input, however hostile, raises anything
but ProtocolError."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.codec import MAX_FRAME, ProtocolError, decode, encode
from sync.messages import (
    Ack,
    Auth,
    Bye,
    Events,
    Hello,
    Message,
    Ping,
    Pong,
    SnapshotChunk,
    SnapshotOffer,
    SnapshotRequest,
    Summary,
    WireEvent,
)
from sync.version_vector import VersionVector

ids = st.binary(min_size=32, max_size=32)
seqs = st.integers(min_value=0, max_value=(1 << 63) - 1)
texts = st.text(max_size=40)
vectors = st.dictionaries(ids, seqs, max_size=4).map(VersionVector)
events = st.builds(
    WireEvent,
    ids,
    st.integers(min_value=1, max_value=1 << 40),
    st.integers(min_value=0, max_value=(1 << 64) - 1),
    st.text(max_size=20),
    texts,
    st.binary(max_size=200),
    st.binary(min_size=64, max_size=64),
)
times = st.floats(allow_nan=False, allow_infinity=False)
messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(
        Hello,
        st.integers(min_value=1, max_value=1 << 16),
        ids,
        st.binary(max_size=64),
        ids,
        st.binary(max_size=100),
        st.lists(st.text(max_size=10), max_size=3).map(tuple),
    ),
    st.builds(Auth, st.binary(min_size=64, max_size=64)),
    st.builds(Summary, vectors, vectors, st.dictionaries(texts, st.binary(max_size=32))),
    st.builds(Events, seqs, st.lists(events, max_size=5).map(tuple)),
    st.builds(Ack, seqs, vectors),
    st.builds(SnapshotOffer, texts, vectors, seqs, st.binary(min_size=32, max_size=32)),
    st.builds(SnapshotRequest, texts, seqs),
    st.builds(SnapshotChunk, texts, seqs, st.binary(max_size=100)),
    st.builds(Ping, times),
    st.builds(Pong, times),
    st.builds(Bye, texts),
)


@settings(max_examples=300, derandomize=True)
@given(messages)
def test_every_message_round_trips(message: Message) -> None:
    decoded = decode(encode(message))
    if isinstance(message, Summary):
        assert isinstance(decoded, Summary)
        assert (decoded.vector, decoded.horizon, dict(decoded.docs)) == (
            message.vector,
            message.horizon,
            dict(message.docs),
        )
    else:
        assert decoded == message


cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text() | st.binary(), inner),
    max_leaves=12,
)


@settings(max_examples=500, derandomize=True)
@given(st.one_of(st.binary(max_size=300), cbor_values.map(cbor2.dumps)))
def test_junk_is_a_protocol_error(frame: bytes) -> None:
    decodes_or_refuses(frame)


@settings(max_examples=200, derandomize=True)
@given(st.integers(min_value=1, max_value=11), st.lists(cbor_values, max_size=7))
def test_wrong_fields_for_each_type_are_protocol_errors(tag: int, fields: list[object]) -> None:
    decodes_or_refuses(cbor2.dumps([tag, *fields]))


def decodes_or_refuses(frame: bytes) -> None:
    """Either a ProtocolError with a reason, or a valid message that encodes back to a frame
    decoding to the same message."""
    try:
        message = decode(frame)
    except ProtocolError as error:
        reason = str(error)
        assert reason, "a refusal says why"
        return
    again = decode(encode(message))
    assert type(again) is type(message)


def test_limits() -> None:
    with pytest.raises(ProtocolError, match="over the limit"):
        decode(b"\x80" * (MAX_FRAME + 1))
    with pytest.raises(ProtocolError, match="not CBOR"):
        decode(b"\x81" * 50_000)
    event = [b"o" * 32, 0, 0, "k", "s", b"", b"s" * 64]  # sequence 0 is not an event
    with pytest.raises(ProtocolError, match="event sequence"):
        decode(cbor2.dumps([4, 1, [event]]))
    with pytest.raises(ProtocolError, match="bad Ping message"):
        decode(cbor2.dumps([9, 10**400]))  # too large for a float
    with pytest.raises(ProtocolError, match="node id"):
        decode(cbor2.dumps([1, 1, b"short", b"c", b"n" * 32, b"", []]))
