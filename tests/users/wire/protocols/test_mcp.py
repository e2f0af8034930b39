"""The mcp codec without sockets: initialize, tools/call, isError, notifications and the server's ping."""

from __future__ import annotations

import json
from typing import Any

from users.wire.protocol import HelloOk, PushEvent, Reply, ServerError, ToolResult
from users.wire.protocols import Mcp


def parse(message: Any, protocol: Mcp | None = None) -> Any:
    return (protocol or Mcp()).parser()(json.dumps(message).encode())


def test_the_handshake_is_initialize_then_notifications_initialized_over_subprotocol_mcp() -> None:
    mcp = Mcp()
    assert mcp.has_hello and mcp.subprotocols == ("mcp",) and mcp.bearer_token
    initialize = json.loads(mcp.hello("ignored", "ignored"))
    assert initialize["method"] == "initialize" and initialize["id"] == "hello"
    assert initialize["params"]["protocolVersion"] == "2025-06-18"
    assert initialize["params"]["clientInfo"]["name"]
    assert [json.loads(m) for m in mcp.after_hello()] == [{"jsonrpc": "2.0", "method": "notifications/initialized"}]
    assert json.loads(Mcp("2025-03-26").hello("", ""))["params"]["protocolVersion"] == "2025-03-26"


def test_the_initialize_result_is_the_hello_answer_and_an_error_refuses_it() -> None:
    answer = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "ref", "version": "1"}}
    hello = parse({"jsonrpc": "2.0", "id": "hello", "result": answer})
    assert isinstance(hello, HelloOk) and hello.server["name"] == "ref"
    assert hello.server["protocolVersion"] == "2025-06-18"
    refused = parse({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "initialize first"}})
    assert isinstance(refused, ServerError) and refused.code.startswith("jsonrpc_error:-32600")


def test_a_call_is_tools_call_with_name_and_arguments() -> None:
    request = json.loads(Mcp().template("echo", {"x": 1}).encode("3"))
    assert request == {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"x": 1}},
    }


def test_is_error_true_is_the_failure_tool_error_and_false_a_success() -> None:
    ok = {"content": [{"type": "text", "text": "{}"}], "isError": False}
    assert parse({"jsonrpc": "2.0", "id": 1, "result": ok}) == ToolResult("1", True, ok, None)
    failed = {"content": [{"type": "text", "text": "tool_failed: asked to"}], "isError": True}
    assert parse({"jsonrpc": "2.0", "id": 2, "result": failed}) == ToolResult("2", False, None, "tool_error")
    unknown = {"jsonrpc": "2.0", "id": 3, "error": {"code": -32602, "message": "no such tool"}}
    assert parse(unknown).error_code == "jsonrpc_error:-32602 no such tool"


def test_progress_and_logging_notifications_are_counted_pushes_not_failures() -> None:
    progress = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 5}}
    assert parse(progress) == PushEvent("notifications/progress", None, None)
    log = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x"}}
    assert parse(log) == PushEvent("notifications/message", None, None)


def test_the_servers_ping_is_answered() -> None:
    reply = parse({"jsonrpc": "2.0", "id": "server-ping-3", "method": "ping"})
    assert isinstance(reply, Reply)
    assert json.loads(reply.payload) == {"jsonrpc": "2.0", "id": "server-ping-3", "result": {}}
