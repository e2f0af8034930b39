"""--protocol mcp against a real server: subprotocol and bearer token at the upgrade, initialize, tools, ping."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websocket

from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.rpc_client import notify, open_rpc, request, rpc_error, token_for
from tests.support.ws import recv_close, recv_json, send_json

MCP = ["mcp"]


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[RunningServer]:
    with start_reference_server("--protocol", "mcp", "--hello-timeout", "0.5") as running:
        yield running


def initialize(ws: websocket.WebSocket, version: str = "2025-06-18") -> dict:
    """initialize + notifications/initialized; return the initialize result."""
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}
    reply = request(ws, 0, "initialize", params)
    notify(ws, "notifications/initialized")
    return reply["result"]


@pytest.fixture
def mcp(mcp_server: RunningServer) -> Iterator[websocket.WebSocket]:
    ws = open_rpc(mcp_server, token_for(mcp_server), MCP)
    initialize(ws)
    yield ws
    ws.close()


def test_the_upgrade_names_the_mcp_subprotocol_and_initialize_answers(mcp_server: RunningServer) -> None:
    ws = open_rpc(mcp_server, token_for(mcp_server), MCP)
    try:
        assert ws.getsubprotocol() == "mcp"
        result = initialize(ws)
        assert result["protocolVersion"] == "2025-06-18"
        assert result["capabilities"]["tools"] == {"listChanged": False}
        assert result["serverInfo"]["name"] == "reference_server"
    finally:
        ws.close()


def test_an_older_supported_version_is_kept_an_unknown_one_gets_ours(mcp_server: RunningServer) -> None:
    for asked, expected in [("2025-03-26", "2025-03-26"), ("1999-01-01", "2025-06-18")]:
        ws = open_rpc(mcp_server, token_for(mcp_server), MCP)
        try:
            assert initialize(ws, asked)["protocolVersion"] == expected
        finally:
            ws.close()


def test_tools_list_and_call(mcp: websocket.WebSocket) -> None:
    tools = request(mcp, 1, "tools/list")["result"]["tools"]
    assert [t["name"] for t in tools][:2] == ["echo", "sleep"] and tools[0]["inputSchema"] == {"type": "object"}
    result = request(mcp, 2, "tools/call", {"name": "echo", "arguments": {"a": 1}})["result"]
    assert result["isError"] is False and result["structuredContent"] == {"a": 1}
    assert json.loads(result["content"][0]["text"]) == {"a": 1}
    text = request(mcp, "s", "tools/call", {"name": "payload", "arguments": {"bytes": 4}})["result"]
    assert text["content"] == [{"type": "text", "text": "xxxx"}] and "structuredContent" not in text


def test_tool_failures_are_is_error_results_protocol_errors_are_errors(mcp: websocket.WebSocket) -> None:
    failed = request(mcp, 1, "tools/call", {"name": "fail", "arguments": {"code": "boom", "message": "m"}})
    assert failed["result"]["isError"] is True and failed["result"]["content"][0]["text"] == "boom: m"
    bad_args = request(mcp, 2, "tools/call", {"name": "payload", "arguments": {"bytes": -1}})
    assert bad_args["result"]["isError"] is True
    assert bad_args["result"]["content"][0]["text"].startswith("invalid_arguments:")
    rpc_error(request(mcp, 3, "tools/call", {"name": "nope", "arguments": {}}), 3, -32602, "unknown_tool")
    rpc_error(request(mcp, 4, "tools/call", {"arguments": {}}), 4, -32602, "bad_message")
    rpc_error(request(mcp, 5, "resources/list"), 5, -32601, "bad_message")
    assert request(mcp, 6, "ping") == {"jsonrpc": "2.0", "id": 6, "result": {}}


def test_calls_before_initialize_are_refused(mcp_server: RunningServer) -> None:
    ws = open_rpc(mcp_server, token_for(mcp_server), MCP)
    try:
        assert request(ws, 1, "ping")["result"] == {}  # ping is allowed before initialize
        send_json(ws, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo"}})
        rpc_error(recv_json(ws), None, -32600, "hello_required")
        assert recv_close(ws) == 1008
    finally:
        ws.close()


def test_no_initialize_within_the_hello_timeout_closes_1008(mcp_server: RunningServer) -> None:
    ws = open_rpc(mcp_server, token_for(mcp_server), MCP)
    try:
        rpc_error(recv_json(ws, timeout=3), None, -32600, "hello_required")
        assert recv_close(ws) == 1008
    finally:
        ws.close()


def test_the_upgrade_needs_the_subprotocol_and_a_token(mcp_server: RunningServer) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        open_rpc(mcp_server, token_for(mcp_server))
    assert info.value.status_code == 400
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        open_rpc(mcp_server, None, MCP)
    assert info.value.status_code == 401


def test_server_pings_and_counters() -> None:
    with start_reference_server("--protocol", "mcp", "--mcp-ping-interval", "0.05") as server:
        ws = open_rpc(server, token_for(server), MCP)
        try:
            initialize(ws)
            ping = recv_json(ws)
            assert ping["method"] == "ping" and isinstance(ping["id"], str), ping
            send_json(ws, {"jsonrpc": "2.0", "id": ping["id"], "result": {}})
            for i in range(3):
                send_json(ws, {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                               "params": {"name": "echo", "arguments": {"i": i}}})  # fmt: skip
            answers = {}
            while len(answers) < 3:
                msg = recv_json(ws)
                if msg.get("method") == "ping":
                    send_json(ws, {"jsonrpc": "2.0", "id": msg["id"], "result": {}})
                else:
                    answers[msg["id"]] = msg["result"]["structuredContent"]
            assert answers == {i: {"i": i} for i in range(3)}
        finally:
            ws.close()
        stats = server.wait_stats(lambda s: s["connections_closed"] == 1)
    assert stats["hello_ok"] == 1 and stats["calls_received"] == 3 and stats["results_ok"] == 3
    assert stats["bad_messages"] == 0 and stats["calls_unanswered"] == 0
