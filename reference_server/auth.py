"""Pure JWT verification for hello: token -> Grant, or AuthError carrying a protocol code.

Time is passed in (``now``, seconds since the epoch) so the rules can be tested
without sleeping: PyJWT checks the signature, algorithm, required claims and
audience; this module checks ``exp`` / ``nbf`` / ``iat`` against ``now``.

Scope: the ``scope`` claim is a list of tool names, or ``"tools:*"`` for every
tool (a space-separated string of names is accepted too). A token without a
``scope`` claim may call no tool at all (secure default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

ALL_TOOLS_SCOPE = "tools:*"
REQUIRED_CLAIMS = ("exp", "iat", "sub")
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class AuthError(Exception):
    """A refused token: ``code`` is ``invalid_token`` or ``token_expired``.

    ``message`` is safe to send to the client and to log (never contains the token).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Grant:
    """What an accepted token allows: ``scope`` is None for every tool."""

    subject: str
    scope: frozenset[str] | None


@dataclass(frozen=True)
class Verifier:
    """Verifies tokens with exactly one algorithm and its key (never ``none``)."""

    algorithm: str
    key: Any = field(repr=False)
    audience: str | None = None
    leeway_s: float = 0.0

    def verify(self, token: str, now: float) -> Grant:
        """Check ``token`` at time ``now``; return its Grant or raise AuthError."""
        claims = self._decode(token)
        _check_times(claims, now, self.leeway_s)
        subject = claims["sub"]
        if not isinstance(subject, str):
            raise AuthError("invalid_token", "token sub must be a string")
        return Grant(subject=subject, scope=parse_scope(claims.get("scope")))

    def _decode(self, token: str) -> dict[str, Any]:
        options = {
            "require": list(REQUIRED_CLAIMS),
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "verify_aud": self.audience is not None,
            "verify_sub": False,
            "verify_jti": False,
        }
        try:
            return jwt.decode(token, self.key, algorithms=[self.algorithm], audience=self.audience, options=options)
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("invalid_token", f"token lacks the {exc.claim} claim") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError("invalid_token", "token algorithm not accepted") from None
        except jwt.InvalidSignatureError:
            raise AuthError("invalid_token", "token signature does not verify") from None
        except jwt.InvalidAudienceError:
            raise AuthError("invalid_token", "token audience not accepted") from None
        except jwt.DecodeError:
            raise AuthError("invalid_token", "token is malformed") from None
        except Exception:  # any other PyJWT / key error: still just a bad token
            raise AuthError("invalid_token", "token rejected") from None


def _number(claims: dict[str, Any], name: str) -> int | float | None:
    """A time claim as a finite number, None if absent; AuthError otherwise.

    Integers are compared as they are: converting one beyond a double's range would raise.
    ``NaN`` and ``Infinity`` (which JSON parsers may accept) would compare false with
    everything, making a token that never expires: they are refused.
    """
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AuthError("invalid_token", f"token {name} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise AuthError("invalid_token", f"token {name} must be a finite number")
    return value


def _check_times(claims: dict[str, Any], now: float, leeway_s: float) -> None:
    exp = _number(claims, "exp")
    iat = _number(claims, "iat")
    nbf = _number(claims, "nbf")
    if iat is None or exp is None:  # required claims present but null
        raise AuthError("invalid_token", "token exp and iat must be numbers")
    if nbf is not None and nbf > now + leeway_s:
        raise AuthError("invalid_token", "token is not valid yet (nbf)")
    if iat > now + leeway_s:
        raise AuthError("invalid_token", "token is issued in the future (iat)")
    if exp <= now - leeway_s:
        raise AuthError("token_expired", "token has expired")


def parse_scope(scope: Any) -> frozenset[str] | None:
    """The tools a ``scope`` claim allows: None = all, empty = none. Raises AuthError."""
    if scope is None:
        return frozenset()
    if isinstance(scope, str):
        names = scope.split()
    elif isinstance(scope, list) and all(isinstance(item, str) for item in scope):
        names = scope
    else:
        raise AuthError("invalid_token", "token scope must be a list of tool names or 'tools:*'")
    if ALL_TOOLS_SCOPE in names:
        return None
    return frozenset(names)


def hmac_verifier(secret: bytes, audience: str | None = None) -> Verifier:
    """HS256 with a shared secret."""
    return Verifier(algorithm="HS256", key=secret, audience=audience)


def public_key_verifier(pem: bytes, audience: str | None = None) -> Verifier:
    """RS256 for an RSA key, ES256/ES384/ES512 for a P-256/P-384/P-521 key (PEM).

    Raises ValueError with a printable reason for anything else.
    """
    try:
        key = load_pem_public_key(pem)
    except Exception:
        raise ValueError("not a PEM public key") from None
    if isinstance(key, rsa.RSAPublicKey):
        return Verifier(algorithm="RS256", key=key, audience=audience)
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = _EC_ALGORITHMS.get(key.curve.name)
        if algorithm is None:
            raise ValueError(f"unsupported elliptic curve {key.curve.name}")
        return Verifier(algorithm=algorithm, key=key, audience=audience)
    raise ValueError("public key must be RSA or EC (P-256/P-384/P-521)")
