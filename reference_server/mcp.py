"""The ``mcp`` codec: MCP over WebSocket (subprotocol ``mcp``): initialize, tools/list, tools/call, ping (pure).

The bearer token is checked at the upgrade. ``initialize`` is the handshake (counted in
``hello_ok``, timed out by ``--hello-timeout``, swallowed by the stall_hello fault);
``tools/call`` runs a tool: its result comes back as text content (and as
``structuredContent`` when it is an object), a failing tool as ``isError: true`` with
``"<code>: <message>"`` as its text; an unknown tool or malformed params are JSON-RPC
errors (-32602). With ``--mcp-ping-interval`` the server also sends ``ping`` requests.
"""

from __future__ import annotations

from typing import Any, Final

from orjson import dumps

from . import rpc_messages as rpc
from .codec import BAD, BAD_CALL, BAD_HELLO, HELLO, LIST_TOOLS, NOT_A_HELLO, REPLY, OnCall, Request
from .jsonrpc import JsonRpcCodec

#: The protocol version this server prefers; a client asking for one of SUPPORTED_VERSIONS gets it.
PROTOCOL_VERSION: Final = "2025-06-18"
SUPPORTED_VERSIONS: Final = frozenset({"2025-06-18", "2025-03-26", "2024-11-05"})
#: Our codes answered as JSON-RPC errors (MCP's protocol errors); every other failure is isError.
PROTOCOL_ERRORS: Final = {"unknown_tool": rpc.INVALID_PARAMS, "bad_message": rpc.INVALID_REQUEST}
_CAPABILITIES: Final = {"tools": {"listChanged": False}}
PING_ID_PREFIX: Final = "server-ping-"
_NO_ARGUMENTS: dict[str, Any] = {}


def call_result(result: Any) -> dict[str, Any]:
    """The CallToolResult content of a tool's result (raises JSONEncodeError for unencodable ones)."""
    text = result if type(result) is str else dumps(result).decode()
    body: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": False}
    if type(result) is dict:
        body["structuredContent"] = result
    return body


class McpCodec(JsonRpcCodec):
    """JSON-RPC messages with MCP's lifecycle (initialize) and tools methods."""

    __slots__ = ("_server_info", "_tool_list")
    SUBPROTOCOL = "mcp"
    HANDSHAKE = True
    PINGS = True

    def __init__(self, server_info: dict[str, str], tool_descriptions: list[dict[str, str]]) -> None:
        self._server_info = server_info
        self._tool_list = [
            {"name": t["name"], "description": t["description"], "inputSchema": {"type": "object"}}
            for t in tool_descriptions
        ]

    def _opening(self, request_id: Any, method: str, params: Any) -> Request:
        if method == "initialize":
            return self._initialize(request_id, params)
        if method == "ping":
            return (REPLY, rpc.result(request_id, {}), None, None)
        return NOT_A_HELLO

    def _request(self, request_id: Any, method: str, params: Any, on_call: OnCall) -> Request | None:
        if method == "tools/call":
            name = params.get("name") if type(params) is dict else None
            arguments = params.get("arguments", _NO_ARGUMENTS) if type(params) is dict else None
            if type(name) is str and type(arguments) is dict:
                on_call(request_id, name, arguments)
                return None
            message = "tools/call needs a string name and an object of arguments"
            return (BAD_CALL, rpc.error(request_id, rpc.INVALID_PARAMS, message, "bad_message"), "bad_message", None)
        if method == "ping":
            return (REPLY, rpc.result(request_id, {}), None, None)
        if method == "tools/list":
            return (LIST_TOOLS, rpc.result(request_id, {"tools": self._tool_list}), None, None)
        message = "already initialized" if method == "initialize" else f"unknown method {method[:64]}"
        return (BAD, rpc.error(request_id, rpc.METHOD_NOT_FOUND, message, "bad_message"), None, None)

    def _is_other(self, msg: Any) -> bool:
        """The client's answer to one of our pings needs nothing more."""
        return rpc.is_response(msg) and type(msg["id"]) is str and msg["id"].startswith(PING_ID_PREFIX)

    def _initialize(self, request_id: Any, params: Any) -> Request:
        version = params.get("protocolVersion") if type(params) is dict else None
        if type(version) is not str:
            data = rpc.error(request_id, rpc.INVALID_PARAMS, "initialize needs a protocolVersion", "bad_message")
            return (BAD_HELLO, data, None, None)
        chosen = version if version in SUPPORTED_VERSIONS else PROTOCOL_VERSION
        info = {"protocolVersion": chosen, "capabilities": _CAPABILITIES, "serverInfo": self._server_info}
        return (HELLO, None, rpc.result(request_id, info), None)

    def ok(self, request_id: Any, result: Any) -> bytes:  # type: ignore[override]
        return rpc.result(request_id, call_result(result))

    def error(self, request_id: Any, code: str, message: str) -> bytes:  # type: ignore[override]
        rpc_code = PROTOCOL_ERRORS.get(code)
        if rpc_code is not None:
            return rpc.error(request_id, rpc_code, message, code)
        failure = {"content": [{"type": "text", "text": f"{code}: {message}"}], "isError": True}
        return rpc.result(request_id, failure)

    @staticmethod
    def ping(serial: int) -> bytes | None:
        return rpc.request(f"{PING_ID_PREFIX}{serial}", "ping")
