"""call_tool over real sockets: every tool, every call error code, out-of-order answers, bad messages."""

from __future__ import annotations

import time

import pytest
import websocket

from reference_server.launcher import RunningServer
from reference_server.tools import COMPUTE_CHUNK, compute_digest
from tests.reference_server.assertions import assert_error, assert_ok, assert_tool_error
from tests.reference_server.conftest import Mint
from tests.support.ws import call, call_tool, connect, hello, recv_close, recv_json, send_fragments, send_json

INVALID_TEXT = 1007


def test_echo_returns_arguments(session: websocket.WebSocket) -> None:
    args = {"text": "héllo ✓", "n": [1, 2.5, None, True], "nested": {"a": {"b": []}}}
    assert assert_ok(call(session, "echo", args, "e1"), "e1") == args


def test_echo_without_arguments_returns_empty_object(session: websocket.WebSocket) -> None:
    send_json(session, {"op": "call_tool", "request_id": "e2", "name": "echo"})
    assert assert_ok(recv_json(session), "e2") == {}


def test_sleep_answers_after_the_delay(session: websocket.WebSocket) -> None:
    started = time.monotonic()
    assert assert_ok(call(session, "sleep", {"ms": 120}, "s1"), "s1") == {"slept_ms": 120}
    assert 0.1 <= time.monotonic() - started < 2


def test_sleeps_run_concurrently(session: websocket.WebSocket) -> None:
    started = time.monotonic()
    for i in range(20):
        call_tool(session, f"c{i}", "sleep", {"ms": 200})
    ids = {recv_json(session)["request_id"] for _ in range(20)}
    assert ids == {f"c{i}" for i in range(20)}
    assert time.monotonic() - started < 1.5  # 20 x 200 ms sequentially would take 4 s


def test_answers_come_out_of_order(session: websocket.WebSocket) -> None:
    call_tool(session, "slow", "sleep", {"ms": 300})
    call_tool(session, "fast", "echo", {"x": 1})
    assert assert_ok(recv_json(session), "fast") == {"x": 1}
    assert assert_ok(recv_json(session), "slow") == {"slept_ms": 300}


def test_compute_returns_the_digest_inline_and_chunked(session: websocket.WebSocket) -> None:
    assert assert_ok(call(session, "compute", {"rounds": 10}, "h1"), "h1") == compute_digest(10)
    rounds = COMPUTE_CHUNK * 3 + 7
    assert assert_ok(call(session, "compute", {"rounds": rounds}, "h2"), "h2") == compute_digest(rounds)
    assert_tool_error(call(session, "compute", {"rounds": 10**9}, "h3"), "h3", "invalid_arguments")


def test_payload_returns_that_many_bytes(session: websocket.WebSocket) -> None:
    assert assert_ok(call(session, "payload", {"bytes": 100_000}, "p1"), "p1") == "x" * 100_000
    assert_tool_error(call(session, "payload", {"bytes": -1}, "p2"), "p2", "invalid_arguments")


def test_fail_answers_the_requested_code(session: websocket.WebSocket) -> None:
    reply = call(session, "fail", {"code": "tool_failed", "message": "on purpose"}, "f1")
    assert assert_tool_error(reply, "f1", "tool_failed") == "on purpose"
    assert_tool_error(call(session, "fail", {"code": "custom_code"}, "f2"), "f2", "custom_code")


def test_unencodable_result_is_tool_failed(session: websocket.WebSocket) -> None:
    deep: object = []
    for _ in range(400):  # accepted on input, deeper than orjson will encode
        deep = [deep]
    assert_tool_error(call(session, "echo", {"deep": deep}, "d1"), "d1", "tool_failed")


def test_unknown_tool_and_invalid_arguments(session: websocket.WebSocket) -> None:
    assert_tool_error(call(session, "nope", {}, "u1"), "u1", "unknown_tool")
    assert_tool_error(call(session, "sleep", {"ms": "soon"}, "u2"), "u2", "invalid_arguments")
    assert_tool_error(call(session, "sleep", {}, "u3"), "u3", "invalid_arguments")


