"""The end-of-run summary: ledger, rates, latency per name, and the reference server's agreement."""

from __future__ import annotations

from analysis.thresholds import NameFigures
from users.telemetry.summary import ServerCheck, server_agrees, server_delta, summary_lines

COUNTERS = {
    "calls_sent": 1000, "calls_ok": 990, "calls_failed": 6, "calls_timeout": 0, "calls_lost": 4, "calls_in_flight": 0,
    "messages_sent": 1002, "messages_received": 998,
}  # fmt: skip


def test_lines_show_the_ledger_rates_and_latency_per_name() -> None:
    names = {
        "call_tool:echo": NameFigures(1000, 10, {"p50": 0.25, "p90": 0.5, "p99": 2.0, "p99.9": 4.0, "max": 9.5}),
        "connect": NameFigures(4, 0, {"p50": 3.0, "p90": 3.0, "p99": 3.0, "p99.9": 3.0, "max": 3.0}),
        "hello": NameFigures(0, 0, {}),
    }
    lines = summary_lines(COUNTERS, 4.0, names)
    assert lines[0] == "summary   4.0 s"
    assert lines[1] == "ledger    sent 1,000 = ok 990 + failed 6 + timeout 0 + lost 4 (holds)"
    assert lines[2] == "calls     250 calls/s settled"
    assert lines[3] == "messages  500 msg/s (sent 250/s + received 250/s)"
    assert lines[5].split() == ["call_tool:echo", "1,000", "10", "0.25", "0.50", "2.00", "4.00", "9.50"]
    assert lines[6].split()[0] == "connect" and len(lines) == 7  # a name without requests is left out


def test_a_ledger_that_does_not_close_says_so() -> None:
    lines = summary_lines({**COUNTERS, "calls_in_flight": 3, "calls_sent": 1003}, 1.0, {})
    assert lines[1].endswith("(3 still in flight)")


def test_the_server_counts_only_this_run() -> None:
    before = {"calls_received": 500, "results_ok": 500}
    check = server_delta(before, {"calls_received": 1497, "results_ok": 1490}, "")
    assert check == ServerCheck(997, 990)
    assert server_agrees(COUNTERS, check)  # 3 of the 4 lost calls reached the server
    assert not server_agrees(COUNTERS, ServerCheck(1001, 990))
    assert not server_agrees(COUNTERS, ServerCheck(1000, 989))
    assert summary_lines(COUNTERS, 1.0, {}, check)[-1] == "server    997 calls received, 990 ok: agrees with the client"
    missing = server_delta(None, {"calls_received": 1}, "no /stats answer from http://127.0.0.1:9")
    assert summary_lines(COUNTERS, 1.0, {}, missing)[-1].endswith(
        "not checked: no /stats answer from http://127.0.0.1:9"
    )


def test_sessions_per_second_are_a_line_of_their_own_only_with_session_churn() -> None:
    lines = summary_lines({**COUNTERS, "sessions": 250}, 4.0, {})
    assert lines[4] == "sessions  250 closed after their calls, 62.5 sessions/s"
    assert not any(line.startswith("sessions") for line in summary_lines({**COUNTERS, "sessions": 0}, 4.0, {}))
    late = summary_lines({**COUNTERS, "sessions": 250, "sessions_late": 12}, 4.0, {})[4]
    assert late == "sessions  250 closed after their calls, 62.5 sessions/s, 12 started late"
