"""--protocol jsonrpc against a real server: bearer token at the upgrade, tools as methods, errors, pushes, counters."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import websocket

from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.rpc_client import notify, open_rpc, request, rpc_error, rpc_session, token_for
from tests.support.ws import is_silent, mint_token, recv_close, recv_json, send_json


@pytest.fixture(scope="module")
def rpc_server() -> Iterator[RunningServer]:
    with start_reference_server("--protocol", "jsonrpc", "--tool-timeout", "0.3") as running:
        yield running


def test_calls_answer_with_result_and_integer_or_string_ids(rpc_server: RunningServer) -> None:
    with rpc_session(rpc_server) as ws:
        assert request(ws, 1, "echo", {"x": [1, 2]}) == {"jsonrpc": "2.0", "id": 1, "result": {"x": [1, 2]}}
        assert request(ws, "a-1", "payload", {"bytes": 3})["result"] == "xxx"
        assert request(ws, 2, "echo")["result"] == {}  # params may be omitted
        assert request(ws, 3, "sleep", {"ms": 5})["result"] == {"slept_ms": 5}


def test_failures_have_their_json_rpc_codes_and_ours_in_data(rpc_server: RunningServer) -> None:
    with rpc_session(rpc_server) as ws:
        rpc_error(request(ws, 1, "nope", {}), 1, -32601, "unknown_tool")
        rpc_error(request(ws, 2, "payload", {"bytes": -1}), 2, -32602, "invalid_arguments")
        rpc_error(request(ws, 3, "echo", [1, 2]), 3, -32602, "invalid_arguments")
        assert rpc_error(request(ws, 4, "fail", {"code": "boom", "message": "m"}), 4, -32000, "boom") == "m"
        rpc_error(request(ws, 5, "sleep", {"ms": 5000}), 5, -32000, "timeout")


def test_malformed_requests_are_invalid_requests(rpc_server: RunningServer) -> None:
    with rpc_session(rpc_server) as ws:
        ws.send("{not json")
        rpc_error(recv_json(ws), None, -32700, "bad_message")
        send_json(ws, [{"jsonrpc": "2.0", "id": 1, "method": "echo"}])
        rpc_error(recv_json(ws), None, -32600, "bad_message")
        send_json(ws, {"jsonrpc": "1.0", "id": 7, "method": "echo"})
        rpc_error(recv_json(ws), 7, -32600, "bad_message")
        send_json(ws, {"jsonrpc": "2.0", "id": 1.5, "method": "echo"})
        rpc_error(recv_json(ws), None, -32600, "bad_message")
        ws.send_binary(b"\x00")
        rpc_error(recv_json(ws), None, -32600, "bad_message")
        notify(ws, "echo", {"x": 1})  # a notification is not answered
        assert is_silent(ws, 0.2)
        assert request(ws, 8, "echo", {"still": "open"})["result"] == {"still": "open"}


def test_subscription_pushes_are_notifications(rpc_server: RunningServer) -> None:
    with rpc_session(rpc_server) as ws:
        assert request(ws, 1, "subscribe", {"topic": "t", "rate": 1000, "count": 2})["result"]["count"] == 2
        pushes = [recv_json(ws), recv_json(ws)]
        for seq, push in enumerate(pushes, start=1):
            assert push["jsonrpc"] == "2.0" and push["method"] == "subscription" and "id" not in push, push
            assert push["params"]["subscription"] == "t"
            assert push["params"]["result"]["seq"] == seq and push["params"]["result"]["topic"] == "t"


@pytest.mark.parametrize("how", ["none", "garbage", "bad-signature", "expired"])
def test_a_bad_token_is_refused_with_401_at_the_upgrade(rpc_server: RunningServer, how: str) -> None:
    tokens = {
        "none": None,
        "garbage": "not.a.token",
        "bad-signature": token_for(rpc_server) + "x",
        "expired": mint_token(rpc_server.jwt_secret, now=time.time() - 7200, ttl_s=60),
    }
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        open_rpc(rpc_server, tokens[how])
    assert info.value.status_code == 401


def test_scope_limits_the_methods(rpc_server: RunningServer) -> None:
    ws = open_rpc(rpc_server, token_for(rpc_server, scope=["echo"]))
    try:
        assert request(ws, 1, "echo", {})["result"] == {}
        rpc_error(request(ws, 2, "payload", {"bytes": 1}), 2, -32000, "forbidden")
    finally:
        ws.close()


def test_counters_match_what_the_client_saw() -> None:
    with start_reference_server("--protocol", "jsonrpc") as server:
        with rpc_session(server) as ws:
            for i in range(5):
                assert request(ws, i, "echo", {"i": i})["result"] == {"i": i}
            rpc_error(request(ws, "f", "fail", {}), "f", -32000, "tool_failed")
            rpc_error(request(ws, "u", "nope"), "u", -32601, "unknown_tool")
            ws.send("[]")
            recv_json(ws)
        with pytest.raises(websocket.WebSocketBadStatusException):
            open_rpc(server, "not.a.token")
        stats = server.wait_stats(lambda s: s["connections_closed"] == 1)
    assert stats["connections_opened"] == 1 and stats["hello_ok"] == 1
    assert stats["hello_refused"] == {"invalid_token": 1}
    assert stats["calls_received"] == 7 and stats["results_ok"] == 5
    assert stats["results_error"] == {"tool_failed": 1, "unknown_tool": 1}
    assert stats["bad_messages"] == 1 and stats["calls_unanswered"] == 0


def test_fault_injection_applies_to_json_rpc_answers() -> None:
    with start_reference_server("--protocol", "jsonrpc", "--fault-garbage-fraction", "1", "--fault-garbage-kind",
                                "unknown_request_id") as server:  # fmt: skip
        with rpc_session(server) as ws:
            send_json(ws, {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {}})
            reply = recv_json(ws)
            assert reply["id"].startswith("fault-injected-unknown-") and reply["result"] == {}
            server.control("/control/faults", {"garbage_fraction": 0, "delay_ms": 50})
            assert request(ws, 2, "echo", {})["result"] == {}
            server.control("/control/drop", {"fraction": 1, "code": 1012})
            assert recv_close(ws) == 1012
        stats = server.wait_stats(lambda s: s["connections_closed"] == 1)
    assert stats["faults_injected"] == {"unknown_request_id": 1} and stats["calls_unanswered"] == 1
    assert stats["results_ok"] == 1 and stats["connections_dropped"] == {"close": 1}
