"""Histogram totals, deltas and percentiles, against values worked out by hand."""

from __future__ import annotations

from types import SimpleNamespace

from analysis.histograms import call_totals, histogram_delta, percentile


def test_histogram_delta_keeps_only_new_counts() -> None:
    assert histogram_delta({1.0: 5, 2.0: 3, 9.0: 1}, {1.0: 5, 2.0: 1}) == {2.0: 2, 9.0: 1}


def test_percentile_by_rank() -> None:
    histogram = {float(ms): 1 for ms in range(1, 101)}  # 1..100 ms, one each
    assert percentile(histogram, 0.5) == 50.0
    assert percentile(histogram, 0.99) == 99.0
    assert percentile(histogram, 1.0) == 100.0
    assert percentile({}, 0.99) is None


def test_call_totals_sum_only_call_tool_entries() -> None:
    def entry(name: str, requests: int, failures: int, times: dict[float, int]) -> SimpleNamespace:
        return SimpleNamespace(name=name, num_requests=requests, num_failures=failures, response_times=times)

    stats = SimpleNamespace(
        entries={
            1: entry("call_tool:echo", 3, 1, {1.0: 2, 2.0: 1}),
            2: entry("call_tool:sleep", 2, 0, {2.0: 1, 5.0: 1}),
            3: entry("connect", 9, 9, {50.0: 9}),
        }
    )
    assert call_totals(stats) == ({1.0: 2, 2.0: 2, 5.0: 1}, 5, 1)
