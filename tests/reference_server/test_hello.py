"""hello over real sockets: acceptance, hello_required, token refusals (each closes with 1008)."""

from __future__ import annotations

import time

import jwt
import pytest
import websocket

from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.assertions import assert_error
from tests.reference_server.conftest import Mint, minter
from tests.support.ws import call_tool, connect, hello, mint_token, recv_close, recv_json, send_fragments, send_json

POLICY_VIOLATION = 1008


def refused_with(ws: websocket.WebSocket, reply: dict, code: str) -> None:
    assert_error(reply, code)
    assert recv_close(ws) == POLICY_VIOLATION
    ws.close()


def test_hello_ok_lists_server_and_tools(server: RunningServer, mint: Mint) -> None:
    ws = connect(server.url)
    reply = hello(ws, mint(), session_id="abc")
    assert reply["op"] == "hello_ok" and reply["session_id"] == "abc"
    assert reply["server"]["name"] == "reference_server" and reply["server"]["version"]
    assert reply["tools"] == ["echo", "sleep", "compute", "payload", "fail", "subscribe", "broadcast"]
    ws.close()


@pytest.mark.parametrize(
    "first",
    [
        {"op": "call_tool", "request_id": "1", "name": "echo", "arguments": {}},
        {"op": "list_tools", "request_id": "1"},
        {"session_id": "s", "token": "t"},
        [1, 2],
    ],
    ids=["call_tool", "list_tools", "no-op", "not-object"],
)
def test_anything_before_hello_is_hello_required(server: RunningServer, first: object) -> None:
    ws = connect(server.url)
    send_json(ws, first)
    refused_with(ws, recv_json(ws), "hello_required")


def test_non_json_and_binary_before_hello_are_hello_required(server: RunningServer) -> None:
    ws = connect(server.url)
    ws.send("not json")
    refused_with(ws, recv_json(ws), "hello_required")
    ws = connect(server.url)
    ws.send_binary(b"\x00\x01")
    refused_with(ws, recv_json(ws), "hello_required")


def test_fragmented_hello_is_reassembled(server: RunningServer, mint: Mint) -> None:
    ws = connect(server.url)
    raw = f'{{"op":"hello","session_id":"frag","token":"{mint()}"}}'.encode()
    send_fragments(ws, [raw[:10], raw[10:40], raw[40:]])
    assert recv_json(ws)["op"] == "hello_ok"
    ws.close()


def test_hello_timeout(limits_server: RunningServer) -> None:
    ws = connect(limits_server.url)
    started = time.monotonic()
    message = assert_error(recv_json(ws, timeout=5), "hello_required")
    assert 0.25 < time.monotonic() - started < 3
    assert "0.3" in message
    assert recv_close(ws) == POLICY_VIOLATION
    ws.close()


def test_hello_in_time_cancels_the_timeout(limits_server: RunningServer) -> None:
    ws = connect(limits_server.url)
    assert hello(ws, minter(limits_server)())["op"] == "hello_ok"
    time.sleep(0.45)
    call_tool(ws, "after", "echo", {"still": "open"})
    assert recv_json(ws)["result"] == {"still": "open"}
    ws.close()


def _forged_none_token(now: float) -> str:
    return jwt.encode({"sub": "x", "iat": int(now), "exp": int(now) + 60, "scope": ["tools:*"]}, None, algorithm="none")


@pytest.mark.parametrize(
    "make_token",
    [
        lambda secret, now: mint_token("wrong-secret-of-a-reasonable-length-0123456789", now=now),
        lambda secret, now: _forged_none_token(now),
        lambda secret, now: mint_token(secret, now=now, algorithm="HS384"),
        lambda secret, now: "not.a.jwt",
        lambda secret, now: "",
        lambda secret, now: mint_token(secret, now=now, nbf=int(now) + 3600),
        lambda secret, now: mint_token(secret, now=now, omit=["sub"]),
        lambda secret, now: mint_token(secret, now=now, scope=7),
    ],
    ids=["bad-signature", "alg-none", "wrong-alg", "malformed", "empty", "nbf-future", "no-sub", "bad-scope"],
)
def test_invalid_tokens(server: RunningServer, make_token) -> None:  # type: ignore[no-untyped-def]
    token = make_token(server.jwt_secret, time.time())
    ws = connect(server.url)
    reply = hello(ws, token)
    assert not token or token not in reply["message"]
    refused_with(ws, reply, "invalid_token")


def test_expired_token(server: RunningServer, mint: Mint) -> None:
    ws = connect(server.url)
    refused_with(ws, hello(ws, mint_token(server.jwt_secret, now=time.time() - 7200, ttl_s=60)), "token_expired")


@pytest.mark.parametrize(
    "message",
    [{"op": "hello", "session_id": "s"}, {"op": "hello", "session_id": 1, "token": "t"}],
    ids=["no-token", "bad-session-id"],
)
def test_ill_typed_hello_is_bad_message_and_closes(server: RunningServer, message: dict) -> None:
    ws = connect(server.url)
    send_json(ws, message)
    refused_with(ws, recv_json(ws), "bad_message")


def test_second_hello_is_bad_message_and_keeps_the_connection(session: websocket.WebSocket, mint: Mint) -> None:
    assert_error(hello(session, mint()), "bad_message")
    call_tool(session, "1", "echo", {"ok": 1})
    assert recv_json(session)["ok"] is True


def test_hello_with_audience() -> None:
    with start_reference_server("--jwt-audience", "load-test") as aud_server:
        ws = connect(aud_server.url)
        assert hello(ws, mint_token(aud_server.jwt_secret, now=time.time(), aud="load-test"))["op"] == "hello_ok"
        ws.close()
        ws = connect(aud_server.url)
        refused_with(ws, hello(ws, mint_token(aud_server.jwt_secret, now=time.time(), aud="other")), "invalid_token")
