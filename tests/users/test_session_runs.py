"""Whole Locust runs with connection churn (--session-calls) against the reference server: exact counts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from reference_server.launcher import start_reference_server
from tests.analysis.helpers import run_cli
from tests.support.locust_run import ROOT, ledger_closes, read_run, run_locust

USERS = 20
CALLS = 3


def test_sessions_of_n_calls_close_normally_and_reconnect_at_once_with_every_count_matching_the_server(
    tmp_path: Path,
) -> None:
    with start_reference_server() as server:
        result = run_locust(
            tmp_path, server.url, "--session-calls", str(CALLS), "--in-flight", "2", "--tools", "echo",
            env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=USERS, run_time="3s",
        )  # fmt: skip
        stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert result.returncode == 0, result.output[-3000:]
    ws = ledger_closes(result)
    sessions = int(ws["sessions"])
    # no backoff: short sessions meet doubling delays from 0.05 s up to 5 s there, at most ~8 per user in 3 s
    assert sessions > 20 * USERS, sessions
    # exact even for the sessions the stop cut mid-connect or mid-hello (Seat.open_next_session, users/load/seat.py, finishes and closes them)
    assert stats["connections_opened"] == ws["connects"] == result.stats["connect"].requests
    assert stats["hello_ok"] == ws["hellos_ok"] == result.stats["hello"].requests
    assert result.stats["session"].requests == sessions and result.stats["session"].failures == 0
    cut = ws["connects"] - sessions  # sessions the run's stop ended before their N calls
    assert 0 <= cut <= USERS, (ws["connects"], sessions)
    assert sessions * CALLS <= ws["calls_sent"] <= sessions * CALLS + cut * CALLS
    assert ws["calls_ok"] == ws["calls_sent"] == stats["calls_received"] == stats["results_ok"]
    assert ws["closes_normal"] == ws["disconnects"] == ws["connects"]  # the stop closes with 1000 too
    assert ws["closes_error"] == ws["resets"] == ws["connect_failures"] == 0
    assert ws["reconnects"] == ws["reconnect_attempts"] == 0  # a new session is not a reconnect
    assert not result.failures, result.failures
    assert f"sessions  {sessions:,} closed after their calls, " in result.output  # the summary
    report = run_cli("report", str(tmp_path / "run"), "--out", str(tmp_path / "report"))
    assert report.returncode in (0, 1), report.stderr  # 1: a default target missed on this shared machine
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert f"Sessions (--session-calls): {sessions:,} made their calls and closed with 1000," in markdown
    assert "| session |" in markdown and "| sessions | " in markdown


def churn_run(tmp_path: Path, users: int, session_rate: int) -> tuple[dict[str, float], dict[str, int]]:
    """A 4 s churn stage of `users` at `session_rate` sessions/s, 2 calls each; (last ws.csv row, server /stats)."""
    with start_reference_server() as server:
        result = run_locust(
            tmp_path, server.url, "--scenario", "churn", "--session-rate", str(session_rate), "--stage-duration", "4s",
            "--session-calls", "2", "-r", "100", env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=users,
            run_time="30s",
        )  # fmt: skip
        stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert result.returncode == 0, result.output[-3000:]
    ws = ledger_closes(result)
    assert stats["connections_opened"] == ws["connects"] and stats["hello_ok"] == ws["hellos_ok"]
    assert ws["calls_sent"] == stats["calls_received"] and ws["closes_error"] == ws["resets"] == 0
    assert result.stats["session"].requests == ws["sessions"] and not result.failures
    return ws, stats


def test_a_churn_stage_starts_sessions_at_its_rate_not_as_fast_as_they_end(tmp_path: Path) -> None:
    ws, _ = churn_run(tmp_path, users=20, session_rate=100)
    # 400 scheduled starts in 4 s (plus each user's first session, opened when it spawned); a closed loop of
    # 20 users makes thousands. Late starts: only what a busy machine delays past 10 ms.
    assert 0.75 * 400 <= ws["sessions"] <= 400 + 20 + 5, ws["sessions"]
    assert ws["sessions_late"] < 0.5 * ws["sessions"], ws


def test_sessions_that_cannot_start_on_time_start_late_and_are_counted(tmp_path: Path) -> None:
    ws, _ = churn_run(tmp_path, users=2, session_rate=5000)
    # two users cannot start 5,000 sessions/s: almost every start is claimed after its time has passed
    assert ws["sessions"] < 0.5 * 5000 * 4, ws["sessions"]
    assert ws["sessions_late"] >= 0.9 * (ws["sessions"] - 2), ws


THINKING = textwrap.dedent(
    """
    from locust import constant

    import locustfile  # noqa: F401  the project's patches, options and scenario shape
    from users.base import ToolCallUser


    class ThinkingUser(ToolCallUser):
        wait_time = constant(0.05)
        session_calls = 3
    """
)


def test_a_user_with_a_think_time_and_its_own_session_calls_closes_after_three_calls(tmp_path: Path) -> None:
    custom = tmp_path / "thinking.py"
    custom.write_text(THINKING)
    with start_reference_server() as server:
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(custom), "--headless", "-u", "2", "-r", "2", "-t", "3s",
             "-H", server.url, "--csv", str(tmp_path / "run"), "--only-summary", "ThinkingUser"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "LOCUST_JWT_SECRET": server.jwt_secret or ""},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert done.returncode == 0, done.stderr[-3000:]
    ws = ledger_closes(read_run(tmp_path / "run", done.returncode, done.stdout + done.stderr))
    sessions = int(ws["sessions"])
    assert sessions >= 6, ws  # one call per 50 ms think time: about 20 sessions of 3 calls in 3 s per user
    assert 3 * sessions <= ws["calls_sent"] <= 3 * sessions + 2 * 3
    assert stats["connections_opened"] == ws["connects"] and stats["hello_ok"] == ws["hellos_ok"]
    assert stats["calls_received"] == ws["calls_sent"] and ws["closes_error"] == 0
