"""Pure `mcp` protocol (Model Context Protocol over WebSocket): initialize, tools/call, isError, ping answered."""

from __future__ import annotations

from typing import Any

from users.wire.protocol import HelloOk, ToolResult
from users.wire.protocols.jsonrpc import HELLO_ID, JsonRpc, RpcTemplate, request

DEFAULT_PROTOCOL_VERSION = "2025-06-18"
CLIENT_INFO = {"name": "locust-ws", "version": "1.0"}


class Mcp(JsonRpc):
    """MCP: subprotocol `mcp`; `initialize` then `notifications/initialized` (timed together as `hello`);
    calls are `tools/call` with `name` and `arguments`; `result.isError: true` is the failure `tool_error`;
    notifications (progress, logging) are counted as pushes; the server's `ping` is answered."""

    name = "mcp"
    subprotocols = ("mcp",)
    bearer_token = True

    def __init__(self, protocol_version: str = DEFAULT_PROTOCOL_VERSION) -> None:
        super().__init__()
        self.protocol_version = protocol_version
        self.has_hello = True

    def hello(self, session_id: str, token: str) -> bytes:
        params = {"protocolVersion": self.protocol_version, "capabilities": {}, "clientInfo": CLIENT_INFO}
        return request(HELLO_ID, "initialize", params)

    def after_hello(self) -> list[bytes]:
        return [request(None, "notifications/initialized")]

    def template(self, tool: str, arguments: Any) -> RpcTemplate:
        return RpcTemplate(tool, arguments, "tools/call", {"name": tool, "arguments": arguments})

    def result(self, request_id: str, value: Any) -> ToolResult:
        if type(value) is dict and value.get("isError") is True:
            return ToolResult(request_id, False, None, "tool_error")
        return ToolResult(request_id, True, value, None)

    def hello_answer(self, value: Any) -> HelloOk:
        info = value if type(value) is dict else {}
        server = info.get("serverInfo")
        return HelloOk(
            None, {**(server if type(server) is dict else {}), "protocolVersion": info.get("protocolVersion")}, []
        )
