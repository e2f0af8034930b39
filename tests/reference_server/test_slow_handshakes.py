"""Slow and surplus connections: slowloris handshakes, the pending-handshake cap, --max-connections."""

from __future__ import annotations

import time

from reference_server.launcher import start_reference_server
from tests.reference_server.assertions import assert_ok
from tests.reference_server.fault_support import delta, ready_client
from tests.reference_server.slow_clients import closed_by_peer, open_raw, slowloris, wait_until
from tests.support.ws import call, connect, recv_close

TRY_AGAIN_LATER = 1013


def test_slowloris_is_timed_out_while_others_are_served() -> None:
    with start_reference_server("--handshake-timeout", "1") as server:
        early = ready_client(server)  # connected before the attack
        before = server.stats()
        attackers = open_raw(server, 100)
        with slowloris(attackers):
            started = time.monotonic()
            calls = 0
            while time.monotonic() - started < 0.6:  # the slowloris is going on (1 byte / 50 ms)
                assert assert_ok(call(early, "echo", {"n": calls}, f"e{calls}"), f"e{calls}") == {"n": calls}
                calls += 1
                late = ready_client(server)  # a new client connects and is served during the attack
                assert_ok(call(late, "echo", {}, "l"), "l")
                late.close()
            assert calls >= 5
            # Each slowloris connection is cut once it has spent --handshake-timeout in its upgrade.
            assert all(closed_by_peer(sock, timeout=3) for sock in attackers)
        stats = server.wait_stats(lambda s: s["handshakes_timed_out"] - before["handshakes_timed_out"] == 100)
        assert delta(before, stats)["handshakes_rejected_busy"] == 0
        assert_ok(call(early, "echo", {}, "after"), "after")
        early.close()
        for sock in attackers:
            sock.close()


def test_pending_handshakes_beyond_the_cap_are_closed_at_once() -> None:
    with start_reference_server("--max-pending-handshakes", "20", "--handshake-timeout", "1") as server:
        held = open_raw(server, 20)  # accepted in order: these 20 fill the cap
        surplus = open_raw(server, 10)
        assert all(closed_by_peer(sock, timeout=2) for sock in surplus)
        stats = server.stats()
        assert stats["handshakes_rejected_busy"] == 10 and stats["connections_opened"] == 0
        # The 20 held ones were admitted: they are still open until their handshake timeout.
        assert not any(closed_by_peer(sock, timeout=0.01) for sock in held)
        assert all(closed_by_peer(sock, timeout=3) for sock in held)
        assert server.wait_stats(lambda s: s["handshakes_timed_out"] == 20)
        # Slots are free again: a well-behaved client connects and is served.
        ws = ready_client(server)
        assert assert_ok(call(ws, "echo", {"x": 1}, "ok"), "ok") == {"x": 1}
        ws.close()
        for sock in held + surplus:
            sock.close()


def test_a_complete_upgrade_leaves_the_pending_count() -> None:
    # With a cap of 2, many sequential well-behaved clients all get in: each frees its slot on upgrade.
    with start_reference_server("--max-pending-handshakes", "2") as server:
        for i in range(10):
            ws = ready_client(server)
            assert_ok(call(ws, "echo", {}, f"c{i}"), f"c{i}")
            ws.close()
        assert server.stats()["handshakes_rejected_busy"] == 0


def test_connections_beyond_max_connections_are_closed_with_1013() -> None:
    with start_reference_server("--max-connections", "3") as server:
        clients = [ready_client(server) for _ in range(3)]
        extra = connect(server.url)  # the upgrade completes, then the server closes at once
        assert recv_close(extra) == TRY_AGAIN_LATER
        extra.close()
        stats = server.stats()
        assert stats["connections_rejected_busy"] == 1 and stats["connections_opened"] == 3
        for i, ws in enumerate(clients):  # the open ones are unaffected
            assert_ok(call(ws, "echo", {}, f"k{i}"), f"k{i}")
        clients.pop().close()
        assert wait_until(lambda: server.stats()["connections_closed"] == 1, timeout=5)
        again = ready_client(server)  # a slot is free again
        assert_ok(call(again, "echo", {}, "again"), "again")
        for ws in [*clients, again]:
            ws.close()
