"""The /control routes: state semantics, handshake refusal, bad bodies, methods, --no-control, --fault-* at startup."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import websocket
from websocket import ABNF

from reference_server.fault_control import is_loopback
from reference_server.faults import Faults
from reference_server.launcher import RunningServer, start_reference_server
from reference_server.stats_http import MAX_BODY_BYTES
from tests.reference_server.assertions import assert_ok
from tests.reference_server.fault_support import delta, quiesce, ready_client
from tests.support.ws import call, call_tool, connect, recv_frame

DEFAULT_STATE = Faults().to_dict()


def test_faults_state_get_post_and_reset(faulty: RunningServer) -> None:
    assert faulty.request("GET", "/control/faults") == (200, DEFAULT_STATE)
    assert faulty.control("/control/faults", {}) == DEFAULT_STATE
    state = faulty.control("/control/faults", {"delay_ms": 5, "garbage_kind": "binary_frame"})
    assert state == {**DEFAULT_STATE, "delay_ms": 5.0, "garbage_kind": "binary_frame"}
    state = faulty.control("/control/faults", {"stall_hello": True})  # omitted keys keep their values
    assert state == {**DEFAULT_STATE, "delay_ms": 5.0, "garbage_kind": "binary_frame", "stall_hello": True}
    assert faulty.request("GET", "/control/faults") == (200, state)
    assert faulty.control("/control/faults/reset") == DEFAULT_STATE
    assert faulty.request("GET", "/control/faults") == (200, DEFAULT_STATE)


@pytest.mark.parametrize("status", [401, 403, 500])
def test_handshake_status_refuses_new_connections(faulty: RunningServer, status: int) -> None:
    before = faulty.stats()
    kept = ready_client(faulty)  # already open: unaffected
    faulty.control("/control/faults", {"handshake_status": status})
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        connect(faulty.url)
    assert info.value.status_code == status
    assert_ok(call(kept, "echo", {}, "k"), "k")
    faulty.control("/control/faults", {"handshake_status": 0})
    ready_client(faulty).close()
    kept.close()
    change = delta(before, quiesce(faulty))
    assert change["handshakes_refused"] == {str(status): 1}
    assert change["connections_opened"] == 2


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/control/faults", {"delay_ms": -5}, "delay_ms"),
        ("/control/faults", {"stall": "yes"}, "stall"),
        ("/control/faults", {"garbage_fraction": 2}, "garbage_fraction"),
        ("/control/faults", {"garbage_kind": "spam"}, "garbage_kind"),
        ("/control/faults", {"handshake_status": 302}, "handshake_status"),
        ("/control/faults", {"bogus": 1}, "bogus"),
        ("/control/drop", {}, "fraction"),
        ("/control/drop", {"fraction": -0.1}, "fraction"),
        ("/control/drop", {"fraction": 0.5, "mode": "explode"}, "mode"),
        ("/control/drop", {"fraction": 0.5, "code": 1006}, "code"),
        ("/control/drop", b"{not json", "body"),
        ("/control/faults", b"[1, 2]", "body"),
    ],
)
def test_bad_bodies_answer_400_naming_the_field(faulty: RunningServer, path: str, body: Any, field: str) -> None:
    status, answer = faulty.request("POST", path, body)
    assert status == 400
    assert answer["field"] == field and field in answer["error"]
    assert faulty.request("GET", "/control/faults") == (200, DEFAULT_STATE)  # nothing changed


def test_oversized_body_and_wrong_methods(faulty: RunningServer) -> None:
    status, answer = faulty.request("POST", "/control/faults", b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert status == 413 and "error" in answer
    assert faulty.request("GET", "/control/drop")[0] == 405
    assert faulty.request("PUT", "/control/faults", {})[0] == 405
    assert faulty.request("GET", "/control/faults/reset")[0] == 405
    assert faulty.request("POST", "/stats", {})[0] == 405
    assert faulty.request("POST", "/control/nope", {})[0] == 404


def test_no_control_disables_the_routes() -> None:
    with start_reference_server("--no-control") as server:
        assert server.request("GET", "/control/faults")[0] == 404
        assert server.request("POST", "/control/drop", {"fraction": 1})[0] == 404
        assert server.request("POST", "/control/faults/reset", {})[0] == 404
        assert server.stats()["connections_opened"] == 0
        assert server.stderr_text() == ""


def test_faults_from_the_command_line() -> None:
    args = (
        "--fault-delay-ms",
        "100",
        "--fault-garbage-fraction",
        "1",
        "--fault-garbage-kind",
        "binary_frame",
        "--fault-oversize-bytes",
        "4096",
        "--fault-drop-rate",
        "0",
    )
    with start_reference_server(*args) as server:
        expected = {
            **DEFAULT_STATE,
            "delay_ms": 100.0,
            "garbage_fraction": 1.0,
            "garbage_kind": "binary_frame",
            "oversize_bytes": 4096,
        }
        assert server.request("GET", "/control/faults") == (200, expected)
        ws = ready_client(server)
        started = time.monotonic()
        call_tool(ws, "c", "echo", {})
        opcode, payload = recv_frame(ws)
        assert time.monotonic() - started >= 0.1
        assert opcode == ABNF.OPCODE_BINARY and json.loads(payload)["request_id"] == "c"
        ws.close()
        assert quiesce(server)["faults_injected"] == {"binary_frame": 1}
        assert server.control("/control/faults/reset") == DEFAULT_STATE


def test_stall_and_handshake_faults_from_the_command_line() -> None:
    with start_reference_server("--fault-stall", "--fault-stall-hello", "--fault-handshake-status", "503") as server:
        state = server.request("GET", "/control/faults")[1]
        assert (state["stall"], state["stall_hello"], state["handshake_status"]) == (True, True, 503)
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            connect(server.url)
        assert info.value.status_code == 503
        assert server.stats()["handshakes_refused"] == {"503": 1}


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("example.com")
