"""Answer faults driven over HTTP: delay_ms, stall, stall_hello, every garbage kind; the call ledger."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import websocket
from websocket import ABNF

from reference_server.faults import DEFAULT_OVERSIZE_BYTES, UNKNOWN_ID_PREFIX
from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.assertions import assert_ok, assert_tool_error
from tests.reference_server.fault_support import SILENCE_S, balanced, delta, quiesce, ready_client
from tests.support.ws import (
    call,
    call_tool,
    connect,
    is_silent,
    mint_token,
    recv_end,
    recv_frame,
    recv_json,
    send_json,
)

GOING_AWAY = 1001
LOOP_CLOCK_SLACK_S = 0.01
"""libuv (uvloop) counts a timer from its loop time, cached in whole milliseconds at the start of each loop
iteration: a 150 ms delay ends early by this process's clock by as much as that iteration had run (CI saw
149.7 ms). An answer not held back comes in about a millisecond."""


def test_delay_holds_every_tool_answer_back(faulty: RunningServer) -> None:
    ws = ready_client(faulty)
    assert faulty.control("/control/faults", {"delay_ms": 150})["delay_ms"] == 150
    started = time.monotonic()
    assert_ok(call(ws, "echo", {"a": 1}, "d1"), "d1")
    assert time.monotonic() - started >= 0.15 - LOOP_CLOCK_SLACK_S
    started = time.monotonic()
    assert_tool_error(call(ws, "nope", {}, "d2"), "d2", "unknown_tool")  # errors are delayed too
    assert time.monotonic() - started >= 0.15 - LOOP_CLOCK_SLACK_S
    call_tool(ws, "late", "echo", {})  # the connection closes before this answer is due
    ws.close()
    faulty.control("/control/faults/reset")
    ws = ready_client(faulty)
    started = time.monotonic()
    assert_ok(call(ws, "echo", {}, "fast"), "fast")
    assert time.monotonic() - started < 0.15
    ws.close()


def test_delay_counts_an_answer_cut_by_the_close_as_unanswered(faulty: RunningServer) -> None:
    before = faulty.stats()
    faulty.control("/control/faults", {"delay_ms": 5_000})
    ws = ready_client(faulty)
    call_tool(ws, "a", "echo", {})
    call_tool(ws, "b", "sleep", {"ms": 1})
    faulty.wait_stats(lambda s: s["calls_received"] - before["calls_received"] == 2)
    ws.close()
    change = delta(before, quiesce(faulty))
    assert (change["calls_received"], change["results_ok"], change["calls_unanswered"]) == (2, 0, 2)


def test_stall_reads_calls_but_never_answers(faulty: RunningServer) -> None:
    before = faulty.stats()
    pending = ready_client(faulty)
    call_tool(pending, "early", "sleep", {"ms": 200})  # due after the stall starts: withheld too
    assert faulty.control("/control/faults", {"stall": True})["stall"] is True
    ws = ready_client(faulty)  # hello is still answered
    call_tool(ws, "s1", "echo", {})
    call_tool(ws, "s2", "sleep", {"ms": 1})
    send_json(ws, {"op": "list_tools", "request_id": "lt"})
    assert is_silent(ws, SILENCE_S) and is_silent(pending, SILENCE_S)
    stats = faulty.wait_stats(lambda s: s["calls_received"] - before["calls_received"] == 3)
    assert delta(before, stats)["results_ok"] == 0
    for client in (ws, pending):
        client.close()
    change = delta(before, quiesce(faulty))
    assert (change["calls_received"], change["results_ok"], change["calls_unanswered"]) == (3, 0, 3)
    assert change["results_error"] == {} and balanced(change)


def test_stall_hello_never_answers_hello(faulty: RunningServer) -> None:
    before = faulty.stats()
    faulty.control("/control/faults", {"stall_hello": True})
    ws = connect(faulty.url)
    send_json(ws, {"op": "hello", "session_id": "s", "token": mint_token(faulty.jwt_secret, now=time.time())})
    send_json(ws, {"op": "call_tool", "request_id": "x", "name": "echo"})  # ignored, not refused
    assert is_silent(ws, SILENCE_S)
    ws.close()
    change = delta(before, quiesce(faulty))
    assert change["hellos_unanswered"] == 1 and change["hello_ok"] == 0 and change["hello_refused"] == {}
    assert change["calls_received"] == 0


def _garbage_client(server: RunningServer, kind: str) -> websocket.WebSocket:
    ws = ready_client(server, skip_utf8_validation=True)
    server.control("/control/faults", {"garbage_fraction": 1.0, "garbage_kind": kind})
    return ws


@pytest.mark.parametrize(
    "kind",
    ["not_json", "not_object", "missing_request_id", "unknown_request_id", "binary_frame", "invalid_utf8"],
)
def test_garbage_replaces_the_answer(faulty: RunningServer, kind: str) -> None:
    before = faulty.stats()
    ws = _garbage_client(faulty, kind)
    call_tool(ws, "g1", "echo", {"k": kind})
    opcode, payload = recv_frame(ws)
    real = {"op": "tool_result", "request_id": "g1", "ok": True, "result": {"k": kind}}
    if kind == "binary_frame":
        assert opcode == ABNF.OPCODE_BINARY and json.loads(payload) == real
    else:
        assert opcode == ABNF.OPCODE_TEXT
    if kind == "not_json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(payload)
    elif kind == "not_object":
        assert json.loads(payload) == [real]
    elif kind == "missing_request_id":
        assert json.loads(payload) == {k: v for k, v in real.items() if k != "request_id"}
    elif kind == "unknown_request_id":
        assert json.loads(payload)["request_id"].startswith(UNKNOWN_ID_PREFIX)
    elif kind == "invalid_utf8":
        with pytest.raises(UnicodeDecodeError):
            payload.decode("utf-8")
    assert is_silent(ws, 0.1)  # nothing else: the real answer is not sent
    ws.close()
    change = delta(before, quiesce(faulty))
    assert change["faults_injected"] == {kind: 1}
    assert (change["calls_received"], change["results_ok"], change["calls_unanswered"]) == (1, 0, 1)


def test_invalid_utf8_fails_a_validating_client(faulty: RunningServer) -> None:
    ws = ready_client(faulty)
    faulty.control("/control/faults", {"garbage_fraction": 1.0, "garbage_kind": "invalid_utf8"})
    call_tool(ws, "u", "echo", {})
    with pytest.raises(websocket.WebSocketPayloadException):
        ws.recv_data()
    ws.close()


def test_duplicate_result_answers_twice(faulty: RunningServer) -> None:
    before = faulty.stats()
    ws = _garbage_client(faulty, "duplicate_result")
    call_tool(ws, "d", "echo", {"n": 1})
    first, second = recv_json(ws), recv_json(ws)
    assert first == second and assert_ok(first, "d") == {"n": 1}
    ws.close()
    change = delta(before, quiesce(faulty))
    assert change["faults_injected"] == {"duplicate_result": 1}
    assert (change["results_ok"], change["calls_unanswered"]) == (1, 0)


def test_oversize_frame_has_the_configured_size(faulty: RunningServer) -> None:
    before = faulty.stats()
    ws = _garbage_client(faulty, "oversize")
    call_tool(ws, "big", "echo", {})
    opcode, payload = recv_frame(ws)
    assert opcode == ABNF.OPCODE_TEXT and len(payload) == DEFAULT_OVERSIZE_BYTES
    assert json.loads(payload)["request_id"] == "big"
    faulty.control("/control/faults", {"oversize_bytes": 5000})
    call_tool(ws, "big2", "echo", {})
    assert len(recv_frame(ws)[1]) == 5000
    ws.close()
    assert delta(before, quiesce(faulty))["faults_injected"] == {"oversize": 2}


def test_garbage_fraction_applies_to_about_that_share_and_the_ledger_balances(faulty: RunningServer) -> None:
    before = faulty.stats()
    ws = ready_client(faulty)
    faulty.control("/control/faults", {"garbage_fraction": 0.5, "garbage_kind": "missing_request_id"})
    calls = 200
    for i in range(calls):
        call_tool(ws, f"c{i}", "echo", {})
    replies = [recv_json(ws) for _ in range(calls)]
    garbage = sum("request_id" not in r for r in replies)
    assert 50 < garbage < 150
    ws.close()
    change = delta(before, quiesce(faulty))
    assert change["faults_injected"] == {"missing_request_id": garbage}
    assert change["results_ok"] == calls - garbage and change["calls_unanswered"] == garbage
    assert balanced(change)


def test_shutdown_does_not_wait_for_stalled_calls_and_counts_them(tmp_path: Path) -> None:
    stats_file = tmp_path / "stats.json"
    with start_reference_server("--fault-stall", "--stats-file", str(stats_file)) as server:
        ws = ready_client(server)
        call_tool(ws, "a", "echo", {})
        call_tool(ws, "b", "sleep", {"ms": 10})
        server.wait_stats(lambda s: s["calls_received"] == 2)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert recv_end(ws) == GOING_AWAY
        assert time.monotonic() - started < 2.0  # the 5 s grace is for calls that will be answered
        ws.close()
        assert server.stop() == 0
    final = json.loads(stats_file.read_text())
    assert (final["calls_received"], final["results_ok"], final["calls_unanswered"]) == (2, 0, 2)
    assert balanced(final)
