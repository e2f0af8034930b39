"""How one client connection behaves (timeouts, limits, handshake extras): plain data, filled by the User."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from users.wire.protocol import DEFAULT_DIALECT, Dialect
from users.wire.protocols.base import Protocol
from users.wire.protocols.toolcall import ToolCall


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How one connection behaves; the User fills it from its options (one per user: slots, no __dict__)."""

    connect_timeout_s: float = 10.0
    hello_timeout_s: float = 10.0
    call_timeout_s: float = 10.0
    max_message_bytes: int = 16 * 1024 * 1024
    ping_interval_s: float = 0.0
    ping_timeout_s: float = 10.0
    headers: Sequence[str] = ()
    subprotocols: Sequence[str] = ()
    sslopt: dict[str, Any] = field(default_factory=dict)
    dialect: Dialect = DEFAULT_DIALECT
    request_type: str = "WS"
    protocol: Protocol | None = None
    """The wire protocol (users/wire/protocols/); None: toolcall with `dialect`."""
    compression: str = ""
    """`deflate` offers permessage-deflate at the upgrade; empty: no extension."""
    follow_redirects: bool = False
    """Follow a redirect answer to the upgrade within the same origin (users/wire/redirects.py)."""

    def wire_protocol(self) -> Protocol:
        """The protocol connections speak: `protocol`, else toolcall with `dialect`."""
        return self.protocol if self.protocol is not None else ToolCall(self.dialect)
