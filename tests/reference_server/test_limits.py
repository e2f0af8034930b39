"""Limits over real sockets: message size (1009), rate limit, tool timeout, framing errors."""

from __future__ import annotations

import time

import websocket
from websocket import ABNF

from tests.reference_server.assertions import assert_ok, assert_tool_error
from tests.support.ws import call, call_tool, recv_close, recv_json, send_fragments

MESSAGE_TOO_BIG = 1009
PROTOCOL_ERROR = 1002
LIMIT = 4096  # --max-message-bytes of the limits server


def echo_message(request_id: str, size: int) -> bytes:
    """A call_tool echo message of exactly ``size`` bytes."""
    head = b'{"op":"call_tool","request_id":"' + request_id.encode() + b'","name":"echo","arguments":{"p":"'
    tail = b'"}}'
    return head + b"p" * (size - len(head) - len(tail)) + tail


def test_message_at_the_limit_is_accepted(limits_session: websocket.WebSocket) -> None:
    limits_session.send(echo_message("at", LIMIT))
    assert_ok(recv_json(limits_session), "at")
    send_fragments(limits_session, [echo_message("fat", LIMIT)[:1000], echo_message("fat", LIMIT)[1000:]])
    assert_ok(recv_json(limits_session), "fat")


def test_frame_over_the_limit_closes_with_1009(limits_session: websocket.WebSocket) -> None:
    limits_session.send(echo_message("big", LIMIT + 1))
    assert recv_close(limits_session) == MESSAGE_TOO_BIG


def test_fragmented_message_over_the_limit_closes_with_1009(limits_session: websocket.WebSocket) -> None:
    raw = echo_message("bigfrag", LIMIT + 1)
    send_fragments(limits_session, [raw[:3000], raw[3000:]])  # every frame is under the limit
    assert recv_close(limits_session) == MESSAGE_TOO_BIG


def test_binary_over_the_limit_closes_with_1009(limits_session: websocket.WebSocket) -> None:
    send_fragments(limits_session, [b"\0" * 3000, b"\0" * 3000], opcode=ABNF.OPCODE_BINARY)
    assert recv_close(limits_session) == MESSAGE_TOO_BIG


def test_continuation_without_a_message_is_a_protocol_error(limits_session: websocket.WebSocket) -> None:
    limits_session.send_frame(ABNF.create_frame(b"{}", ABNF.OPCODE_CONT, fin=1))
    assert recv_close(limits_session) == PROTOCOL_ERROR


def test_rate_limit_per_connection(limits_session: websocket.WebSocket) -> None:
    # 20 calls/s with a one-second burst: of 40 back-to-back calls, about 20 pass.
    started = time.monotonic()
    for i in range(40):
        call_tool(limits_session, f"r{i}", "echo", {})
    replies = [recv_json(limits_session) for _ in range(40)]
    elapsed = time.monotonic() - started
    assert [r["request_id"] for r in replies] == [f"r{i}" for i in range(40)]
    passed = sum(r["ok"] for r in replies)
    assert all(r["error"]["code"] == "rate_limited" for r in replies if not r["ok"])
    assert 20 <= passed <= 20 + 20 * elapsed + 1
    assert passed < 40
    time.sleep(0.1)  # refills about two tokens
    assert_ok(call(limits_session, "echo", {}, "later"), "later")


def test_tool_timeout(limits_session: websocket.WebSocket) -> None:
    started = time.monotonic()
    call_tool(limits_session, "long", "sleep", {"ms": 5000})
    call_tool(limits_session, "short", "sleep", {"ms": 50})
    assert assert_ok(recv_json(limits_session), "short") == {"slept_ms": 50}
    assert_tool_error(recv_json(limits_session), "long", "timeout")
    assert time.monotonic() - started < 2
    assert_tool_error(call(limits_session, "compute", {"rounds": 1_000_000}, "cpu"), "cpu", "timeout")


def test_compressed_frame_without_negotiation_is_a_protocol_error(limits_session: websocket.WebSocket) -> None:
    frame = ABNF.create_frame(b'{"op":"list_tools","request_id":"z"}', ABNF.OPCODE_TEXT)
    frame.rsv1 = 1
    limits_session.send_frame(frame)
    assert recv_close(limits_session) == PROTOCOL_ERROR
