"""The server a probe aims at: a ws:// or wss:// URL split into what a raw socket needs (pure)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit


class TargetError(ValueError):
    """A URL the probe cannot use; the message never repeats the URL's query (it may carry a token)."""


@dataclass(frozen=True)
class Target:
    """Where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    """Path and query, as sent on the request line."""

    @property
    def tls(self) -> bool:
        return self.scheme == "wss"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def shown(self) -> str:
        """scheme://host:port/path without the query: safe to print."""
        return f"{self.scheme}://{self.host_header}{self.path.split('?', 1)[0]}"


def parse_target(url: str) -> Target:
    """The Target of `url`; TargetError unless it is a ws:// or wss:// URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetError("the URL is not a valid ws:// or wss:// URL") from None
    if parts.scheme not in ("ws", "wss"):
        raise TargetError(f"the URL must be ws:// or wss://, not {parts.scheme or 'one without a scheme'}")
    if not parts.hostname:
        raise TargetError("the URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "wss" else 80), path)


def tls_context(ca_file: str, insecure: bool) -> ssl.SSLContext:
    """The client TLS context for wss:// (`ca_file` trusted; `insecure`: no certificate checks)."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
