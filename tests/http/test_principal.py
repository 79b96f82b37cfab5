"""The verified-token cache: a hit still honours expiry, and never stands in for another token."""

from __future__ import annotations

import time

import pytest

from performer_edge.core.tokens import TokenKeys, generate_es256_key
from performer_edge.errors import Unauthorized
from performer_edge.http.principal import VerifiedTokens


def test_cached_claims_expire_and_forgeries_miss() -> None:
    keys = TokenKeys(generate_es256_key())
    cache = VerifiedTokens(keys, capacity=2)
    soon = keys.sign({"role": "anon", "exp": int(time.time()) + 1})
    assert cache.verify(soon)["role"] == "anon"
    assert cache.verify(soon)["role"] == "anon"  # from the cache
    tampered = soon[:-3] + ("AAA" if not soon.endswith("AAA") else "BBB")
    with pytest.raises(Unauthorized):
        cache.verify(tampered)
    expires = cache.verify(soon)["exp"]
    deadline = time.time() + 10
    while time.time() <= expires and time.time() < deadline:  # wait on the clock, bounded
        time.sleep(0.05)
    with pytest.raises(Unauthorized) as refused:
        cache.verify(soon)
    assert refused.value.error_code == "token_expired"


def test_capacity_is_bounded() -> None:
    keys = TokenKeys(generate_es256_key())
    cache = VerifiedTokens(keys, capacity=3)
    for i in range(10):
        cache.verify(keys.sign({"role": "anon", "n": i}))
    assert len(cache._claims) <= 3
