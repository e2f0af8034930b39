"""/stats over HTTP: exact counters after a known sequence, summed across --workers 2."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import websocket
from websocket import ABNF

from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.conftest import minter
from tests.support.ws import close_code_of, connect, mint_token

SENT_KEYS = ("hello_ok", "calls_received", "results_ok", "bad_messages", "pushes_sent")


class CountingClient:
    """A websocket-client connection that counts the text payload bytes it sends and receives."""

    def __init__(self, url: str) -> None:
        self.ws = connect(url)
        self.bytes_out = 0  # client -> server
        self.bytes_in = 0  # server -> client

    def send(self, message: Any) -> None:
        raw = json.dumps(message) if not isinstance(message, str) else message
        self.bytes_out += len(raw.encode())
        self.ws.send(raw)

    def recv(self) -> dict[str, Any]:
        self.ws.settimeout(5)
        opcode, data = self.ws.recv_data()
        assert opcode == ABNF.OPCODE_TEXT, (opcode, data)
        self.bytes_in += len(data)
        return json.loads(data)

    def recv_close(self) -> int:
        self.ws.settimeout(5)
        opcode, frame = self.ws.recv_data_frame(control_frame=True)
        assert opcode == ABNF.OPCODE_CLOSE
        return close_code_of(frame.data)


def test_counters_are_exact_after_a_known_sequence() -> None:
    with start_reference_server() as server:
        mint = minter(server)
        good = CountingClient(server.url)
        good.send({"op": "hello", "session_id": "s", "token": mint()})
        assert good.recv()["op"] == "hello_ok"
        for i in range(3):
            good.send({"op": "call_tool", "request_id": f"e{i}", "name": "echo", "arguments": {"i": i}})
        good.send({"op": "call_tool", "request_id": "sl", "name": "sleep", "arguments": {"ms": 20}})
        good.send({"op": "call_tool", "request_id": "f", "name": "fail", "arguments": {"code": "tool_failed"}})
        good.send({"op": "call_tool", "request_id": "u", "name": "nope"})
        good.send({"op": "call_tool", "request_id": "m", "name": 5})  # bad_message tool_result
        good.send("not json")  # bad_message error op
        good.send({"op": "list_tools", "request_id": "lt"})
        good.send(
            {
                "op": "call_tool",
                "request_id": "sub",
                "name": "subscribe",
                "arguments": {"topic": "t", "rate": 1000, "count": 3},
            }
        )
        replies = [good.recv() for _ in range(13)]  # 9 answers + error + tools + 3 events
        assert sum(r["op"] == "event" for r in replies) == 3
        good.ws.send_binary(b"\x01\x02")  # bad_message, not counted in bytes
        assert good.recv()["code"] == "bad_message"

        refused = []
        for token in (mint_token(server.jwt_secret, now=time.time() - 7200, ttl_s=60), "junk"):
            client = CountingClient(server.url)
            client.send({"op": "hello", "session_id": "s", "token": token})
            client.recv()
            assert client.recv_close() == 1008
            refused.append(client)
        early = CountingClient(server.url)
        early.send({"op": "call_tool", "request_id": "x", "name": "echo"})
        assert early.recv()["code"] == "hello_required"
        assert early.recv_close() == 1008
        clients = [good, *refused, early]
        for client in clients:
            client.ws.close()

        stats = server.wait_stats(lambda s: s["connections_closed"] == 4)
        assert server.stop() == 0
        output = server.stdout_text() + server.stderr_text()

    assert stats == {
        "connections_opened": 4,
        "connections_closed": 4,
        "hello_ok": 1,
        "hello_refused": {"hello_required": 1, "invalid_token": 1, "token_expired": 1},
        "hellos_unanswered": 0,
        "calls_received": 8,
        "results_ok": 5,
        "results_error": {"bad_message": 1, "tool_failed": 1, "unknown_tool": 1},
        "calls_unanswered": 0,
        "bad_messages": 3,
        "pushes_sent": 3,
        "bytes_in": sum(c.bytes_out for c in clients),
        "bytes_out": sum(c.bytes_in for c in clients),
        "connections_dropped": {},
        "handshakes_refused": {},
        "faults_injected": {},
        "handshakes_rejected_busy": 0,
        "handshakes_timed_out": 0,
        "connections_rejected_busy": 0,
        "writes_paused": 0,
        "slow_clients_closed": {},
        "tls_sessions_resumed": 0,
    }
    assert server.jwt_secret and server.jwt_secret not in output
    assert "junk" not in output


def test_stats_endpoint_only_serves_stats(server: RunningServer) -> None:
    assert set(server.stats()) >= set(SENT_KEYS)
    base = server.stats_url.rsplit("/", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(base + "/nope", timeout=5)
    assert info.value.code == 404
    request = urllib.request.Request(server.stats_url, data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 405


def _session(server: RunningServer, calls: int) -> websocket.WebSocket:
    ws = connect(server.url)
    ws.send(json.dumps({"op": "hello", "session_id": "w", "token": minter(server)()}))
    assert json.loads(ws.recv())["op"] == "hello_ok"
    for i in range(calls):
        ws.send(json.dumps({"op": "call_tool", "request_id": str(i), "name": "echo", "arguments": {}}))
    for _ in range(calls):
        assert json.loads(ws.recv())["ok"] is True
    return ws


def test_two_workers_share_the_port_and_stats_are_summed_exactly() -> None:
    with start_reference_server("--workers", "2") as server:
        sockets = []
        # SO_REUSEPORT spreads connections by hash: open until both workers have some (bounded).
        while len(sockets) < 64:
            sockets.extend(_session(server, calls=5) for _ in range(4))
            if all(w["connections_opened"] > 0 for w in server.worker_stats()):
                break
        per_worker = server.worker_stats()
        assert len(per_worker) == 2 and all(w["connections_opened"] > 0 for w in per_worker)
        stats = server.stats()
        n = len(sockets)
        assert stats["connections_opened"] == n and stats["hello_ok"] == n
        assert stats["calls_received"] == stats["results_ok"] == 5 * n
        assert stats["connections_opened"] == sum(w["connections_opened"] for w in per_worker)
        for ws in sockets:
            ws.close()
        stats = server.wait_stats(lambda s: s["connections_closed"] == n)
        assert stats["bytes_in"] == sum(w["bytes_in"] for w in server.worker_stats())
        assert server.stop() == 0
