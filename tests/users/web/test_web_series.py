"""The WebSocket view's data (users.web.web_series): points, windowed rates, latency, stages, final totals; time passed in."""

from __future__ import annotations

import pytest

from analysis.targets import DEFAULT_TARGETS, target_limit
from users.web.web_series import (
    MAX_POINTS,
    STRETCH_MSGS_PER_S,
    TARGET_MSGS_PER_S,
    RunSeries,
    merged_histogram,
    window_percentiles,
)
from users.wire.metrics import WsCounters


def counters(**values: float) -> dict[str, float]:
    base: dict[str, float] = dict(WsCounters().snapshot())
    base.update(values)
    return base


def test_targets_match_the_analysis_defaults() -> None:
    assert (TARGET_MSGS_PER_S, STRETCH_MSGS_PER_S) == (
        target_limit(DEFAULT_TARGETS, "floor"),
        target_limit(DEFAULT_TARGETS, "stretch"),
    )


def test_window_percentiles_count_only_calls_between_the_two_histograms() -> None:
    before = {1: 100, 50: 1}
    now = {1: 150, 2: 49, 50: 1, 300: 1}  # in the window: 50 x 1 ms, 49 x 2 ms, 1 x 300 ms
    assert window_percentiles(before, now, (0.5, 0.99, 1.0)) == [1.0, 2.0, 300.0]
    assert window_percentiles(now, now, (0.5,)) == [None]
    assert merged_histogram([{1: 2, 5: 1}, {1: 3}]) == {1: 5, 5: 1}


def test_points_carry_rates_over_the_window_and_gauges() -> None:
    series = RunSeries(window=2)
    series.start(1000.0, counters(), {})
    series.sample(1001.0, counters(messages_sent=100, messages_received=100, calls_ok=100, connections_open=4,
                                   calls_in_flight=3, rate_target=100.0), {1: 100}, "rate")  # fmt: skip
    series.sample(1002.0, counters(messages_sent=400, messages_received=400, calls_ok=380, calls_failed=10,
                                   calls_timeout=6, calls_lost=4, reconnects=1, connect_failures=2), {1: 390, 9: 10},
                  "rate")  # fmt: skip
    first, second = series.points
    assert first["t"] == 1.0 and first["messages_sent_per_s"] == 100 and first["calls_ok_per_s"] == 100
    assert (first["connections_open"], first["calls_in_flight"], first["rate_target"]) == (4, 3, 100.0)
    assert (first["p50_ms"], first["p99_ms"]) == (1.0, 1.0)
    # over both intervals (window 2): 400 messages sent in 2 s
    assert second["messages_sent_per_s"] == 200 and second["calls_ok_per_s"] == 190
    assert (second["calls_failed_per_s"], second["calls_timeout_per_s"], second["calls_lost_per_s"]) == (5, 3, 2)
    assert (second["reconnects"], second["connect_failures"]) == (1, 2)
    assert (second["p50_ms"], second["p99_ms"]) == (1.0, 9.0)
    series.sample(1003.0, counters(messages_sent=400, messages_received=400, calls_ok=380), {1: 390, 9: 10}, "")
    assert series.points[-1]["messages_sent_per_s"] == 150  # (400 - 100) / 2 s: the window moved on


def test_view_pages_points_and_names_the_stages() -> None:
    series = RunSeries()
    assert series.view(0, None, 0.0, None)["stage_line"] == "no scenario"
    series.start(0.0, counters(), {})
    for second, stage in enumerate(["sustained", "sustained", "burst", "reconnect"], start=1):
        series.sample(float(second), counters(), {}, stage)
    view = series.view(2, "reconnect", 500.0, "2 reporting")
    assert [p["t"] for p in view["points"]] == [3.0, 4.0] and view["next"] == 4
    assert [(s["name"], s["start_s"], s["end_s"]) for s in view["stages"]] == [
        ("sustained", 0.0, 2.0), ("burst", 2.0, 3.0), ("reconnect", 3.0, 4.0),
    ]  # fmt: skip
    assert (view["stage_line"], view["rate_target"], view["workers"]) == ("reconnect", 500.0, "2 reporting")
    assert series.view(0, None, 0.0, None)["stage_line"] == "between stages"  # the plan ended, the run goes on


def test_after_the_run_final_totals_and_mean_rates_replace_live_rates() -> None:
    series = RunSeries()
    series.start(100.0, counters(), {})
    series.sample(101.0, counters(calls_ok=10), {}, "sustained")
    series.sample(102.0, counters(calls_ok=10), {}, "reconnect")
    final_counters = counters(calls_sent=400, calls_ok=390, calls_failed=4, calls_timeout=3, calls_lost=3,
                              messages_sent=500, messages_received=300, connects=12, reconnects=8)  # fmt: skip
    series.finish(104.0, final_counters, "2 finished")
    view = series.view(0, None, 0.0, "2 finished")
    assert not view["running"] and view["stage_line"] == "finished after sustained → reconnect"
    final = view["final"]
    assert final["duration_s"] == 4.0 and final["workers"] == "2 finished"
    assert final["calls_per_s"] == 100.0 and final["messages_per_s"] == 200.0
    assert final["totals"]["calls_sent"] == 400 and final["totals"]["reconnects"] == 8
    series.sample(105.0, counters(calls_ok=999), {}, "")  # a late sample after the end changes nothing
    assert len(series.points) == 2
    series.start(200.0, counters(), {})  # a new run starts from nothing
    assert series.view(0, None, 0.0, None)["final"] is None and series.points == []


def test_a_run_without_stages_ends_as_no_scenario_and_old_points_are_dropped() -> None:
    series = RunSeries()
    series.start(0.0, counters(), {})
    for second in range(1, MAX_POINTS + 3):
        series.sample(float(second), counters(), {}, "")
    assert len(series.points) == MAX_POINTS and series.first_index == 2
    assert series.view(0, None, 0.0, None)["points"][0]["t"] == 3.0
    series.finish(float(MAX_POINTS + 3), counters(), None)
    assert series.stage_line(None) == "no scenario"
    assert series.final is not None and series.final["calls_per_s"] == pytest.approx(0.0)


def test_a_reset_counts_again_from_the_counters_it_found() -> None:
    series = RunSeries()
    series.start(100.0, counters(), {})
    series.sample(101.0, counters(calls_ok=50, calls_sent=60), {}, "")
    series.start(110.0, counters(calls_ok=500, calls_sent=520, calls_in_flight=20, connections_open=4, reconnects=7),
                 {})  # fmt: skip
    assert series.points == [] and series.started_at == 110.0
    series.sample(111.0, counters(calls_ok=510, calls_sent=530, calls_in_flight=20, connections_open=4, reconnects=8),
                  {}, "")  # fmt: skip
    assert series.points[0]["reconnects"] == 1 and series.points[0]["calls_ok_per_s"] == 10.0
    series.finish(120.0, counters(calls_ok=600, calls_sent=630, calls_in_flight=30, connections_open=4, reconnects=8),
                  None)  # fmt: skip
    totals = series.final["totals"]  # type: ignore[index]
    assert (totals["calls_ok"], totals["calls_sent"]) == (100, 110)  # counted from the reset
    assert (totals["calls_in_flight"], totals["connections_open"]) == (30, 4)  # levels stay levels
    assert series.final["calls_per_s"] == 10.0  # type: ignore[index]
