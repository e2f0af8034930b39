"""The progress line from two samples: rates of the interval, its percentiles, failures by kind, target share."""

from __future__ import annotations

from users.telemetry.progress import Sample, progress_line

ZERO = {
    "calls_sent": 0, "calls_ok": 0, "calls_failed": 0, "calls_timeout": 0, "calls_lost": 0, "calls_in_flight": 0,
    "messages_sent": 0, "messages_received": 0, "rate_target": 0.0,
}  # fmt: skip


def test_rates_and_percentiles_cover_only_the_interval() -> None:
    before = Sample(3.0, {**ZERO, "calls_sent": 100, "calls_ok": 100, "messages_sent": 102, "messages_received": 102},
                    {1.0: 100})  # fmt: skip
    after_counters = {**ZERO, "calls_sent": 730, "calls_ok": 700, "calls_failed": 5, "calls_timeout": 2,
                      "calls_lost": 3, "calls_in_flight": 20, "messages_sent": 732, "messages_received": 712}  # fmt: skip
    histogram = {1.0: 100, 0.25: 500, 0.5: 90, 40.0: 10}  # the interval: 500 at 0.25 ms, 90 at 0.5, 10 at 40
    line = progress_line(before, Sample(5.0, after_counters, histogram), "warm-up")
    assert line == (
        "progress    5.0s | warm-up | 305 calls/s | 620 msg/s | p50 0.25 ms p99 40 ms | in flight 20 | "
        "failed 5 timeout 2 lost 3"
    )


def test_share_of_the_rate_target_and_an_empty_interval() -> None:
    before = Sample(0.0, ZERO)
    after = Sample(2.0, {**ZERO, "calls_sent": 1800, "rate_target": 1000.0})
    line = progress_line(before, after)
    assert line.endswith("| 90% of 1,000 calls/s target")
    assert "| - |" in line and "p50 - ms p99 - ms" in line


def test_an_interval_names_what_went_wrong_with_the_top_reason_and_its_count() -> None:
    before = Sample(3.0, {**ZERO, "connect_failures": 2}, errors={"connect: connect_failed: ConnectionRefusedError": 2})
    after = Sample(
        6.0,
        {**ZERO, "connect_failures": 9, "hellos_refused": 1, "closes_error": 0},
        errors={"connect: connect_failed: ConnectionRefusedError": 9, "hello: invalid_token": 1, "old: x": 4},
    )
    line = progress_line(before, after)
    assert line.endswith(
        "| failed 0 timeout 0 lost 0 | connect failed 7, hello refused 1, "
        "errors: connect: connect_failed: ConnectionRefusedError x7 (+2 other kinds)"
    )
    assert progress_line(after, after).endswith("failed 0 timeout 0 lost 0"), "nothing new: nothing named"


def test_a_long_reason_is_cut() -> None:
    after = Sample(1.0, ZERO, errors={"call_tool:echo: " + "x" * 500: 3})
    problems = progress_line(Sample(0.0, ZERO), after).split(" | ")[-1]
    assert problems.startswith("errors: call_tool:echo: xxx") and problems.endswith("... x3") and len(problems) < 260


def test_sessions_per_second_of_the_interval_only_with_session_churn() -> None:
    before = Sample(1.0, {**ZERO, "sessions": 40})
    line = progress_line(before, Sample(3.0, {**ZERO, "sessions": 340}))
    assert line.endswith("| 150 sessions/s")
    assert "sessions" not in progress_line(Sample(1.0, ZERO), Sample(3.0, ZERO))
