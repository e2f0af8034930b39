"""The jsonrpc codec without sockets: requests as bytes, every kind of server message classified."""

from __future__ import annotations

import json
from typing import Any

import pytest

from users.wire.protocol import HelloOk, ProtocolViolation, PushEvent, Reply, ServerError, Several, ToolResult
from users.wire.protocols import JsonRpc


def parse(message: Any, protocol: JsonRpc | None = None) -> Any:
    return (protocol or JsonRpc()).parser()(json.dumps(message).encode())


def test_a_call_is_a_request_with_an_integer_id_the_tool_as_method_and_the_arguments_as_params() -> None:
    template = JsonRpc().template("echo", {"x": [1, "é"]})
    assert json.loads(template.encode("17")) == {
        "jsonrpc": "2.0",
        "id": 17,
        "method": "echo",
        "params": {"x": [1, "é"]},
    }
    assert template.tool == "echo" and template.arguments == {"x": [1, "é"]}


def test_result_settles_the_call_with_its_id_as_text() -> None:
    assert parse({"jsonrpc": "2.0", "id": 17, "result": {"x": 1}}) == ToolResult("17", True, {"x": 1}, None)
    assert parse({"jsonrpc": "2.0", "id": 3, "result": None}) == ToolResult("3", True, None, None)


def test_an_error_is_a_failure_whose_code_carries_the_jsonrpc_code_and_message() -> None:
    answer = {"jsonrpc": "2.0", "id": 5, "error": {"code": -32000, "message": "failed on request", "data": {}}}
    assert parse(answer) == ToolResult("5", False, None, "jsonrpc_error:-32000 failed on request")
    no_message = {"jsonrpc": "2.0", "id": 6, "error": {"code": -32601}}
    assert parse(no_message).error_code == "jsonrpc_error:-32601"
    long = {"jsonrpc": "2.0", "id": 7, "error": {"code": 1, "message": "m" * 500}}
    assert len(parse(long).error_code) < 90  # bounded: Locust groups failures by this text


def test_an_error_without_an_id_is_a_server_error() -> None:
    message = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "initialize first"}}
    assert parse(message) == ServerError("jsonrpc_error:-32600 initialize first", "initialize first")


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"jsonrpc": "2.0", "result": 1}, "missing_request_id"),
        ({"jsonrpc": "2.0", "id": "17", "result": 1}, "bad_request_id_type"),
        ({"jsonrpc": "2.0", "id": True, "result": 1}, "bad_request_id_type"),
        ({"jsonrpc": "2.0", "id": 1.5, "error": {"code": 1, "message": ""}}, "bad_request_id_type"),
        ({"jsonrpc": "2.0", "id": 1, "error": {"message": "no code"}}, "bad_error"),
        ({"jsonrpc": "2.0", "id": 1, "error": "text"}, "bad_error"),
        ({"jsonrpc": "2.0", "id": 1}, "bad_response"),
        ({"jsonrpc": "2.0", "method": 5}, "bad_request"),
        ("text", "not_an_object"),
        ([], "empty_batch"),
        ({"jsonrpc": "2.0", "id": None, "result": 1, "error": {"code": 1}}, "invalid_response"),
    ],
)
def test_malformed_messages_are_violations_with_their_own_code(message: Any, code: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse(message)
    assert caught.value.code == code


def test_bytes_that_are_not_json_or_not_utf8_are_violations() -> None:
    parser = JsonRpc().parser()
    with pytest.raises(ProtocolViolation, match="bad_json"):
        parser(b"{nope")
    with pytest.raises(ProtocolViolation, match="invalid_utf8"):
        parser(b'{"a":"\xff"}')


def test_notifications_are_pushes_named_by_method() -> None:
    eth = {"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": "0x9ce5", "result": "0xabc"}}
    assert parse(eth) == PushEvent("eth_subscription", None, None)
    solana = {"jsonrpc": "2.0", "method": "accountNotification", "params": {"result": {}, "subscription": 24040}}
    assert parse(solana) == PushEvent("accountNotification", None, None)
    assert parse({"jsonrpc": "2.0", "method": "heartbeat"}) == PushEvent("heartbeat", None, None)


def test_a_subscription_carrying_protocol_md_event_fields_is_tracked_by_topic() -> None:
    result = {"topic": "ticks", "seq": 4, "sent_at_ns": 123, "data": {}}
    message = {"jsonrpc": "2.0", "method": "subscription", "params": {"subscription": "ticks", "result": result}}
    assert parse(message) == PushEvent("ticks", 4, 123)


def test_a_server_ping_is_answered_with_an_empty_result_and_other_requests_with_method_not_found() -> None:
    ping = parse({"jsonrpc": "2.0", "id": "server-ping-1", "method": "ping"})
    assert isinstance(ping, Reply) and json.loads(ping.payload) == {
        "jsonrpc": "2.0",
        "id": "server-ping-1",
        "result": {},
    }
    other = parse({"jsonrpc": "2.0", "id": 9, "method": "roots/list"})
    assert isinstance(other, Reply) and json.loads(other.payload)["error"]["code"] == -32601


def test_no_handshake_unless_asked_and_the_token_goes_in_the_upgrade() -> None:
    plain = JsonRpc()
    assert not plain.has_hello
    assert plain.upgrade_headers("t0k") == ["Authorization: Bearer t0k"]
    assert plain.upgrade_headers(None) == []
    asked = JsonRpc("auth", {"user": "load"})
    assert asked.has_hello
    assert json.loads(asked.hello("s", "t")) == {
        "jsonrpc": "2.0",
        "id": "hello",
        "method": "auth",
        "params": {"user": "load"},
    }
    assert parse({"jsonrpc": "2.0", "id": "hello", "result": {"ok": 1}}, asked) == HelloOk(None, {"ok": 1}, [])
    refused = parse({"jsonrpc": "2.0", "id": "hello", "error": {"code": 401, "message": "no"}}, asked)
    assert refused == ServerError("jsonrpc_error:401 no", "no")


def test_a_response_with_both_result_and_error_fails_its_call_and_is_a_violation() -> None:
    both = parse({"jsonrpc": "2.0", "id": 4, "result": {}, "error": {"code": 1, "message": "x"}})
    assert isinstance(both, Several)
    (failed, violation) = both.messages
    assert failed == ToolResult("4", False, None, "jsonrpc:invalid_response")
    assert isinstance(violation, ProtocolViolation) and violation.code == "invalid_response"


def test_a_batch_answer_is_each_of_its_parts_in_order() -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "result": {"x": 1}},
        {"jsonrpc": "2.0", "id": 2, "error": {"code": -32000, "message": "no"}},
        7,
        {"jsonrpc": "2.0", "id": "s", "result": 1},
        {"jsonrpc": "2.0", "method": "tick", "params": {}},
    ]
    parts = parse(batch).messages
    assert parts[:2] == (ToolResult("1", True, {"x": 1}, None), ToolResult("2", False, None, "jsonrpc_error:-32000 no"))
    assert [p.code for p in parts[2:4]] == ["not_an_object", "bad_request_id_type"]
    assert parts[4] == PushEvent("tick", None, None) and len(parts) == 5
