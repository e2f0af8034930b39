"""The protocol codecs, pure: message bytes in -> requests out, answers -> bytes out (no sockets, no loop)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from reference_server import codec as k
from reference_server.jsonrpc import JsonRpcCodec
from reference_server.mcp import PROTOCOL_VERSION, McpCodec
from reference_server.toolcall import ToolcallCodec

INFO = {"name": "test", "version": "0"}
TOOLS = [{"name": "echo", "description": "returns its arguments"}]


def raw(value: Any) -> bytes:
    return orjson.dumps(value)


def answer(data: bytes) -> Any:
    return orjson.loads(data)


def decode(codec: Any, data: bytes | memoryview) -> k.Request:
    """``codec.decode`` after the handshake, a tool call (handed to on_call) shown as (CALL, id, name, args)."""
    calls: list[tuple[Any, str, dict[str, Any]]] = []
    request = codec.decode(data, lambda *call: calls.append(call))
    if calls:
        assert request is None and len(calls) == 1
        return (k.CALL, *calls[0])
    assert request is not None
    return request


@pytest.fixture
def toolcall() -> ToolcallCodec:
    return ToolcallCodec(INFO, ["echo"], TOOLS)


# ---- toolcall ------------------------------------------------------------------------------


def test_toolcall_decodes_a_call_with_and_without_arguments(toolcall: ToolcallCodec) -> None:
    call = {"op": "call_tool", "request_id": "r1", "name": "echo", "arguments": {"x": 1}}
    assert decode(toolcall, raw(call)) == (k.CALL, "r1", "echo", {"x": 1})
    kind, request_id, name, args = decode(
        toolcall, memoryview(raw({"op": "call_tool", "request_id": "r2", "name": "e"}))
    )
    assert (kind, request_id, name, args) == (k.CALL, "r2", "e", {})


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"{not json", "message is not valid JSON"),
        (raw([1, 2]), "message must be a JSON object"),
        (raw({"x": 1}), "message lacks op"),
        (raw({"op": "nope"}), "unknown op"),
        (raw({"op": "call_tool", "name": "echo"}), "call_tool lacks request_id"),
        (raw({"op": "hello", "session_id": "s", "token": "t"}), "hello was already accepted on this connection"),
    ],
)
def test_toolcall_bad_messages_without_an_id_are_connection_errors(
    toolcall: ToolcallCodec, message: bytes, reason: str
) -> None:
    kind, data, _, _ = decode(toolcall, message)
    assert kind == k.BAD and answer(data) == {"op": "error", "code": "bad_message", "message": reason}


def test_toolcall_bad_calls_with_an_id_are_answered_on_that_id(toolcall: ToolcallCodec) -> None:
    kind, data, code, _ = decode(toolcall, raw({"op": "call_tool", "request_id": "r9", "name": 5}))
    assert kind == k.BAD_CALL and code == "bad_message"
    got = answer(data)
    assert got["request_id"] == "r9" and got["ok"] is False and got["error"]["code"] == "bad_message"


def test_toolcall_invalid_utf8_list_tools_and_binary(toolcall: ToolcallCodec) -> None:
    assert decode(toolcall, b'"\xff\xfe"') == k.NOT_UTF8
    assert toolcall.decode_opening(b'"\xff"') == k.NOT_UTF8
    kind, data, _, _ = decode(toolcall, raw({"op": "list_tools", "request_id": "l1"}))
    assert kind == k.LIST_TOOLS and answer(data) == {"op": "tools", "request_id": "l1", "tools": TOOLS}
    assert toolcall.binary(True) == k.NOT_A_HELLO
    kind, data, _, _ = toolcall.binary(False)
    assert kind == k.BAD and answer(data)["code"] == "bad_message"


def test_toolcall_opening_takes_only_a_well_formed_hello(toolcall: ToolcallCodec) -> None:
    kind, token, reply, _ = toolcall.decode_opening(raw({"op": "hello", "session_id": "s1", "token": "tok"}))
    assert kind == k.HELLO and token == "tok"
    assert answer(reply) == {"op": "hello_ok", "session_id": "s1", "server": INFO, "tools": ["echo"]}
    kind, data, _, _ = toolcall.decode_opening(raw({"op": "hello", "session_id": "s1"}))
    assert kind == k.BAD_HELLO and answer(data)["message"] == "hello needs a string token"
    for before_hello in (raw({"op": "call_tool", "request_id": "r", "name": "echo"}), b"nope", raw(3)):
        assert toolcall.decode_opening(before_hello) == k.NOT_A_HELLO


def test_toolcall_encoders(toolcall: ToolcallCodec) -> None:
    assert answer(toolcall.ok("r", {"a": 1})) == {
        "op": "tool_result",
        "request_id": "r",
        "ok": True,
        "result": {"a": 1},
    }
    failed = answer(toolcall.error("r", "forbidden", "no"))
    assert failed["error"] == {"code": "forbidden", "message": "no"}
    assert answer(toolcall.refusal("invalid_token", "bad")) == {
        "op": "error",
        "code": "invalid_token",
        "message": "bad",
    }
    assert answer(toolcall.event("t", 3, 7, {"i": 1}))["seq"] == 3
    assert toolcall.ping(1) is None and not toolcall.PINGS and toolcall.HANDSHAKE
    with pytest.raises(orjson.JSONEncodeError):
        toolcall.ok("r", {1j})


# ---- jsonrpc -------------------------------------------------------------------------------


def rpc(method: str, request_id: Any = 1, **extra: Any) -> bytes:
    return raw({"jsonrpc": "2.0", "id": request_id, "method": method, **extra})


def test_jsonrpc_requests_notifications_and_refusals() -> None:
    codec = JsonRpcCodec()
    assert decode(codec, rpc("echo", 7, params={"a": 1})) == (k.CALL, 7, "echo", {"a": 1})
    assert decode(codec, rpc("echo", "s")) == (k.CALL, "s", "echo", {})
    assert decode(codec, raw({"jsonrpc": "2.0", "method": "echo"})) == k.IGNORED  # a notification
    kind, data, code, _ = decode(codec, rpc("echo", 2, params=[1]))
    assert kind == k.REFUSED_CALL and code == "invalid_arguments" and answer(data)["id"] == 2
    kind, data, _, _ = decode(codec, b"[")
    assert kind == k.BAD and answer(data)["error"]["code"] == -32700 and answer(data)["id"] is None
    kind, data, _, _ = decode(codec, raw([rpc("echo").decode()]))
    assert kind == k.BAD and answer(data)["error"]["code"] == -32600
    kind, data, code, _ = decode(codec, raw({"jsonrpc": "1.0", "id": 4, "method": "echo"}))
    assert kind == k.BAD_CALL and code == "bad_message" and answer(data)["id"] == 4
    assert decode(codec, b'"\xff"') == k.NOT_UTF8
    assert not codec.HANDSHAKE and codec.decode_opening(rpc("echo")) == k.NOT_A_HELLO


def test_jsonrpc_encoders() -> None:
    codec = JsonRpcCodec()
    assert answer(codec.ok(1, [1])) == {"jsonrpc": "2.0", "id": 1, "result": [1]}
    err = answer(codec.error(1, "unknown_tool", "no such tool"))["error"]
    assert err["data"] == {"code": "unknown_tool"} and err["message"] == "no such tool"
    assert answer(codec.refusal("hello_required", "x"))["error"]["data"]["code"] == "hello_required"
    assert answer(codec.event("t", 1, 2, None))["method"] == "subscription"


# ---- mcp -----------------------------------------------------------------------------------


def test_mcp_initialize_is_the_handshake() -> None:
    codec = McpCodec(INFO, TOOLS)
    kind, token, reply, _ = codec.decode_opening(rpc("initialize", 0, params={"protocolVersion": "2025-03-26"}))
    assert kind == k.HELLO and token is None
    assert answer(reply)["result"]["protocolVersion"] == "2025-03-26" and answer(reply)["result"]["serverInfo"] == INFO
    _, _, reply, _ = codec.decode_opening(rpc("initialize", 0, params={"protocolVersion": "1999-01-01"}))
    assert answer(reply)["result"]["protocolVersion"] == PROTOCOL_VERSION
    kind, data, _, _ = codec.decode_opening(rpc("initialize", 0, params={}))
    assert kind == k.BAD_HELLO and answer(data)["error"]["code"] == -32602
    kind, data, _, _ = codec.decode_opening(rpc("ping", 5))
    assert kind == k.REPLY and answer(data) == {"jsonrpc": "2.0", "id": 5, "result": {}}
    assert codec.decode_opening(rpc("tools/call", 1, params={"name": "echo"})) == k.NOT_A_HELLO


def test_mcp_methods_after_initialize() -> None:
    codec = McpCodec(INFO, TOOLS)
    call = rpc("tools/call", 3, params={"name": "echo", "arguments": {"a": 1}})
    assert decode(codec, call) == (k.CALL, 3, "echo", {"a": 1})
    kind, data, code, _ = decode(codec, rpc("tools/call", 3, params={"arguments": {}}))
    assert kind == k.BAD_CALL and code == "bad_message" and answer(data)["error"]["code"] == -32602
    kind, data, _, _ = decode(codec, rpc("tools/list", 4))
    assert kind == k.LIST_TOOLS and answer(data)["result"]["tools"][0]["inputSchema"] == {"type": "object"}
    kind, data, _, _ = decode(codec, rpc("initialize", 5, params={"protocolVersion": PROTOCOL_VERSION}))
    assert kind == k.BAD and answer(data)["error"]["message"] == "already initialized"
    kind, data, _, _ = decode(codec, rpc("resources/list", 6))
    assert kind == k.BAD and answer(data)["error"]["code"] == -32601
    assert decode(codec, raw({"jsonrpc": "2.0", "id": "server-ping-1", "result": {}})) == k.IGNORED
    kind, data, _, _ = decode(codec, raw({"jsonrpc": "2.0", "id": "other", "result": {}}))
    assert kind == k.BAD_CALL and answer(data)["id"] == "other"  # not one of our pings: a bad request


def test_mcp_encoders() -> None:
    codec = McpCodec(INFO, TOOLS)
    result = answer(codec.ok(1, {"a": 1}))["result"]
    assert result["structuredContent"] == {"a": 1} and result["isError"] is False
    assert answer(codec.ok(1, "text"))["result"]["content"] == [{"type": "text", "text": "text"}]
    assert answer(codec.error(1, "unknown_tool", "no such tool"))["error"]["code"] == -32602
    failed = answer(codec.error(1, "timeout", "too slow"))["result"]
    assert failed["isError"] is True and failed["content"][0]["text"] == "timeout: too slow"
    assert answer(codec.ping(3)) == {"jsonrpc": "2.0", "id": "server-ping-3", "method": "ping"}
    assert codec.PINGS and codec.HANDSHAKE and codec.SUBPROTOCOL == "mcp"
