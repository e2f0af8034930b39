"""Wire protocols the users speak, by `--protocol` name: pure codecs behind one interface (users/wire/protocols/base.py)."""

from __future__ import annotations

from collections.abc import Callable

from users.wire.protocols.base import Protocol, Template
from users.wire.protocols.jsonrpc import JsonRpc
from users.wire.protocols.mcp import Mcp
from users.wire.protocols.toolcall import ToolCall

PROTOCOLS: dict[str, Callable[..., Protocol]] = {"toolcall": ToolCall, "jsonrpc": JsonRpc, "mcp": Mcp}
"""`--protocol` name -> the class (called with that protocol's options)."""

__all__ = ["PROTOCOLS", "JsonRpc", "Mcp", "Protocol", "Template", "ToolCall", "register_protocol"]


def register_protocol(name: str, factory: Callable[..., Protocol]) -> None:
    """Make `--protocol NAME` select `factory` (a Protocol subclass) for every user of this process."""
    PROTOCOLS[name] = factory
