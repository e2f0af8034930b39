"""Whole Locust runs against misbehaving servers: a flapping server meets backoff, a stop mid-hello leaves nothing open."""

from __future__ import annotations

from pathlib import Path

from tests.support.locust_run import ledger_closes, run_locust
from tests.support.misbehaving_server import misbehaving_server

USERS = 2
RUN_S = 3


def test_a_server_closing_every_session_after_hello_meets_backoff_not_a_reconnect_flood(tmp_path: Path) -> None:
    with misbehaving_server("--mode", "close", "--after", "5", "--code", "1011", "--reason", "overloaded") as server:
        result = run_locust(
            tmp_path, server.url, "--in-flight", "4", "--tools", "echo",
            env={"LOCUST_JWT_SECRET": server.jwt_secret}, users=USERS, run_time=f"{RUN_S}s",
        )  # fmt: skip
        sessions = server.sessions()
    assert result.returncode == 0, result.output[-2000:]
    ws = ledger_closes(result)
    # Delays of at least 0.05, 0.1, 0.2, 0.4, 0.8, 1.6 s (half of each doubling ceiling): about seven attempts
    # per user in three seconds at most, where no backoff made thousands.
    assert 2 * USERS <= sessions <= 8 * USERS, sessions
    assert ws["connects"] == sessions and ws["connects"] == ws["disconnects"] + ws["connections_open"]
    assert ws["closes_error"] >= sessions - USERS  # all but the ones the stop closed
    assert ws["disconnects"] == ws["closes_normal"] + ws["closes_going_away"] + ws["closes_error"] + ws["resets"]
    lost = result.failures[("call_tool:echo", "connection_lost: close 1011 overloaded")]
    assert lost > 0 and lost <= ws["calls_lost"]


def test_users_stopped_mid_hello_leave_no_connection_open_and_every_hello_counted(tmp_path: Path) -> None:
    with misbehaving_server("--mode", "mute-hello") as server:
        result = run_locust(
            tmp_path, server.url, "--hello-timeout", "60",
            env={"LOCUST_JWT_SECRET": server.jwt_secret}, users=USERS, run_time="2s",
        )  # fmt: skip
        sessions = server.sessions()
    assert result.returncode == 0, result.output[-2000:]
    ws = result.ws_final
    assert sessions == USERS == ws["connects"] == ws["disconnects"] and ws["connections_open"] == 0
    assert ws["hellos_sent"] == USERS == ws["hellos_ok"] + ws["hellos_refused"]
