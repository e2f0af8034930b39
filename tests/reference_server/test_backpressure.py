"""Clients that read slowly or never: the server stops reading them, bounds its buffer, closes them with 1008."""

from __future__ import annotations

import json
import socket
import time

import pytest
import websocket
from websocket import ABNF

from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.assertions import assert_ok
from tests.reference_server.fault_support import delta, ready_client
from tests.reference_server.slow_clients import rss_mib, wait_until, worker_process
from tests.support.ws import call, recv_json

SMALL_RCVBUF = ((socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024),)
PAYLOAD_BYTES = 1_000_000


def call_frame(request_id: str, name: str, arguments: dict) -> bytes:
    """One masked call_tool text frame, ready for sock.send."""
    message = {"op": "call_tool", "request_id": request_id, "name": name, "arguments": arguments}
    return ABNF.create_frame(json.dumps(message), ABNF.OPCODE_TEXT).format()


def flood(ws: websocket.WebSocket, count: int, name: str, arguments: dict) -> int:
    """Send up to ``count`` calls without blocking or reading; return how many went out."""
    ws.sock.setblocking(False)
    sent = 0
    try:
        for i in range(count):
            frame = call_frame(f"f{i}", name, arguments)
            try:
                ws.sock.sendall(frame)
            except BlockingIOError:
                break
            sent += 1
    finally:
        ws.sock.setblocking(True)
    return sent


def echo_round_trips(ws: websocket.WebSocket, count: int, prefix: str) -> float:
    """``count`` echo calls one after another on ``ws``; the slowest round trip in seconds."""
    slowest = 0.0
    for i in range(count):
        started = time.monotonic()
        ws.send(json.dumps({"op": "call_tool", "request_id": f"{prefix}{i}", "name": "echo", "arguments": {"i": i}}))
        assert assert_ok(recv_json(ws), f"{prefix}{i}") == {"i": i}
        slowest = max(slowest, time.monotonic() - started)
    return slowest


@pytest.fixture(scope="module")
def slow_server() -> RunningServer:
    with start_reference_server("--send-timeout", "1.5") as running:
        yield running


def test_a_client_that_never_reads_is_bounded_then_closed(slow_server: RunningServer) -> None:
    worker = worker_process(slow_server)
    other = ready_client(slow_server)
    echo_round_trips(other, 5, "warm")
    rss_before = rss_mib(worker)
    before = slow_server.stats()

    greedy = ready_client(slow_server, sockopt=SMALL_RCVBUF)
    # 2,000 calls asking for 1 MB each (2 GB of answers); it never reads one of them.
    sent = flood(greedy, 2000, "payload", {"bytes": PAYLOAD_BYTES})
    assert sent >= 500
    assert wait_until(lambda: slow_server.stats()["writes_paused"] > before["writes_paused"], timeout=5)
    time.sleep(0.3)
    rss_paused = rss_mib(worker)
    during = delta(before, slow_server.stats())
    # Other connections are served promptly while the greedy one is paused.
    assert echo_round_trips(other, 20, "during") < 0.5
    # Only the calls read before the pause ran: their answers fill the socket and the send buffer.
    assert during["calls_received"] < 20, during
    assert rss_paused - rss_before < 48, (rss_before, rss_paused)

    stats = slow_server.wait_stats(lambda s: s["slow_clients_closed"].get("send_timeout", 0) > 0, timeout=5)
    assert delta(before, stats)["slow_clients_closed"] == {"send_timeout": 1}
    # The server aborts it (it would not read a CLOSE either) and forgets what it held.
    assert wait_until(lambda: slow_server.stats()["connections_closed"] - before["connections_closed"] == 1, 5)
    rss_after = rss_mib(worker)
    assert rss_after - rss_before < 24, (rss_before, rss_paused, rss_after)
    assert echo_round_trips(other, 3, "after") < 0.5
    other.close()
    greedy.close()
    print(f"worker RSS MiB: before {rss_before:.1f}, paused {rss_paused:.1f}, after close {rss_after:.1f}")


def test_a_slow_reader_gets_every_answer_in_order(slow_server: RunningServer) -> None:
    before = slow_server.stats()
    ws = ready_client(slow_server, skip_utf8_validation=True)  # websocket-client validates UTF-8 slowly
    count = 40
    sent = flood(ws, count, "payload", {"bytes": PAYLOAD_BYTES})  # 40 MB of answers, more than socket buffers hold
    assert sent == count
    time.sleep(0.2)  # not reading: the server pauses this connection and holds the rest of its calls
    assert slow_server.stats()["writes_paused"] > before["writes_paused"]
    ids = []
    for _ in range(count):
        reply = recv_json(ws)
        assert reply["ok"] is True and len(reply["result"]) == PAYLOAD_BYTES, reply.get("error")
        ids.append(reply["request_id"])
    assert ids == [f"f{i}" for i in range(count)]  # every call answered, in the order sent
    assert_ok(recv_json_after(ws, "tail"), "tail")
    ws.close()
    stats = slow_server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert delta(before, stats)["slow_clients_closed"] == {}


def recv_json_after(ws: websocket.WebSocket, request_id: str) -> dict:
    """Send one echo call and return its answer (the connection reads normally again)."""
    ws.send(json.dumps({"op": "call_tool", "request_id": request_id, "name": "echo", "arguments": {}}))
    return recv_json(ws)


def test_a_push_stream_to_a_client_that_never_reads_hits_the_buffer_limit() -> None:
    # Pushes are not calls: pausing reads does not stop them, the buffer limit does.
    with start_reference_server("--max-send-buffer-bytes", "262144", "--send-timeout", "30") as server:
        other = ready_client(server)
        ws = ready_client(server, sockopt=SMALL_RCVBUF)
        stream = {"topic": "fast", "rate": 50_000, "count": 1_000_000}
        assert_ok(call(ws, "subscribe", stream, "s"), "s")  # the last thing it reads
        big = "x" * 200_000
        for i in range(20):  # 4 MB of broadcasts on its topic fill the socket buffers at once
            assert_ok(call(other, "broadcast", {"topic": "fast", "data": big}, f"b{i}"), f"b{i}")
        stats = server.wait_stats(lambda s: s["slow_clients_closed"].get("send_buffer_limit", 0) == 1, timeout=10)
        assert stats["writes_paused"] >= 1
        assert stats["pushes_sent"] < 1_000_000
        assert echo_round_trips(other, 3, "o") < 0.5
        # Closed with 1008, then aborted a second later since it reads nothing.
        assert wait_until(lambda: server.stats()["connections_closed"] == 1, timeout=5)
        other.close()
        ws.close()
