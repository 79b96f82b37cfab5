"""JWTs: ES256 with kid by default, HS256 with a secret, and every forgery refused."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace

import jwt
import pytest

from performer_edge.core.tokens import TokenKeys, TrustedKeys, generate_es256_key, key_id
from performer_edge.errors import Unauthorized

SUPABASE_DEMO_ANON = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAi"
    "OjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)
SUPABASE_DEMO_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


def test_es256_round_trip_with_kid_and_jwks() -> None:
    keys = TokenKeys(generate_es256_key())
    token = keys.sign({"role": "anon"})
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == keys.kid
    assert keys.verify(token)["role"] == "anon"
    (jwk,) = keys.jwks()["keys"]
    assert jwk["kid"] == keys.kid and jwk["alg"] == "ES256" and "d" not in jwk
    public = jwt.PyJWK(jwk).key
    assert jwt.decode(token, public, algorithms=["ES256"])["role"] == "anon"


def test_tokens_from_another_node_verify_once_its_key_is_trusted() -> None:
    ours, theirs = TokenKeys(generate_es256_key()), TokenKeys(generate_es256_key())
    token = theirs.sign({"role": "authenticated", "sub": "u1"})
    with pytest.raises(Unauthorized, match="unknown signing key"):
        ours.verify(token)
    trusting = ours.with_trusted(theirs.signing_key.public_key())
    assert trusting.verify(token)["sub"] == "u1"
    assert {k["kid"] for k in trusting.jwks()["keys"]} == {ours.kid, theirs.kid}


def test_a_token_signed_by_an_unknown_key_without_kid_is_refused() -> None:
    ours = TokenKeys(generate_es256_key())
    forged = jwt.encode({"role": "service_role"}, generate_es256_key(), algorithm="ES256")
    with pytest.raises(Unauthorized) as refused:
        ours.verify(forged)
    assert refused.value.error_code == "token_invalid"


def test_alg_none_and_unknown_algorithms_are_refused() -> None:
    keys = TokenKeys(generate_es256_key())
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = base64.urlsafe_b64encode(json.dumps({"role": "service_role"}).encode())
    unsigned = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    with pytest.raises(Unauthorized, match="'none' is not accepted"):
        keys.verify(unsigned)
    hs512 = jwt.encode({"role": "service_role"}, "k" * 64, algorithm="HS512")
    with pytest.raises(Unauthorized, match="not accepted"):
        keys.verify(hs512)


def test_hs256_only_with_a_secret_and_supabase_demo_keys_verify() -> None:
    plain = TokenKeys(generate_es256_key())
    with pytest.raises(Unauthorized, match="HS256"):
        plain.verify(SUPABASE_DEMO_ANON)
    with_secret = TokenKeys(generate_es256_key(), SUPABASE_DEMO_SECRET.encode())
    assert with_secret.verify(SUPABASE_DEMO_ANON)["role"] == "anon"
    assert with_secret.algorithm == "HS256"
    assert jwt.get_unverified_header(with_secret.sign({"role": "x"}))["alg"] == "HS256"
    wrong = jwt.encode({"role": "anon"}, "another-secret-of-at-least-32-chars!!", algorithm="HS256")
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        with_secret.verify(wrong)


def test_expired_and_garbage_tokens() -> None:
    keys = TokenKeys(generate_es256_key())
    expired = keys.sign({"role": "anon", "exp": int(time.time()) - 10})
    with pytest.raises(Unauthorized) as refused:
        keys.verify(expired)
    assert refused.value.error_code == "token_expired"
    for garbage in ("", "abc", "a.b.c", "eyJ.eyJ.sig"):
        with pytest.raises(Unauthorized):
            keys.verify(garbage)


def test_kid_is_a_stable_thumbprint() -> None:
    key = generate_es256_key()
    assert key_id(key.public_key()) == TokenKeys(key).kid
    assert len(TokenKeys(key).kid) == 43


def test_a_live_key_ring_changes_what_verifies_and_honours_expiry() -> None:
    ring = TrustedKeys()
    ours = replace(TokenKeys(generate_es256_key()), trusted=ring)
    theirs = TokenKeys(generate_es256_key())
    token = theirs.sign({"role": "authenticated", "sub": "u1"})
    generation = ours.trust_generation
    ring.replace({theirs.kid: (theirs.signing_key.public_key(), None)})
    assert ours.verify(token)["sub"] == "u1" and ours.trust_generation != generation
    assert [k["kid"] for k in ours.jwks()["keys"]] == [ours.kid, theirs.kid]
    ring.replace({theirs.kid: (theirs.signing_key.public_key(), time.time() - 1)})
    with pytest.raises(Unauthorized, match="unknown signing key"):
        ours.verify(token)
    assert len(ring) == 0 and [k["kid"] for k in ours.jwks()["keys"]] == [ours.kid]
