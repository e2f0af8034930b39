"""Minted tokens carry the right claims and are reused until near expiry."""

from __future__ import annotations

import jwt
import pytest

from users.auth import HS256Minter, StaticToken

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
    minter = HS256Minter(SECRET, subject="load", scope=("echo", "sleep"), ttl_s=120, audience="svc")
    claims = decode(minter.token_for(1_000_000.0), 1_000_000.0, audience="svc")
    assert claims == {"sub": "load", "iat": 1_000_000, "exp": 1_000_120, "scope": ["echo", "sleep"], "aud": "svc"}
    assert jwt.get_unverified_header(minter.token_for(1_000_000.0))["alg"] == "HS256"


def test_token_reused_until_refresh_margin() -> None:
    minter = HS256Minter(SECRET, ttl_s=600, refresh_margin_s=60)
    first = minter.token_for(1000.0)
    assert minter.token_for(1539.0) == first
    refreshed = minter.token_for(1540.0)
    assert refreshed != first
    assert decode(refreshed, 1540.0)["iat"] == 1540


def test_secret_never_in_repr() -> None:
    minter = HS256Minter(SECRET)
    minter.token_for(0.0)
    assert SECRET not in repr(minter)
    assert "tok-value" not in repr(StaticToken("tok-value"))


@pytest.mark.parametrize("kwargs", [{"secret": ""}, {"secret": SECRET, "ttl_s": 0}])
def test_bad_settings_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        HS256Minter(**kwargs)
