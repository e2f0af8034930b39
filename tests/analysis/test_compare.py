"""analysis.compare: a run against a server slowed with the sleep tool is flagged; equal runs are not."""

from __future__ import annotations

import pytest

from analysis.compare import HIGHER, LOWER, compare, comparison_line, is_regression
from analysis.compute import summarize
from analysis.load import load_run
from tests.analysis.helpers import FIXTURES


@pytest.fixture(scope="module")
def fast():
    return summarize(load_run(FIXTURES / "fast" / "run"))


@pytest.fixture(scope="module")
def slow():
    return summarize(load_run(FIXTURES / "slow" / "run"))


@pytest.mark.parametrize(
    ("better", "base", "candidate", "limit", "floor", "regression"),
    [
        (HIGHER, 100.0, 91.0, 0.10, 0.0, False),
        (HIGHER, 100.0, 89.0, 0.10, 0.0, True),
        (LOWER, 10.0, 10.9, 0.10, 0.0, False),
        (LOWER, 10.0, 11.5, 0.10, 0.0, True),
        (LOWER, 0.20, 0.28, 0.10, 0.1, False),  # +40% but only 0.08 ms: below the floor
        (LOWER, 0.20, 0.35, 0.10, 0.1, True),
        (HIGHER, 100.0, float("nan"), 0.10, 0.0, True),  # the candidate lost the metric
        (LOWER, float("nan"), 5.0, 0.10, 0.0, False),  # nothing to compare with
    ],
)
def test_is_regression(
    better: str, base: float, candidate: float, limit: float, floor: float, regression: bool
) -> None:
    assert is_regression(better, base, candidate, limit, floor) is regression


def test_the_slowed_run_regresses_on_throughput_and_latency(fast, slow) -> None:
    comparison = compare(fast, slow, max_regression=0.10)
    flagged = {m.name for m in comparison.regressions}
    assert flagged == {"messages/s (mean)", "calls/s (mean)", "call p50", "call p99"}
    messages = next(m for m in comparison.metrics if m.name == "messages/s (mean)")
    assert messages.change == pytest.approx(slow.throughput.messages.mean / fast.throughput.messages.mean - 1)
    assert comparison_line(comparison).startswith("REGRESSION beyond 10%: messages/s (mean) 3,517 -> 459 (-86.9%)")


def test_the_other_way_round_is_an_improvement(fast, slow) -> None:
    assert compare(slow, fast).regressions == []


def test_a_run_against_itself_has_no_regression(fast) -> None:
    comparison = compare(fast, fast, max_regression=0.0)
    assert comparison.regressions == []
    assert comparison_line(comparison).startswith("NO REGRESSION beyond 0%")


def test_only_throughput_and_p50_p99_are_checked(fast) -> None:
    checked = [m.name for m in compare(fast, fast).metrics if m.checked]
    assert checked == ["messages/s (mean)", "calls/s (mean)", "call p50", "call p99"]
