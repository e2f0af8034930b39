"""Pure protocol interface: what a wire protocol must say so the client core can speak it (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar
from typing import Protocol as TypingProtocol

from users.wire.protocol import ServerMessage


class Template(TypingProtocol):
    """A call for one tool with fixed arguments, serialised once; `encode` adds the request id."""

    tool: str
    arguments: Any

    def encode(self, request_id: str) -> bytes:
        """The call's message for `request_id` (decimal digits the core makes: 1, 2, 3, ...)."""
        ...


class Protocol:
    """One wire protocol as a pure codec; subclass it for yet another JSON protocol.

    The core numbers calls 1, 2, 3, ... per connection and hands the number (as decimal text) to
    `Template.encode`; `parser()` classifies each server text message into the types of users/wire/protocol.py:
    `ToolResult` (the answer to a call: its `request_id` as that same decimal text, a failure's `error_code`
    is what Locust's failures table shows), `HelloOk` / `ServerError` (the handshake's answer), `PushEvent`,
    `Reply` (a server request answered at once), `OtherMessage`, or it raises `ProtocolViolation(code)`.
    """

    name: ClassVar[str] = ""
    """What `--protocol` calls it."""
    subprotocols: tuple[str, ...] = ()
    """WebSocket subprotocols offered at the upgrade (the server must pick one of them)."""
    bearer_token: bool = False
    """The token goes in the upgrade's `Authorization: Bearer` header (else in the handshake message)."""
    has_hello: bool = True
    """A handshake message is sent after the upgrade and its answer awaited (timed as `hello`)."""

    def upgrade_headers(self, token: str | None) -> list[str]:
        """Extra upgrade headers, `Name: value` each (the bearer token, when this protocol carries it there)."""
        if self.bearer_token and token:
            return [f"Authorization: Bearer {token}"]
        return []

    def hello(self, session_id: str, token: str) -> bytes:
        """The handshake message (only called when `has_hello`)."""
        raise NotImplementedError

    def after_hello(self) -> list[bytes]:
        """Messages sent as soon as the handshake is answered ok (MCP's `notifications/initialized`)."""
        return []

    def template(self, tool: str, arguments: Any) -> Template:
        """The call of `tool` with `arguments`, serialised once."""
        raise NotImplementedError

    def parser(self) -> Callable[[bytes], ServerMessage]:
        """The function that classifies one server text message (called once per message: keep it lean)."""
        raise NotImplementedError
