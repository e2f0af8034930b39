"""rpc_messages: JSON-RPC 2.0 request parsing and answer builders, without sockets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from reference_server import rpc_messages as rpc
from reference_server.rpc_messages import NO_ID, BadRequest


def test_a_request_parses_to_id_method_params() -> None:
    assert rpc.parse_request({"jsonrpc": "2.0", "id": 3, "method": "echo", "params": {"a": 1}}) == (3, "echo", {"a": 1})
    assert rpc.parse_request({"jsonrpc": "2.0", "id": "x", "method": "echo"}) == ("x", "echo", {})
    request_id, method, params = rpc.parse_request({"jsonrpc": "2.0", "method": "note", "params": [1]})
    assert request_id is NO_ID and method == "note" and params == [1]


@pytest.mark.parametrize(
    ("msg", "known_id", "fragment"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "echo"}], None, "batch"),
        ("text", None, "object"),
        ({"id": 4, "method": "echo"}, 4, "jsonrpc"),
        ({"jsonrpc": "2.0", "id": "k", "method": 5}, "k", "method"),
        ({"jsonrpc": "2.0", "id": None, "method": "echo"}, None, "id"),
        ({"jsonrpc": "2.0", "id": True, "method": "echo"}, None, "id"),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "echo"}, None, "id"),
        ({"jsonrpc": "2.0", "id": [1], "method": "echo"}, None, "id"),
    ],
)
def test_invalid_requests_keep_a_usable_id(msg: Any, known_id: Any, fragment: str) -> None:
    with pytest.raises(BadRequest) as info:
        rpc.parse_request(msg)
    assert info.value.rpc_code == rpc.INVALID_REQUEST
    assert info.value.request_id == known_id and fragment in info.value.message


def test_answers() -> None:
    assert orjson.loads(rpc.result(1, {"a": 1})) == {"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}
    assert orjson.loads(rpc.tool_error("i", "unknown_tool", "no")) == {
        "jsonrpc": "2.0",
        "id": "i",
        "error": {"code": -32601, "message": "no", "data": {"code": "unknown_tool"}},
    }
    assert orjson.loads(rpc.tool_error(2, "invalid_arguments", "m"))["error"]["code"] == -32602
    assert orjson.loads(rpc.tool_error(2, "custom_code", "m"))["error"] == {
        "code": -32000,
        "message": "m",
        "data": {"code": "custom_code"},
    }
    assert "data" not in orjson.loads(rpc.error(None, -32700, "m"))["error"]


def test_pushes_and_server_requests() -> None:
    push = orjson.loads(rpc.subscription_event("t", 2, 10, {"k": 1}))
    assert push == {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"subscription": "t", "result": {"topic": "t", "seq": 2, "sent_at_ns": 10, "data": {"k": 1}}},
    }
    assert orjson.loads(rpc.request("p-1", "ping")) == {"jsonrpc": "2.0", "id": "p-1", "method": "ping"}
    assert rpc.is_response({"jsonrpc": "2.0", "id": "p-1", "result": {}})
    assert not rpc.is_response({"jsonrpc": "2.0", "id": 1, "method": "ping"})
