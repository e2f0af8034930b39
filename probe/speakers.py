"""What each protocol says at the upgrade and the handshake, and how the probe reads its answers (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from users.wire.protocol import DEFAULT_DIALECT
from users.wire.protocols.base import Protocol
from users.wire.protocols.jsonrpc import HELLO_ID, request
from users.wire.protocols.options import build_protocol

UNKNOWN_TOOL_RPC = {"jsonrpc": -32601, "mcp": -32602}
"""The JSON-RPC error code of a call to a tool the server lacks: JSON-RPC's method-not-found, MCP's invalid params."""
PARSE_ERROR = -32700


@dataclass(frozen=True)
class Answer:
    """One server text message as the probe reads it."""

    kind: str
    """'hello_ok', 'error' (not tied to a call), 'result' (a call's answer) or 'other'."""
    request_id: str | None = None
    ok: bool = True
    code: str | None = None
    """The protocol's error code (PROTOCOL.md's, or a JSON-RPC error's data.code, else its number)."""
    rpc: int | None = None
    """A JSON-RPC error's numeric code."""
    text: str = ""
    tools: tuple[str, ...] | None = None
    """The tool names a toolcall hello_ok lists."""


def read_answer(name: str, payload: bytes) -> Answer:
    """`payload` (a server text message) read for protocol `name`; kind 'other' for anything unexpected."""
    text = payload[:120].decode("utf-8", "replace")
    try:
        msg = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return Answer("other", text=text)
    if type(msg) is not dict:
        return Answer("other", text=text)
    if name == "toolcall":
        return _toolcall_answer(msg, text)
    return _rpc_answer(msg, text)


def _toolcall_answer(msg: dict[str, Any], text: str) -> Answer:
    op = msg.get("op")
    if op == "hello_ok":
        tools = msg.get("tools")
        items = tools if type(tools) is list else []
        names = tuple(t if type(t) is str else str(t.get("name")) for t in items if type(t) in (str, dict))
        return Answer("hello_ok", text=text, tools=names if type(tools) is list else None)
    if op == "error":
        return Answer("error", code=str(msg.get("code")), text=text)
    if op == "tool_result":
        error = msg.get("error") if type(msg.get("error")) is dict else {}
        ok = msg.get("ok") is True
        return Answer("result", str(msg.get("request_id")), ok, None if ok else str(error.get("code")), text=text)
    return Answer("other", text=text)


def _rpc_answer(msg: dict[str, Any], text: str) -> Answer:
    rid = msg.get("id")
    request_id = None if rid is None else str(rid)
    if "result" in msg:
        if rid == HELLO_ID:
            return Answer("hello_ok", request_id, text=text)
        result = msg["result"]
        if type(result) is dict and result.get("isError") is True:
            return Answer("result", request_id, False, "tool_error", text=text)
        return Answer("result", request_id, True, text=text)
    error = msg.get("error")
    if type(error) is dict:
        data = error.get("data") if type(error.get("data")) is dict else {}
        rpc = error.get("code") if type(error.get("code")) is int else None
        code = str(data.get("code", rpc))
        if rid is None or rid == HELLO_ID:
            return Answer("error", request_id, False, code, rpc, text)
        return Answer("result", request_id, False, code, rpc, text)
    return Answer("other", text=text)


@dataclass
class Speaker:
    """One protocol as the probe speaks it: the users' codec (users/wire/protocols) plus what the probe checks."""

    name: str
    protocol: Protocol

    @classmethod
    def for_options(cls, name: str, mcp_protocol_version: str, rpc_hello: str) -> Speaker:
        protocol = build_protocol(
            name, dialect=DEFAULT_DIALECT, mcp_protocol_version=mcp_protocol_version, rpc_hello=rpc_hello
        )
        return cls(name, protocol)

    @property
    def token_in_upgrade(self) -> bool:
        """The token goes in the upgrade's bearer header (jsonrpc, mcp), not in a hello message."""
        return self.protocol.bearer_token

    def upgrade_headers(self, token: str | None) -> list[str]:
        """Extra upgrade headers: the subprotocol offered and, for bearer protocols, the token."""
        headers = list(self.protocol.upgrade_headers(token))
        if self.protocol.subprotocols:
            headers.append(f"Sec-WebSocket-Protocol: {', '.join(self.protocol.subprotocols)}")
        return headers

    def hello(self, session_id: str, token: str) -> bytes | None:
        """The handshake message (None when the protocol has none)."""
        return self.protocol.hello(session_id, token) if self.protocol.has_hello else None

    def after_hello(self) -> list[bytes]:
        return self.protocol.after_hello()

    def call(self, request_id: int, tool: str, arguments: Any) -> bytes:
        """A call of `tool` (request ids are decimal numbers: JSON-RPC sends them as integers)."""
        return self.protocol.template(tool, arguments).encode(str(request_id))

    def rpc_request(self, request_id: Any, method: str, params: Any = None) -> bytes:
        """A JSON-RPC request (jsonrpc, mcp)."""
        return request(request_id, method, params)

    def read(self, payload: bytes) -> Answer:
        return read_answer(self.name, payload)
