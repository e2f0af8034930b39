"""Live thresholds: figures from Locust-shaped stats, judged over time with an abort after the grace period."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from analysis.thresholds import parse_thresholds
from users.telemetry.thresholds import ThresholdWatch, name_figures, run_figures


def entry(name: str, requests: int, failures: int, p: float) -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        num_requests=requests,
        num_failures=failures,
        get_response_time_percentile=lambda fraction: p * fraction,
        avg_response_time=p / 2,
        max_response_time=p * 2,
    )


STATS = SimpleNamespace(entries={1: entry("call_tool:echo", 200, 2, 10.0), 2: entry("hello", 0, 0, 0.0)})
COUNTERS = {"calls_ok": 198, "calls_failed": 1, "calls_timeout": 1, "calls_lost": 0,
            "messages_sent": 300, "messages_received": 300}  # fmt: skip


def test_figures_per_name_and_from_the_ledger() -> None:
    figures = name_figures(STATS)
    assert set(figures) == {"call_tool:echo"}  # nothing recorded for hello
    echo = figures["call_tool:echo"]
    assert echo.latency_ms["p99"] == pytest.approx(9.9) and echo.latency_ms["p99.9"] == pytest.approx(9.99)
    assert echo.latency_ms["avg"] == 5.0 and echo.latency_ms["max"] == 20.0
    run = run_figures(STATS, COUNTERS, 3.0)
    assert (run.calls_settled, run.calls_not_ok, run.messages, run.duration_s) == (200, 2, 600, 3.0)


def test_abort_only_after_the_grace_period_and_only_once() -> None:
    watch = ThresholdWatch(parse_thresholds("p99<5ms,errors<5%"), abort=True, grace_s=5.0)
    figures = run_figures(STATS, COUNTERS, 3.0)
    judgements = watch.check(figures, elapsed_s=3.0)
    assert [j.passed for j in judgements] == [False, True]
    assert watch.failed_live == {"p99<5ms"} and watch.abort_reason is None  # within the grace period
    watch.check(figures, elapsed_s=6.0)
    assert watch.abort_reason == "threshold failed: p99<5ms: FAILED (call_tool:echo 9.9 ms)"


def test_without_abort_failures_are_only_remembered() -> None:
    watch = ThresholdWatch(parse_thresholds("msgs>=1K/s"))
    watch.check(run_figures(STATS, COUNTERS, 1.0), elapsed_s=60.0)
    assert watch.failed_live == {"msgs>=1K/s"} and watch.abort_reason is None


def test_percentiles_never_exceed_the_exact_max_with_locusts_real_buckets() -> None:
    """One 4.836 ms response: its bucket is 4.84 ms (rounded half up), its exact max 4.836 ms."""
    from locust.stats import RequestStats

    from users import integration

    assert integration.install() is True
    stats = RequestStats()
    stats.log_request("WS", "call_tool:echo", 4.836, 0)
    entry = stats.get("call_tool:echo", "WS")
    assert entry.get_response_time_percentile(0.99) > entry.max_response_time, "the rounding this guards against"
    latency = name_figures(stats).get("call_tool:echo").latency_ms
    assert latency["p99"] == latency["p99.9"] == latency["max"] == pytest.approx(4.836)
