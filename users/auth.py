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
class HS256Minter(TokenSource):
    """Mints HS256 tokens with `sub`, `iat`, `exp`, `scope` (and `aud` when set).

    A token is reused until less than `refresh_margin_s` of its life is left,
    so reconnect storms do not pay for a signature per connection.
    """

    secret: str = field(repr=False)
    subject: str = "locust"
    scope: tuple[str, ...] = ("tools:*",)
    ttl_s: float = 3600.0
    audience: str | None = None
    refresh_margin_s: float = 60.0
    _token: str | None = field(default=None, init=False, repr=False)
    _expires_at: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("the JWT secret is empty")
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
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def token_for(self, now: float) -> str:
        if self._token is None or now >= self._expires_at - min(self.refresh_margin_s, self.ttl_s / 2):
            self._token = self.mint(now)
            self._expires_at = int(now) + int(self.ttl_s)
        return self._token
