"""Pure JWT minting for hello (PyJWT), with the clock passed in and tokens reused until near expiry."""

from __future__ import annotations

from dataclasses import dataclass, field

import jwt


class TokenSource:
    """Gives a token for hello; `token_for(now)` may mint a fresh one (`now` is Unix seconds)."""

    def token_for(self, now: float) -> str:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class StaticToken(TokenSource):
    """A ready-made token from the command line, used as it is."""

    token: str = field(repr=False)

    def token_for(self, now: float) -> str:
        return self.token


@dataclass
class Minter(TokenSource):
    """Mints tokens with `sub`, `iat`, `exp`, `scope` (and `aud` when set), signed with `key`.

    `key` is an HS256 secret, or a PEM private key (RS256 for RSA, ES256 for
    P-256 EC keys). A token is reused until less than `refresh_margin_s` of
    its life is left, so reconnect storms do not pay for a signature per
    connection, and a reconnect near expiry gets a fresh one.
    """

    key: str = field(repr=False)
    algorithm: str = "HS256"
    subject: str = "locust"
    scope: tuple[str, ...] = ("tools:*",)
    ttl_s: float = 3600.0
    audience: str | None = None
    refresh_margin_s: float = 60.0
    minted: int = field(default=0, init=False)
    _token: str | None = field(default=None, init=False, repr=False)
    _expires_at: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("the JWT signing key is empty")
        if self.ttl_s <= 0:
            raise ValueError(f"token lifetime must be positive, got {self.ttl_s}")

    def mint(self, now: float) -> str:
        """A new token issued at `now`."""
        issued = int(now)
        claims: dict[str, object] = {
            "sub": self.subject,
            "iat": issued,
            "exp": issued + int(self.ttl_s),
            "scope": list(self.scope),
        }
        if self.audience:
            claims["aud"] = self.audience
        self.minted += 1
        return jwt.encode(claims, self.key, algorithm=self.algorithm)

    def token_for(self, now: float) -> str:
        if self._token is None or now >= self._expires_at - min(self.refresh_margin_s, self.ttl_s / 2):
            self._token = self.mint(now)
            self._expires_at = int(now) + int(self.ttl_s)
        return self._token


def algorithm_for_private_key(pem: bytes) -> str:
    """RS256 for an RSA key, ES256/384/512 for an EC key on P-256/384/521; ValueError otherwise (never the key)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValueError("not an unencrypted PEM private key") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    raise ValueError("unsupported key type: use RSA (RS256) or EC P-256/P-384/P-521 (ES256/384/512)")


def corrupt(token: str) -> str:
    """The same token with a broken signature (for users deliberately sending bad tokens)."""
    head, _, signature = token.rpartition(".")
    flipped = ("A" if signature[:1] != "A" else "B") + signature[1:]
    return f"{head}.{flipped}"
