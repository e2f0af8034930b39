"""The ``mcp`` protocol: MCP over WebSocket (subprotocol ``mcp``): initialize, tools/list, tools/call, ping.

The bearer token is checked at the upgrade. ``initialize`` is the handshake (counted in
``hello_ok``, timed out by ``--hello-timeout``, swallowed by the stall_hello fault);
``tools/call`` runs a tool: its result comes back as text content (and as
``structuredContent`` when it is an object), a failing tool as ``isError: true`` with
``"<code>: <message>"`` as its text; an unknown tool or malformed params are JSON-RPC
errors (-32602). With ``--mcp-ping-interval`` the server also sends ``ping`` requests.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from orjson import JSONEncodeError, dumps
from picows import WSCloseCode

from . import rpc_messages as rpc
from .context import ServerContext
from .jsonrpc import JsonRpcConnection
from .work import HELLO_STALLED, OPEN

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


class McpConnection(JsonRpcConnection):
    """A JSON-RPC connection speaking MCP's lifecycle and tools methods."""

    __slots__ = ("_tool_list", "_ping_timer", "_pings")
    SUBPROTOCOL = "mcp"
    HANDSHAKE = True

    def __init__(self, ctx: ServerContext, scope: frozenset[str] | None) -> None:
        super().__init__(ctx, scope)
        self._tool_list = [
            {"name": t["name"], "description": t["description"], "inputSchema": {"type": "object"}}
            for t in ctx.tool_descriptions
        ]
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pings = 0

    # ---- requests -----------------------------------------------------------------------------

    def _on_opening(self, request_id: Any, method: str, params: Any) -> None:
        if method == "initialize":
            self._on_initialize(request_id, params)
        elif method == "ping":
            self._send(rpc.result(request_id, {}))
        else:
            self._refuse_hello("hello_required", "initialize first")

    def _on_request(self, request_id: Any, method: str, params: Any) -> None:
        if method == "tools/call":
            name = params.get("name") if type(params) is dict else None
            arguments = params.get("arguments", _NO_ARGUMENTS) if type(params) is dict else None
            if type(name) is str and type(arguments) is dict:
                self._dispatch(request_id, name, arguments)
            else:
                self._counters.bad_messages += 1
                self._counters.calls_received += 1
                message = "tools/call needs a string name and an object of arguments"
                self._answer(rpc.error(request_id, rpc.INVALID_PARAMS, message, "bad_message"), "bad_message")
        elif method == "ping":
            self._send(rpc.result(request_id, {}))
        elif method == "tools/list":
            if not (self._ctx.answer_faults and self._ctx.faults.stall):
                self._send(rpc.result(request_id, {"tools": self._tool_list}))
        else:
            self._counters.bad_messages += 1
            message = "already initialized" if method == "initialize" else f"unknown method {method[:64]}"
            self._send(rpc.error(request_id, rpc.METHOD_NOT_FOUND, message, "bad_message"))

    def _on_other(self, msg: Any) -> bool:
        """The client's answer to one of our pings needs nothing more."""
        return rpc.is_response(msg) and type(msg["id"]) is str and msg["id"].startswith(PING_ID_PREFIX)

    def _on_initialize(self, request_id: Any, params: Any) -> None:
        if self._ctx.faults.stall_hello:
            self._cancel_hello_timer()
            self._state = HELLO_STALLED
            self._counters.hellos_unanswered += 1
            return
        version = params.get("protocolVersion") if type(params) is dict else None
        if type(version) is not str:
            self._counters.bad_messages += 1
            self._counters.refuse_hello("bad_message")
            self._send(rpc.error(request_id, rpc.INVALID_PARAMS, "initialize needs a protocolVersion", "bad_message"))
            self.close(WSCloseCode.POLICY_VIOLATION, "bad_message")
            return
        self._accept(self._grant_scope)
        chosen = version if version in SUPPORTED_VERSIONS else PROTOCOL_VERSION
        info = {"protocolVersion": chosen, "capabilities": _CAPABILITIES, "serverInfo": self._ctx.server_info}
        self._send(rpc.result(request_id, info))
        if self._ctx.ping_interval_s:
            self._ping_timer = self._loop.call_later(self._ctx.ping_interval_s, self._ping)

    def _ping(self) -> None:
        self._ping_timer = None
        if self._state is OPEN and self._ctx.ping_interval_s:
            self._pings += 1
            self._send(rpc.request(f"{PING_ID_PREFIX}{self._pings}", "ping"))
            self._ping_timer = self._loop.call_later(self._ctx.ping_interval_s, self._ping)

    # ---- answers ------------------------------------------------------------------------------

    def _result_ok(self, request_id: Any, result: Any) -> None:
        try:
            data = rpc.result(request_id, call_result(result))
        except JSONEncodeError:
            self._result_error(request_id, "tool_failed", "result cannot be encoded as JSON")
            return
        self._answer(data, None)

    def _result_error(self, request_id: Any, code: str, message: str) -> None:
        rpc_code = PROTOCOL_ERRORS.get(code)
        if rpc_code is not None:
            data = rpc.error(request_id, rpc_code, message, code)
        else:
            failure = {"content": [{"type": "text", "text": f"{code}: {message}"}], "isError": True}
            data = rpc.result(request_id, failure)
        self._answer(data, code)

    def _stop_work(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        super()._stop_work()
