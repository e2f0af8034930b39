"""auth: token verification with an injected clock, every refusal mapped to its protocol code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from reference_server.auth import AuthError, Verifier, hmac_verifier, parse_scope, public_key_verifier
from tests.support.ws import mint_token

SECRET = "unit-test-secret-that-is-long-enough-for-hs256-and-even-for-hs512-signatures!"
NOW = 1_700_000_000.0


@pytest.fixture
def verifier() -> Verifier:
    return hmac_verifier(SECRET.encode())


def refused(verifier: Verifier, token: str, now: float = NOW) -> AuthError:
    with pytest.raises(AuthError) as info:
        verifier.verify(token, now)
    assert not token or token not in info.value.message
    return info.value


def test_valid_token_grants_its_scope(verifier: Verifier) -> None:
    grant = verifier.verify(mint_token(SECRET, now=NOW, scope=["echo", "sleep"]), NOW + 1)
    assert grant.subject == "tester" and grant.scope == frozenset({"echo", "sleep"})
    assert verifier.verify(mint_token(SECRET, now=NOW), NOW).scope is None


def test_expiry_uses_the_injected_clock(verifier: Verifier) -> None:
    token = mint_token(SECRET, now=NOW, ttl_s=60)
    assert verifier.verify(token, NOW + 59).subject == "tester"
    assert refused(verifier, token, NOW + 60).code == "token_expired"


def test_not_yet_valid_and_future_iat_are_invalid(verifier: Verifier) -> None:
    assert refused(verifier, mint_token(SECRET, now=NOW, nbf=int(NOW) + 30)).code == "invalid_token"
    assert verifier.verify(mint_token(SECRET, now=NOW, nbf=int(NOW) + 30), NOW + 30).subject == "tester"
    assert refused(verifier, mint_token(SECRET, now=NOW + 100)).code == "invalid_token"


@pytest.mark.parametrize("claim", ["exp", "iat", "sub"])
def test_required_claims(verifier: Verifier, claim: str) -> None:
    error = refused(verifier, mint_token(SECRET, now=NOW, omit=[claim]))
    assert error.code == "invalid_token" and claim in error.message


@pytest.mark.parametrize("claims", [{"exp": "soon"}, {"iat": True}, {"sub": 5}, {"nbf": "x"}])
def test_ill_typed_claims(verifier: Verifier, claims: dict) -> None:
    assert refused(verifier, mint_token(SECRET, now=NOW, **claims)).code == "invalid_token"


def test_wrong_secret_is_a_bad_signature(verifier: Verifier) -> None:
    error = refused(verifier, mint_token("another-secret-that-is-long-enough-too!!", now=NOW))
    assert error.code == "invalid_token" and "signature" in error.message


def test_alg_none_is_refused(verifier: Verifier) -> None:
    token = jwt.encode(
        {"sub": "x", "iat": int(NOW), "exp": int(NOW) + 60, "scope": ["tools:*"]}, None, algorithm="none"
    )
    assert refused(verifier, token).code == "invalid_token"


def test_other_algorithm_is_refused(verifier: Verifier) -> None:
    assert refused(verifier, mint_token(SECRET, now=NOW, algorithm="HS512")).code == "invalid_token"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refused(verifier, mint_token(rsa_key, now=NOW, algorithm="RS256")).code == "invalid_token"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.e30."])
def test_malformed_tokens(verifier: Verifier, token: str) -> None:
    assert refused(verifier, token).code == "invalid_token"


def test_payload_that_is_not_an_object(verifier: Verifier) -> None:
    signing_input = _b64(b'{"alg":"HS256"}') + b"." + _b64(b"[1]")
    sig = _b64(hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest())
    assert refused(verifier, (signing_input + b"." + sig).decode()).code == "invalid_token"


def test_audience() -> None:
    with_aud = hmac_verifier(SECRET.encode(), audience="api")
    assert with_aud.verify(mint_token(SECRET, now=NOW, aud="api"), NOW).subject == "tester"
    assert refused(with_aud, mint_token(SECRET, now=NOW, aud="other")).code == "invalid_token"
    assert refused(with_aud, mint_token(SECRET, now=NOW)).code == "invalid_token"
    # Without a configured audience the claim is not checked.
    assert hmac_verifier(SECRET.encode()).verify(mint_token(SECRET, now=NOW, aud="any"), NOW)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, frozenset()),
        ("tools:*", None),
        (["tools:*"], None),
        (["echo", "tools:*"], None),
        (["echo"], frozenset({"echo"})),
        ("echo sleep", frozenset({"echo", "sleep"})),
        ([], frozenset()),
    ],
)
def test_parse_scope(scope: object, expected: frozenset | None) -> None:
    assert parse_scope(scope) == expected


@pytest.mark.parametrize("scope", [5, {"tools": "*"}, ["echo", 1]])
def test_ill_typed_scope(scope: object) -> None:
    with pytest.raises(AuthError) as info:
        parse_scope(scope)
    assert info.value.code == "invalid_token"


def test_missing_scope_allows_nothing(verifier: Verifier) -> None:
    assert verifier.verify(mint_token(SECRET, now=NOW, omit=["scope"]), NOW).scope == frozenset()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _hs256_by_hand(secret: bytes, claims: dict) -> str:
    signing_input = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + _b64(json.dumps(claims).encode())
    return (signing_input + b"." + _b64(hmac.new(secret, signing_input, hashlib.sha256).digest())).decode()


def _pem(private_key: object) -> bytes:
    return private_key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_public_key_verifiers_pick_the_algorithm_from_the_key() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rs = public_key_verifier(_pem(rsa_key))
    es = public_key_verifier(_pem(ec_key))
    assert (rs.algorithm, es.algorithm) == ("RS256", "ES256")
    assert rs.verify(mint_token(rsa_key, now=NOW, algorithm="RS256"), NOW).subject == "tester"
    assert es.verify(mint_token(ec_key, now=NOW, algorithm="ES256"), NOW).subject == "tester"
    # Key confusion: an HS256 token "signed" with the public key PEM as the HMAC secret.
    assert (
        refused(rs, _hs256_by_hand(_pem(rsa_key), {"sub": "x", "iat": int(NOW), "exp": int(NOW) + 60})).code
        == "invalid_token"
    )
    # An ES256 token does not pass the RS256 verifier.
    assert refused(rs, mint_token(ec_key, now=NOW, algorithm="ES256")).code == "invalid_token"


def test_public_key_verifier_rejects_junk() -> None:
    with pytest.raises(ValueError):
        public_key_verifier(b"not a key")
    with pytest.raises(ValueError):
        public_key_verifier(_pem(ec.generate_private_key(ec.SECP256K1())))


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"1" + b"0" * 400])
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_time_claims_must_be_finite_numbers(verifier: Verifier, claim: str, raw: bytes) -> None:
    # Python's JSON parser (PyJWT's) accepts NaN and Infinity, and 1e400 is an infinite float:
    # NaN compares false with everything (an exp that never expires), so non-finite floats are
    # refused. An integer beyond a double's range used to raise OverflowError (found by fuzzing);
    # it is compared exactly now: a far-future exp is accepted, a far-future iat or nbf is not.
    claims = {"sub": "x", "iat": int(NOW), "exp": int(NOW) + 60, claim: 0}
    body = json.dumps(claims).encode().replace(f'"{claim}": 0'.encode(), f'"{claim}": '.encode() + raw)
    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + _b64(body)
    token = (signing_input + b"." + _b64(hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest())).decode()
    if claim == "exp" and raw.startswith(b"1" + b"0" * 10):
        assert verifier.verify(token, NOW).subject == "x"
    else:
        assert refused(verifier, token).code == "invalid_token"
