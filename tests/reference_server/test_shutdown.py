"""Graceful shutdown: in-flight calls answered, then close 1001; the grace bound; the stats file."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest
from websocket import ABNF

from reference_server.launcher import start_reference_server
from tests.reference_server.assertions import assert_ok
from tests.reference_server.conftest import minter
from tests.support.ws import call_tool, close_code_of, connect, hello, recv_close, recv_json

GOING_AWAY = 1001


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_answers_in_flight_calls_then_closes_1001(tmp_path: Path, sig: int) -> None:
    stats_file = tmp_path / "stats.json"
    with start_reference_server("--stats-file", str(stats_file)) as server:
        ws = connect(server.url)
        assert hello(ws, minter(server)())["op"] == "hello_ok"
        for i in range(3):
            call_tool(ws, f"s{i}", "sleep", {"ms": 300 + 50 * i})
        call_tool(ws, "e", "echo", {})
        assert_ok(recv_json(ws), "e")
        server.process.send_signal(sig)
        assert_ok(recv_json(ws), "s0")
        with pytest.raises(OSError):  # no longer accepting
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        assert_ok(recv_json(ws), "s1")
        assert_ok(recv_json(ws), "s2")
        assert recv_close(ws) == GOING_AWAY
        ws.close()
        assert server.stop(timeout=10) == 0
        written = json.loads(stats_file.read_text())
    assert written["connections_opened"] == written["connections_closed"] == 1
    assert written["calls_received"] == written["results_ok"] == 4
    assert written["hello_ok"] == 1 and written["results_error"] == {}


def test_grace_bounds_the_wait_for_in_flight_calls() -> None:
    with start_reference_server("--shutdown-grace", "0.3") as server:
        ws = connect(server.url)
        assert hello(ws, minter(server)())["op"] == "hello_ok"
        call_tool(ws, "forever", "sleep", {"ms": 60_000})
        call_tool(ws, "sync", "echo", {})
        assert_ok(recv_json(ws), "sync")
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        ws.settimeout(5)
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == ABNF.OPCODE_CLOSE, "the unfinished call is not answered"
        assert close_code_of(frame.data) == GOING_AWAY
        assert 0.25 < time.monotonic() - started < 3
        assert server.stop(timeout=10) == 0


def test_idle_and_pre_hello_connections_are_closed_too() -> None:
    with start_reference_server() as server:
        idle = connect(server.url)
        assert hello(idle, minter(server)())["op"] == "hello_ok"
        pre_hello = connect(server.url)
        server.process.send_signal(signal.SIGTERM)
        assert recv_close(idle) == GOING_AWAY
        assert recv_close(pre_hello) == GOING_AWAY
        assert server.stop(timeout=10) == 0
