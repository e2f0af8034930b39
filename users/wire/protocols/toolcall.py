"""Pure `toolcall` protocol (shared/PROTOCOL.md): hello with the token, call_tool, tool_result, events."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from users.wire.protocol import (
    DEFAULT_DIALECT,
    CallTemplate,
    Dialect,
    ServerMessage,
    build_hello,
    parse_server_message,
)
from users.wire.protocols.base import Protocol


class ToolCall(Protocol):
    """PROTOCOL.md, with the field names of `dialect`: the codec of users/wire/protocol.py, unchanged."""

    name = "toolcall"

    def __init__(self, dialect: Dialect = DEFAULT_DIALECT) -> None:
        self.dialect = dialect

    def hello(self, session_id: str, token: str) -> bytes:
        return build_hello(session_id, token, self.dialect)

    def template(self, tool: str, arguments: Any) -> CallTemplate:
        return CallTemplate(tool, arguments, self.dialect)

    def parser(self) -> Callable[[bytes], ServerMessage]:
        if self.dialect == DEFAULT_DIALECT:
            return parse_server_message  # the hot path: no wrapper call per message
        return partial(parse_server_message, dialect=self.dialect)
