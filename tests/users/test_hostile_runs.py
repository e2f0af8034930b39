"""Whole Locust runs against hostile servers (tests/support/hostile_frames_server.py): no hang, no traceback, the
ledger holds and every answer the server wrote is counted ok."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.hostile_frames_server import HUGE_SEQ, Hostile, hostile_server
from tests.support.locust_run import ROOT, LocustRun, headless_command, ledger_closes, run_locust, terminate
from users.wire.frames import FRAME_ERROR_CODES

USERS = 2
RUN_S = 3


def hostile_run(tmp_path: Path, server: Hostile, *args: str, users: int = USERS) -> LocustRun:
    """A run of `users` against `server` that must end by itself within its -t, cleanly."""
    result = run_locust(
        tmp_path, server.url, *args, env={"LOCUST_JWT_SECRET": server.jwt_secret}, users=users, run_time=f"{RUN_S}s"
    )
    assert result.returncode == 0, result.output[-3000:]
    assert "Traceback" not in result.output, result.output[-3000:]
    return result


def raw(result: LocustRun, column: str) -> int:
    """A counter of the last ws.csv row as written (exact beyond a float's 2**53)."""
    return int(result.ws_rows[-1][column])


def test_a_push_seq_of_2_to_the_53_is_one_exact_gap_and_the_run_goes_on(tmp_path: Path) -> None:
    with hostile_server("--mode", "huge-seq") as server:
        result = hostile_run(tmp_path, server)
        sessions, totals = server.sessions(), server.totals()
    ws = ledger_closes(result)
    assert sessions == USERS and totals.pushed == 2 * sessions
    assert (raw(result, "pushes_received"), raw(result, "push_reordered")) == (totals.pushed, sessions)
    assert raw(result, "push_gaps") == sessions * (HUGE_SEQ - 2)  # 1 .. 2**53-1 missing, then 1 came late
    assert ws["calls_ok"] == totals.answered > 0 and ws["calls_failed"] == ws["calls_lost"] == 0


def test_sigterm_ends_a_run_fed_a_huge_seq_promptly(tmp_path: Path) -> None:
    with hostile_server("--mode", "huge-seq") as server:
        command = headless_command(tmp_path / "run", server.url, users=USERS, run_time="60s")
        env = {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret}
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 30
        while server.sessions() < USERS and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)  # the pushes are read
        started = time.monotonic()
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        finally:
            terminate(process)
        took = time.monotonic() - started
    assert server.sessions() == USERS and process.returncode == 0, output[-3000:]
    assert took < 20 and "Traceback" not in output, output[-3000:]


def test_a_server_streaming_unique_topics_is_counted_not_tracked_beyond_the_cap(tmp_path: Path) -> None:
    with hostile_server("--mode", "unique-topics", "--count", "2000") as server:
        result = hostile_run(tmp_path, server)
        sessions, totals = server.sessions(), server.totals()
    ws = ledger_closes(result)
    assert sessions == USERS and totals.pushed == 2000 * sessions
    assert (ws["pushes_received"], ws["pushes_untracked"]) == (totals.pushed, (2000 - 1024) * sessions)
    assert ws["push_gaps"] == ws["push_duplicates"] == 0
    assert ws["calls_ok"] == totals.answered > 0


@pytest.mark.parametrize(
    ("bad", "code", "args"),
    [
        ("rsv", 1002, ()),
        ("length-2-63", 1002, ()),
        ("reserved-control", 1002, ()),
        ("too-big", 1009, ()),
        ("bad-utf8", 1007, ()),
        ("bad-deflate", 1002, ("--compression", "deflate")),
    ],
)
def test_answers_written_with_a_bad_frame_count_ok_and_the_connection_fails_with_its_code(
    tmp_path: Path, bad: str, code: int, args: tuple[str, ...]
) -> None:
    server_args = ("--compression",) if args else ()
    with hostile_server("--mode", "bad-after", "--after", "3", "--bad", bad, *server_args) as server:
        result = hostile_run(tmp_path, server, "--in-flight", "3", *args)
        sessions, totals = server.sessions(), server.totals()
        closes = server.client_closes()
    ws = ledger_closes(result)
    bad = totals.misbehaved  # every session but one a user's stop may have cut short
    assert sessions >= USERS and sessions - USERS <= bad <= sessions and totals.answered == 3 * bad
    assert ws["calls_ok"] == totals.answered and ws["calls_failed"] == ws["calls_timeout"] == 0
    assert ws["protocol_errors"] == bad and ws["closes_error"] == bad
    fault = "invalid_utf8" if code == 1007 else FRAME_ERROR_CODES[code]
    lost = {("call_tool:echo", f"connection_lost: framing error {code}"): ws["calls_lost"]} if ws["calls_lost"] else {}
    assert result.failures == {("protocol_error", fault): bad, **lost}
    assert closes.count(code) == bad