def test_list_tools(session: websocket.WebSocket) -> None:
    send_json(session, {"op": "list_tools", "request_id": "lt"})
    reply = recv_json(session)
    assert reply["op"] == "tools" and reply["request_id"] == "lt"
    names = [tool["name"] for tool in reply["tools"]]
    assert names == ["echo", "sleep", "compute", "payload", "fail", "subscribe", "broadcast"]
    assert all(tool["description"] for tool in reply["tools"])


def test_duplicate_in_flight_request_id(session: websocket.WebSocket) -> None:
    call_tool(session, "dup", "sleep", {"ms": 200})
    call_tool(session, "dup", "echo", {})
    assert_tool_error(recv_json(session), "dup", "duplicate_request_id")
    assert assert_ok(recv_json(session), "dup") == {"slept_ms": 200}
    # Once answered, the id may be used again.
    assert_ok(call(session, "echo", {}, "dup"), "dup")


def test_scope_limits_tools_and_keeps_the_connection(server: RunningServer, mint: Mint) -> None:
    ws = connect(server.url)
    assert hello(ws, mint(scope=["echo"]))["op"] == "hello_ok"
    assert_tool_error(call(ws, "sleep", {"ms": 1}, "x1"), "x1", "forbidden")
    assert_ok(call(ws, "echo", {}, "x2"), "x2")
    assert_tool_error(call(ws, "nope", {}, "x3"), "x3", "unknown_tool")
    ws.close()


def test_token_without_scope_may_call_nothing(server: RunningServer, mint: Mint) -> None:
    ws = connect(server.url)
    assert hello(ws, mint(omit=["scope"]))["op"] == "hello_ok"
    assert_tool_error(call(ws, "echo", {}, "n1"), "n1", "forbidden")
    ws.close()


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '"text"',
        "{}",
        '{"op": 5}',
        '{"op": "dance"}',
        '{"op": "call_tool", "name": "echo", "arguments": {}}',
        '{"op": "call_tool", "request_id": 12, "name": "echo"}',
        '{"op": "list_tools"}',
    ],
)
def test_bad_messages_without_request_id_get_an_error_op(session: websocket.WebSocket, raw: str) -> None:
    session.send(raw)
    assert_error(recv_json(session), "bad_message")
    assert_ok(call(session, "echo", {}, "after"), "after")


@pytest.mark.parametrize(
    "message",
    [
        {"op": "call_tool", "request_id": "b1"},
        {"op": "call_tool", "request_id": "b1", "name": 3},
        {"op": "call_tool", "request_id": "b1", "name": "echo", "arguments": [1]},
    ],
    ids=["no-name", "name-not-string", "arguments-not-object"],
)
def test_malformed_call_with_request_id_gets_a_tool_result(session: websocket.WebSocket, message: dict) -> None:
    send_json(session, message)
    assert_tool_error(recv_json(session), "b1", "bad_message")
    assert_ok(call(session, "echo", {}, "after"), "after")


def test_binary_frame_is_bad_message_and_keeps_the_connection(session: websocket.WebSocket) -> None:
    session.send_binary(b'{"op":"call_tool"}')
    assert_error(recv_json(session), "bad_message")
    assert_ok(call(session, "echo", {}, "after"), "after")


def test_fragmented_call_is_reassembled(session: websocket.WebSocket) -> None:
    raw = b'{"op":"call_tool","request_id":"fr","name":"echo","arguments":{"k":"' + b"v" * 3000 + b'"}}'
    send_fragments(session, [raw[:1], raw[1:2000], raw[2000:]])
    assert assert_ok(recv_json(session), "fr") == {"k": "v" * 3000}


def test_invalid_utf8_closes_with_1007(session: websocket.WebSocket) -> None:
    session.send(b'{"op":"call_tool","request_id":"\xff"}', opcode=websocket.ABNF.OPCODE_TEXT)
    assert recv_close(session) == INVALID_TEXT


def test_invalid_utf8_across_fragments_closes_with_1007(session: websocket.WebSocket) -> None:
    # A two-byte sequence split across frames is fine; a truncated one at the end is not.
    send_fragments(session, [b'{"op":"call_tool","request_id":"\xc3', b'\xa9","name":"echo"}'])
    assert assert_ok(recv_json(session), "é") == {}
    send_fragments(session, [b'{"op":"call_tool","request_id":"', b'x\xc3"}'])
    assert recv_close(session) == INVALID_TEXT
