"""Pure HTTP upgrade for the probe: requests built with any header left out or broken, answers parsed."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROBE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
"""RFC 6455's own sample key (section 1.3): a run is reproducible, and its accept value is well known."""


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept value a server must answer `key` with (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(
    host: str, path: str, *, key: str | None = PROBE_KEY, version: str = "13", extra: list[str] | None = None
) -> bytes:
    """An upgrade request; `key=None` leaves Sec-WebSocket-Key out, `extra` adds `Name: value` lines."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade"]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    lines.append(f"Sec-WebSocket-Version: {version}")
    lines.extend(extra or [])
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class UpgradeAnswer:
    """The server's answer to an upgrade request: status, headers (lower-case names) and any body read so far."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str:
        """A header's value ('' when absent; repeated headers joined with ', ')."""
        return self.headers.get(name.lower(), "")

    def extensions(self) -> list[str]:
        """The extension names the server accepted."""
        return [part.split(";")[0].strip() for part in self.header("sec-websocket-extensions").split(",") if part]


def parse_answer(head: bytes) -> UpgradeAnswer:
    """The answer whose head (status line and headers, without the blank line) is `head`; ValueError if not HTTP."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP answer: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return UpgradeAnswer(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    """(head, the bytes after the blank line) once `data` holds a whole head; None before."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    return (head, rest) if sep else None
