"""POST /control/drop and the drop_rate fault: who is dropped, how the client sees it, what is counted."""

from __future__ import annotations

import json
import time
from typing import Any

import websocket

from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.assertions import assert_ok
from tests.reference_server.fault_support import balanced, delta, next_event, quiesce, ready_client
from tests.support.ws import RESET, call_tool, connect, hello, mint_token, recv_end

SERVICE_RESTART = 1012


def test_drop_closes_exactly_the_fraction_with_1012_and_the_rest_keep_working(faulty: RunningServer) -> None:
    before = faulty.stats()
    clients = [ready_client(faulty) for _ in range(8)]
    for i, ws in enumerate(clients):
        call_tool(ws, f"slow{i}", "sleep", {"ms": 60_000})  # in flight when the drop comes
    pre_hello = connect(faulty.url)  # not hello-completed: never a candidate
    faulty.wait_stats(lambda s: s["calls_received"] - before["calls_received"] == 8)

    assert faulty.control("/control/drop", {"fraction": 0.5, "mode": "close"}) == {"dropped": 4}

    outcomes = []
    for i, ws in enumerate(clients):
        call_tool(ws, f"after{i}", "echo", {"i": i})
        kind, value = next_event(ws)  # a dropped client gets CLOSE first, never its sleep result
        outcomes.append((kind, value))
        if kind == "text":
            assert_ok(json.loads(value), f"after{i}")
    assert sorted(kind for kind, _ in outcomes) == ["close"] * 4 + ["text"] * 4
    assert all(value == SERVICE_RESTART for kind, value in outcomes if kind == "close")
    assert hello(pre_hello, mint_token(faulty.jwt_secret, now=time.time()))["op"] == "hello_ok"

    for ws in [*clients, pre_hello]:
        ws.close()
    after = quiesce(faulty)
    change = delta(before, after)
    assert change["connections_dropped"] == {"close": 4}
    assert change["calls_received"] == 12 and change["results_ok"] == 4
    assert change["calls_unanswered"] == 8  # 4 sleeps cut by the drop, 4 cut by the client closing
    assert balanced(change)


def test_drop_reset_aborts_the_tcp_connection(faulty: RunningServer) -> None:
    before = faulty.stats()
    clients = [ready_client(faulty) for _ in range(3)]
    call_tool(clients[0], "slow", "sleep", {"ms": 60_000})
    faulty.wait_stats(lambda s: s["calls_received"] > before["calls_received"])
    assert faulty.control("/control/drop", {"fraction": 1, "mode": "reset"}) == {"dropped": 3}
    assert [recv_end(ws) for ws in clients] == [RESET] * 3
    change = delta(before, quiesce(faulty))
    assert change["connections_dropped"] == {"reset": 3}
    assert change["calls_unanswered"] == 1 and change["results_ok"] == 0


def test_drop_with_another_close_code_and_with_nobody_to_drop(faulty: RunningServer) -> None:
    assert faulty.control("/control/drop", {"fraction": 1}) == {"dropped": 0}
    ws = ready_client(faulty)
    assert faulty.control("/control/drop", {"fraction": 1, "code": 4001}) == {"dropped": 1}
    assert recv_end(ws) == 4001
    ws.close()
    assert faulty.control("/control/drop", {"fraction": 0.0}) == {"dropped": 0}


def test_drop_rate_closes_connections_continuously(faulty: RunningServer) -> None:
    before = faulty.stats()
    clients = [ready_client(faulty) for _ in range(3)]
    state = faulty.control("/control/faults", {"drop_rate": 50})
    assert state["drop_rate"] == 50
    assert [recv_end(ws, timeout=3) for ws in clients] == [SERVICE_RESTART] * 3
    faulty.control("/control/faults", {"drop_rate": 0})
    later = ready_client(faulty)
    call_tool(later, "x", "echo", {})
    assert_ok(_text(later), "x")  # rate 0 stops the drops
    later.close()
    change = delta(before, quiesce(faulty))
    assert change["connections_dropped"] == {"close": 3}


def _text(ws: websocket.WebSocket) -> Any:
    kind, value = next_event(ws)
    assert kind == "text", (kind, value)
    return json.loads(value)


def test_two_workers_drop_is_split_and_summed() -> None:
    with start_reference_server("--workers", "2") as server:
        clients: list[websocket.WebSocket] = []
        while len(clients) < 64:  # SO_REUSEPORT hashes: open until both workers have two (n stays even)
            clients.extend(ready_client(server) for _ in range(4))
            per_worker = server.worker_stats()
            if all(w["hello_ok"] >= 2 for w in per_worker):
                break
        n = len(clients)
        assert all(w["hello_ok"] >= 2 for w in server.worker_stats())
        assert server.control("/control/drop", {"fraction": 0.5}) == {"dropped": n // 2}
        assert server.control("/control/drop", {"fraction": 1}) == {"dropped": n - n // 2}
        assert [recv_end(ws) for ws in clients] == [SERVICE_RESTART] * n
        per_worker = server.worker_stats()
        assert all(w["connections_dropped"].get("close", 0) > 0 for w in per_worker)
        assert sum(w["connections_dropped"]["close"] for w in per_worker) == n
        assert server.stats()["connections_dropped"] == {"close": n}
        # Faults reach every worker too.
        server.control("/control/faults", {"handshake_status": 503})
        refused = 0
        for _ in range(16):
            try:
                connect(server.url).close()
            except websocket.WebSocketBadStatusException as exc:
                assert exc.status_code == 503
                refused += 1
        assert refused == 16
        assert all(w["handshakes_refused"].get("503", 0) > 0 for w in server.worker_stats())
        assert server.stop() == 0
