"""Helpers for the fault-injection tests: hello-completed clients, counter deltas, quiescence."""

from __future__ import annotations

import time
from typing import Any

import websocket
from websocket import ABNF

from reference_server.launcher import RunningServer
from tests.support.ws import close_code_of, connect, hello, mint_token

#: How long "no answer" is watched for (short: the server answers in well under a millisecond).
SILENCE_S = 0.3


def ready_client(server: RunningServer, **connect_options: Any) -> websocket.WebSocket:
    """A connection to ``server`` that has said hello (scope tools:*)."""
    ws = connect(server.url, **connect_options)
    reply = hello(ws, mint_token(server.jwt_secret, now=time.time()))
    assert reply["op"] == "hello_ok", reply
    return ws


def quiesce(server: RunningServer, timeout: float = 5.0) -> dict[str, Any]:
    """Wait until every connection the server opened has closed; return the stats then."""
    return server.wait_stats(lambda s: s["connections_opened"] == s["connections_closed"], timeout)


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``after - before`` for every counter (per-key objects subtracted key by key, zeros dropped)."""
    out: dict[str, Any] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            diff = {k: v - before[key].get(k, 0) for k, v in value.items()}
            out[key] = {k: v for k, v in diff.items() if v}
        else:
            out[key] = value - before[key]
    return out


def balanced(stats: dict[str, Any]) -> bool:
    """calls_received == results_ok + sum(results_error) + calls_unanswered (nothing in flight)."""
    answered = stats["results_ok"] + sum(stats["results_error"].values()) + stats["calls_unanswered"]
    return stats["calls_received"] == answered


def next_event(ws: websocket.WebSocket, timeout: float = 5.0) -> tuple[str, Any]:
    """The next thing the server sends: ("close", code) or ("text", payload bytes)."""
    ws.settimeout(timeout)
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == ABNF.OPCODE_CLOSE:
            return "close", close_code_of(frame.data)
        if opcode == ABNF.OPCODE_TEXT:
            return "text", frame.data
