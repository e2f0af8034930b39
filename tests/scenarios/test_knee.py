"""Knee judgement from histogram deltas, against values worked out by hand."""

from __future__ import annotations

from scenarios.knee import StepWindow, judge_step


def test_within_limits() -> None:
    window = StepWindow({1.0: 990, 50.0: 10}, requests=1000, failures=5)
    verdict = judge_step(window, step_index=2, users=30, rate=None, p99_limit_ms=100, error_limit=0.01)
    assert verdict.crossed is None and verdict.p99_ms == 1.0
    assert verdict.describe() == "step 2 (30 users): p99 1 ms, errors 0.50% over 1000 calls; within limits"


def test_p99_crossing() -> None:
    window = StepWindow({1.0: 980, 150.0: 20}, requests=1000, failures=0)
    verdict = judge_step(window, step_index=4, users=50, rate=2000.0, p99_limit_ms=100, error_limit=0.01)
    assert verdict.crossed == "p99 150 ms > 100 ms"
    assert "50 users, 2000 calls/s" in verdict.describe()


def test_error_rate_crossing_and_empty_step() -> None:
    window = StepWindow({1.0: 100}, requests=100, failures=2)
    assert judge_step(window, step_index=0, users=1, rate=None, p99_limit_ms=100, error_limit=0.01).crossed == (
        "error rate 2.00% > 1.00%"
    )
    empty = judge_step(StepWindow({}, 0, 0), step_index=0, users=1, rate=None, p99_limit_ms=1, error_limit=0.01)
    assert empty.crossed is None and empty.p99_ms is None
