"""Minted tokens carry the right claims and are reused until near expiry."""

from __future__ import annotations

import jwt
import pytest

from users.wire.auth import Minter, StaticToken, algorithm_for_private_key, corrupt

SECRET = "unit-test-secret-not-used-anywhere-else"


def decode(token: str, now: float, audience: str | None = None) -> dict:
    return jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience=audience,
        options={"verify_exp": False, "verify_iat": False},
    )


def test_claims() -> None:
    minter = Minter(SECRET, subject="load", scope=("echo", "sleep"), ttl_s=120, audience="svc")
    claims = decode(minter.token_for(1_000_000.0), 1_000_000.0, audience="svc")
    assert claims == {"sub": "load", "iat": 1_000_000, "exp": 1_000_120, "scope": ["echo", "sleep"], "aud": "svc"}
    assert jwt.get_unverified_header(minter.token_for(1_000_000.0))["alg"] == "HS256"


def test_token_reused_until_refresh_margin() -> None:
    minter = Minter(SECRET, ttl_s=600, refresh_margin_s=60)
    first = minter.token_for(1000.0)
    assert minter.token_for(1539.0) == first
    refreshed = minter.token_for(1540.0)
    assert refreshed != first
    assert decode(refreshed, 1540.0)["iat"] == 1540


def test_secret_never_in_repr() -> None:
    minter = Minter(SECRET)
    minter.token_for(0.0)
    assert SECRET not in repr(minter)
    assert "tok-value" not in repr(StaticToken("tok-value"))


@pytest.mark.parametrize("kwargs", [{"key": ""}, {"key": SECRET, "ttl_s": 0}])
def test_bad_settings_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Minter(**kwargs)


@pytest.mark.parametrize(("kind", "algorithm"), [("rsa", "RS256"), ("ec", "ES256")])
def test_private_keys_sign_with_their_algorithm(kind: str, algorithm: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert algorithm_for_private_key(pem) == algorithm
    token = Minter(pem.decode(), algorithm=algorithm).token_for(1000.0)
    claims = jwt.decode(
        token, key.public_key(), algorithms=[algorithm], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims["sub"] == "locust"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(corrupt(token), key.public_key(), algorithms=[algorithm], options={"verify_exp": False})


def test_bad_private_key_says_so_without_the_key() -> None:
    with pytest.raises(ValueError) as info:
        algorithm_for_private_key(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
    assert "c2VjcmV0" not in str(info.value)


def test_refresh_counts_mints() -> None:
    minter = Minter(SECRET, ttl_s=4)
    for now in (0.0, 1.0, 2.0, 2.5, 5.0):
        minter.token_for(now)
    assert minter.minted == 3  # at 0, at 2.0 (half the life left), at 5.0
