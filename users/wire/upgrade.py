"""Pure WebSocket upgrade (RFC 6455 section 4): the GET request, a bounded response parser fed bytes, its checks.

Accepts and rejects what websocket-client 1.9 does (tests/users/wire/test_upgrade.py holds them equal on real
responses), but never reads more than `MAX_HEADER_BYTES` or `MAX_HEADER_LINES`, and keeps the bytes that came
after the header for the frame reader. The socket part is users/engine/dial.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEADER_BYTES = 16 * 1024
"""Most bytes of a response's status line and headers."""
MAX_HEADER_LINES = 100
"""Most lines of a response's header (status line included)."""
REDIRECTS = (301, 302, 303, 307, 308)


class HandshakeError(Exception):
    """The upgrade failed; the message is a short, secret-free reason (`connect_failed: <reason>`)."""

    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        """The Retry-After header of a 429 or 503 answer, as sent."""


@dataclass(frozen=True)
class Target:
    """Where a ws:// or wss:// URL points: what the TCP connection, TLS and the request line need."""

    secure: bool
    host: str
    port: int
    resource: str

    @property
    def host_port(self) -> str:
        """The Host header's value (the port left out when it is 80 or 443, as websocket-client does)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port in (80, 443) else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """scheme://host:port: what credentials may be sent to (the path and query left out)."""
        return f"{'wss' if self.secure else 'ws'}://{self.host_port}"


def target_of(url: str) -> Target:
    """The Target of a ws:// or wss:// URL (http/https count as ws/wss); HandshakeError for anything else."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise HandshakeError("not a ws:// or wss:// URL")
    try:
        port = parts.port
    except ValueError:
        raise HandshakeError("invalid port in URL") from None
    secure = scheme == "wss"
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(secure, parts.hostname, port or (443 if secure else 80), resource)


def new_key() -> str:
    """A fresh Sec-WebSocket-Key."""
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer `key` with."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def request_bytes(target: Target, key: str, subprotocols: Sequence[str], headers: Sequence[str]) -> bytes:
    """The upgrade request, with the headers websocket-client sends, in its order."""
    lines = [
        f"GET {target.resource} HTTP/1.1",
        "Upgrade: websocket",
        f"Host: {target.host_port}",
        f"Origin: {'https' if target.secure else 'http'}://{target.host_port}",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Connection: Upgrade",
    ]
    if subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {','.join(subprotocols)}")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Response:
    """A parsed response head: status, headers (lower-case names, the last of a repeated one) and what followed."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    rest: bytes = b""
    """Bytes after the blank line: the first WebSocket frames, for the frame reader."""


class ResponseParser:
    """Fed the bytes of a response as they come; `feed` returns the Response once its header has ended."""

    def __init__(self, max_bytes: int = MAX_HEADER_BYTES, max_lines: int = MAX_HEADER_LINES) -> None:
        self._buffer = bytearray()
        self._response = Response()
        self._has_status = False
        self._lines = 0
        self._max_bytes = max_bytes
        self._max_lines = max_lines
        self._consumed = 0

    def feed(self, data: bytes) -> Response | None:
        """Add bytes; the Response once the header is complete (None: more needed); HandshakeError when the
        header is malformed or over its limits."""
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if self._consumed + len(self._buffer) > self._max_bytes:
                    raise HandshakeError("handshake header too large")
                return None
            self._consumed += end + 1
            if self._consumed > self._max_bytes:
                raise HandshakeError("handshake header too large")
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._line(raw):
                self._response.rest = bytes(self._buffer)
                return self._response

    def end_of_stream(self) -> HandshakeError:
        """The error for a connection that ended before the header did."""
        return HandshakeError("connection closed during the handshake")

    def _line(self, raw: bytes) -> bool:
        """Take one header line; True at the blank line that ends the header."""
        self._lines += 1
        if self._lines > self._max_lines:
            raise HandshakeError("handshake header has too many lines")
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise HandshakeError("handshake header is not UTF-8") from None
        if not line:
            return True
        if not self._has_status:
            parts = line.split(" ", 2)
            try:
                self._response.status = int(parts[1])
            except (IndexError, ValueError):
                raise HandshakeError("invalid HTTP status line") from None
            self._has_status = True
            return False
        name, colon, value = line.partition(":")
        if not colon:
            raise HandshakeError("invalid HTTP header line")
        headers = self._response.headers
        name = name.lower()
        if name == "set-cookie" and headers.get(name):
            headers[name] += "; " + value.strip()
        else:
            headers[name] = value.strip()
        return False


def check_response(response: Response, key: str, subprotocols: Sequence[str]) -> str | None:
    """Validate a 101 answer as websocket-client does; the chosen subprotocol (lower-case; None when none was
    offered). HandshakeError for any other status or a header that does not fit."""
    status, headers = response.status, response.headers
    if status != 101:
        retry_after = headers.get("retry-after") if status in (429, 503) else None
        raise HandshakeError(f"HTTP {status}", retry_after)
    for name, token in (("upgrade", "websocket"), ("connection", "upgrade")):
        if token not in [part.strip().lower() for part in headers.get(name, "").split(",")]:
            raise HandshakeError(f"bad handshake: no {name.title()}: {token} header")
    chosen = None
    if subprotocols:
        answer = headers.get("sec-websocket-protocol", "")
        if not answer or answer.lower() not in [s.lower() for s in subprotocols]:
            raise HandshakeError("bad handshake: the server chose no offered subprotocol")
        chosen = answer.lower()
    accept = headers.get("sec-websocket-accept", "").lower().encode()
    if not accept or not hmac.compare_digest(accept, accept_for(key).lower().encode()):
        raise HandshakeError("bad handshake: wrong Sec-WebSocket-Accept")
    return chosen