@pytest.mark.parametrize(
    ("close_hex", "code", "lost_as"),
    [
        ("03ed", 1002, "framing error 1002"),  # 1005 may not be sent
        ("07d0", 1002, "framing error 1002"),  # 2000: unassigned
        ("03", 1002, "framing error 1002"),  # a one-byte payload
        ("03e8fffe", 1007, "framing error 1007"),  # a reason that is not UTF-8
        ("0fa0", 4000, "close 4000"),  # a valid code is echoed
    ],
)
def test_an_invalid_close_frame_is_failed_with_its_code_not_echoed(
    tmp_path: Path, close_hex: str, code: int, lost_as: str
) -> None:
    with hostile_server("--mode", "close-after", "--after", "3", "--close-hex", close_hex) as server:
        result = hostile_run(tmp_path, server, "--in-flight", "4")
        sessions, totals = server.sessions(), server.totals()
        closes = server.client_closes()
    ws = ledger_closes(result)
    bad = totals.misbehaved  # every session but one a user's stop may have cut short
    assert sessions >= USERS and sessions - USERS <= bad <= sessions and totals.answered == 3 * bad == ws["calls_ok"]
    assert closes.count(code) == bad and ws["closes_error"] == bad
    assert ws["calls_lost"] >= bad - USERS  # the fourth call of each session (unless a stop came first)
    lost = {("call_tool:echo", f"connection_lost: {lost_as}"): ws["calls_lost"]} if ws["calls_lost"] else {}
    faults = {("protocol_error", FRAME_ERROR_CODES[code]): bad} if code < 1010 else {}
    assert result.failures == {**faults, **lost}
    assert "\ufffd" not in result.output


def test_100_mb_in_1_mib_fragments_to_5_users_stays_within_users_times_the_message_limit(tmp_path: Path) -> None:
    users, limit = 5, 16 * 2**20
    with hostile_server("--mode", "fragments", "--total-mb", "100") as server:
        result = hostile_run(tmp_path, server, "--max-message-bytes", str(limit), users=users)
        sessions, totals = server.sessions(), server.totals()
    ws = ledger_closes(result)
    assert sessions >= users and ws["calls_ok"] == totals.answered == 0 and ws["disconnects"] == sessions
    failed = ws["protocol_errors"]  # every session but one a user's stop may have cut short
    assert sessions - users <= failed <= sessions and ws["closes_error"] == failed
    lost = {("call_tool:echo", "connection_lost: framing error 1009"): ws["calls_lost"]} if ws["calls_lost"] else {}
    assert result.failures == {("protocol_error", "oversize_message"): failed, **lost}
    most = max(int(row["rss_bytes"]) for row in result.ws_rows)
    assert most < 120 * 2**20 + users * limit, most  # Locust itself, then at most one message per user (was 440 MB)
    assert "may be buffered at once" not in result.output


def test_users_times_a_message_limit_over_the_machines_memory_is_warned_once(tmp_path: Path) -> None:
    with hostile_server("--mode", "huge-seq") as server:
        result = hostile_run(tmp_path, server, "--max-message-bytes", str(2**50))
    warnings = [line for line in result.output.splitlines() if "may be buffered at once" in line]
    assert len(warnings) == 1 and f"{USERS} users x --max-message-bytes {2**50} = " in warnings[0], warnings
    ledger_closes(result)


def test_jsonrpc_responses_with_both_result_and_error_fail_their_calls_as_invalid(tmp_path: Path) -> None:
    with hostile_server("--mode", "rpc-both", "--protocol", "jsonrpc") as server:
        result = hostile_run(tmp_path, server, "--protocol", "jsonrpc")
        sessions, totals = server.sessions(), server.totals()
    ws = ledger_closes(result)
    assert sessions == USERS and totals.answered > 0
    assert ws["calls_ok"] == 0 and ws["calls_failed"] == ws["protocol_errors"] == totals.answered
    assert result.failures[("call_tool:echo", "jsonrpc:invalid_response")] == totals.answered
    assert result.failures[("protocol_error", "invalid_response")] == totals.answered


def test_jsonrpc_batch_answers_settle_every_call_they_hold(tmp_path: Path) -> None:
    with hostile_server("--mode", "rpc-batch", "--protocol", "jsonrpc", "--after", "3") as server:
        result = hostile_run(tmp_path, server, "--protocol", "jsonrpc", "--in-flight", "3")
        sessions, totals = server.sessions(), server.totals()
    ws = ledger_closes(result)
    assert sessions == USERS and totals.answered > 0 and totals.answered % 3 == 0
    assert ws["calls_ok"] == totals.answered and ws["protocol_errors"] == ws["calls_timeout"] == 0
    assert ws["messages_received"] == totals.answered // 3  # one message per batch
