"""analysis.compare: a run against a server slowed with the sleep tool is flagged; equal runs are not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.compare import HIGHER, LOWER, compare, comparison_line, is_regression, run_differences, tool_mix
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


def test_only_throughput_p50_p99_and_success_rate_are_checked(fast) -> None:
    checked = [m.name for m in compare(fast, fast).metrics if m.checked]
    assert checked == ["messages/s (mean)", "calls/s (mean)", "call p50", "call p99", "call success rate"]


@pytest.fixture(scope="module")
def errors():
    return summarize(load_run(FIXTURES / "errors" / "run"))


def test_a_drop_of_the_success_rate_beyond_the_tolerance_is_a_regression(fast, errors) -> None:
    # errors: 5,207 of 5,766 calls ok (90.31%) against 100.00%
    comparison = compare(fast, errors, max_regression=5.0)  # throughput and latency may move (p50 +206%)
    assert [m.name for m in comparison.regressions] == ["call success rate"]
    assert "call success rate 100.00% -> 90.31% (-9.69 pp)" in comparison_line(comparison)
    assert compare(fast, errors, max_regression=5.0, max_success_drop=0.10).regressions == []
    assert compare(errors, fast, max_regression=5.0).regressions == []  # a higher success rate is no regression


def test_success_rate_drop_is_absolute_in_percentage_points(fast) -> None:
    worse = replace(fast, success_rate=0.994)
    assert [m.name for m in compare(fast, worse).regressions] == ["call success rate"]  # -0.6 pp > 0.5 pp
    assert compare(fast, replace(fast, success_rate=0.996)).regressions == []  # -0.4 pp


def test_differences_in_request_names_and_tool_mix_are_named(fast, errors) -> None:
    assert tool_mix(errors) == pytest.approx({"echo": 4614 / 5766, "sleep": 593 / 5766, "fail": 559 / 5766})
    assert run_differences(fast, errors) == [
        "only in candidate: call_tool:fail, call_tool:sleep",
        "tool mix differs: echo 100% vs echo 80%/sleep 10.3%/fail 9.7%",
    ]
    assert run_differences(errors, fast)[0] == "only in base: call_tool:fail, call_tool:sleep"
    assert run_differences(fast, fast) == [] and compare(fast, fast).differences == []
    line = comparison_line(compare(fast, errors))
    assert line.endswith("| runs differ: only in candidate: call_tool:fail, call_tool:sleep; tool mix differs: "
                         "echo 100% vs echo 80%/sleep 10.3%/fail 9.7%")  # fmt: skip


def test_same_tools_in_other_shares_are_a_different_mix(errors) -> None:
    latency = errors.latency.copy()
    latency.loc["call_tool:fail", "requests"] = 2 * latency.loc["call_tool:fail", "requests"]
    shifted = replace(errors, latency=latency)
    (line,) = run_differences(errors, shifted)
    assert line == "tool mix differs: echo 80%/sleep 10.3%/fail 9.7% vs echo 72.9%/fail 17.7%/sleep 9.4%"
    nudged = errors.latency.copy()
    nudged.loc["call_tool:fail", "requests"] += 50  # +0.7 percentage points: within the tolerance
    assert run_differences(errors, replace(errors, latency=nudged)) == []


def test_a_percentile_of_few_calls_is_not_compared(fast, slow) -> None:
    latency = slow.latency.copy()
    row = slow.call_latency_name
    latency.loc[row, "requests"] = 99  # p99 needs 100 samples; p50 20
    few = replace(slow, latency=latency)
    comparison = compare(fast, few)
    p99 = next(m for m in comparison.metrics if m.name == "call p99")
    p50 = next(m for m in comparison.metrics if m.name == "call p50")
    assert (p99.regression, p99.note) == (False, "n/a: 99 samples (p99 needs ≥ 100)")
    assert p50.regression and p50.note == ""
