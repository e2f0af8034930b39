"""analysis.compute: rates, percentiles, accounting and verdicts checked against answers worked out by hand."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from analysis.compute import (
    CALLS,
    DEFAULT_TARGETS,
    MEAN_ALL,
    MEAN_CALLS,
    WINDOWED,
    RateCheck,
    Target,
    error_code,
    failures_by_code,
    increasing,
    interval_mean_latency,
    interval_rates,
    judged_targets,
    latency_table,
    min_samples,
    mix_percentiles,
    non_call_activity,
    outlier_notes,
    overshoot_notes,
    percentile_knots,
    rate_checks,
    rate_overshoots,
    rate_stat,
    summarize,
    target_specs,
    verdict,
    worst_interval,
)
from analysis.load import load_run, read_failures
from analysis.run_thresholds import stage_rate
from analysis.thresholds import NameFigures, RunFigures
from tests.analysis.helpers import FIXTURES, STATS_HEADER, copy_run, write_ws, ws_row


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def two_speed_run(tmp_path: Path, stages: list[str] | None = None) -> Path:
    """20 rows a second apart: 100 calls/s for 10 s, then 300 calls/s; each call one message each way."""
    prefix = copy_run("fast", tmp_path)
    lines, calls = [], 0
    for second in range(1, 21):
        calls += 100 if second <= 10 else 300
        stage = stages[second - 1] if stages else ""
        lines.append(ws_row(second, stage, calls_sent=calls, calls_ok=calls, messages_sent=calls,
                            messages_received=calls))  # fmt: skip
    write_ws(prefix, lines)
    return prefix


# --- throughput ---------------------------------------------------------------------------------------------------


def test_mean_and_ten_second_peak_from_counter_differences(tmp_path: Path) -> None:
    summary = summarize(load_run(two_speed_run(tmp_path)))
    tput = summary.throughput
    assert tput.duration_s == pytest.approx(20.0)
    assert tput.calls.mean == pytest.approx(4000 / 20)
    assert tput.calls.peak_10s == pytest.approx(300.0)  # seconds 10..20
    assert tput.messages.mean == pytest.approx(400.0)
    assert tput.messages.peak_10s == pytest.approx(600.0)
    assert tput.sent.mean == pytest.approx(200.0) and tput.received.peak_10s == pytest.approx(300.0)
    assert tput.series["calls_per_s"].tolist() == pytest.approx([100.0] * 9 + [300.0] * 10)  # from the first row
    assert tput.series["elapsed_s"].iloc[0] == 2.0 and tput.series["interval_s"].iloc[0] == 1.0


def test_peak_window_spans_ten_seconds_of_rows_with_jitter() -> None:
    elapsed = pd.Series([0.0, 1.0, 5.0, 9.6, 10.2, 15.0])
    count = pd.Series([0.0, 10.0, 50.0, 96.0, 400.0, 450.0])
    stat = rate_stat(elapsed, count)
    # windows of >= 9.5 s: (0 -> 9.6) = 10/s, (0 -> 10.2) = 39.2/s, (5.0 -> 15.0) = 40/s
    assert stat.peak_10s == pytest.approx(40.0)
    assert stat.mean == pytest.approx(450 / 15)


def test_a_run_shorter_than_the_window_reports_its_mean_as_peak() -> None:
    stat = rate_stat(pd.Series([0.0, 1.0, 2.0]), pd.Series([0.0, 5.0, 30.0]))
    assert stat.mean == stat.peak_10s == pytest.approx(15.0)


def test_real_run_throughput_matches_the_raw_ws_csv() -> None:
    last = rows(FIXTURES / "fast" / "run_ws.csv")[-1]
    tput = summarize(load_run(FIXTURES / "fast" / "run")).throughput
    elapsed = float(last["elapsed_s"])
    assert tput.source == "ws"
    assert tput.calls.mean == pytest.approx(int(last["calls_ok"]) / elapsed)
    messages = int(last["messages_sent"]) + int(last["messages_received"])
    assert tput.messages.mean == pytest.approx(messages / elapsed)


def test_without_ws_csv_messages_are_two_per_call_from_the_history(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_ws.csv").unlink()
    history = rows(FIXTURES / "fast" / "run_stats_history.csv")
    echo = [r for r in history if r["Name"] == "call_tool:echo"]
    duration = int(history[-1]["Timestamp"]) - int(history[0]["Timestamp"])
    tput = summarize(load_run(prefix)).throughput
    assert tput.source == "history"
    assert tput.calls.mean == pytest.approx(int(echo[-1]["Total Request Count"]) / duration)
    assert tput.messages.mean == pytest.approx(2 * tput.calls.mean)
    assert any("two per call" in note for note in tput.notes)


def test_stage_spans_run_from_a_stage_s_first_row_to_the_next_stage_s(tmp_path: Path) -> None:
    stages = ["ramp"] * 5 + [""] * 5 + ["steady"] * 10  # rows at 1..20 s
    summary = summarize(load_run(two_speed_run(tmp_path, stages)))
    ramp, steady = summary.stages
    assert (ramp.stage, ramp.start_s, ramp.end_s) == ("ramp", 0.0, 6.0)  # the first stage from 0 s
    assert ramp.calls_per_s == pytest.approx(600 / 6)
    assert (steady.stage, steady.start_s, steady.end_s) == ("steady", 11.0, 20.0)  # the last to its last row
    assert steady.calls_per_s == pytest.approx((4000 - 1300) / 9)
    assert steady.messages_per_s == pytest.approx(600.0)


# --- latency ------------------------------------------------------------------------------------------------------


def test_mixing_one_distribution_returns_its_own_percentiles() -> None:
    stats = load_run(FIXTURES / "fast" / "run").stats
    echo = stats[stats["name"] == "call_tool:echo"].iloc[0]
    knots = percentile_knots(echo)
    assert mix_percentiles([(7313, knots)], [0.5, 0.9, 0.99, 0.999]) == pytest.approx([0.28, 3.23, 14.1, 34.3])


def test_mixing_two_uniform_distributions() -> None:
    low = [(q / 10, q * 1.0) for q in range(11)]  # uniform on 0..10 ms
    high = [(q / 10, 10.0 + q) for q in range(11)]  # uniform on 10..20 ms
    assert mix_percentiles([(1, low), (1, high)], [0.25, 0.5, 0.9]) == pytest.approx([5.0, 10.0, 18.0])
    # three times as many fast calls: the 75th percentile is the top of the fast ones
    assert mix_percentiles([(3, low), (1, high)], [0.75]) == pytest.approx([10.0])


def test_latency_table_has_every_name_and_all_calls_combined() -> None:
    table = latency_table(load_run(FIXTURES / "errors" / "run").stats)
    assert list(table.index) == ["call_tool:echo", "call_tool:fail", "call_tool:sleep", "connect", "hello", CALLS]
    calls = table.loc[CALLS]
    assert calls["requests"] == 4614 + 559 + 593
    assert calls["max"] == pytest.approx(230.720363)
    tools = table.loc[["call_tool:echo", "call_tool:fail", "call_tool:sleep"]]
    for column in ("p50", "p99"):  # a mixture lies between its parts
        assert tools[column].min() <= calls[column] <= tools[column].max()


def test_zeros_in_history_mean_no_window_yet() -> None:
    summary = summarize(load_run(FIXTURES / "fast" / "run"))
    frame = summary.latency_over_time
    assert frame["p50"].isna().iloc[0]  # Locust writes 0 before its 10 s window has data
    assert frame["p50"].notna().iloc[1:].all()
    assert frame["p50"].iloc[-1] == pytest.approx(0.27)


# --- failures, accounting, verdict ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("tool_failed", "tool_failed"),
        ("connect_failed: ConnectionRefusedError: [Errno 111] refused", "connect_failed"),
        ("timeout", "timeout"),
        ("CatchResponseError('boom')", "CatchResponseError"),
        ("500 Server Error: x", "500 Server Error: x"),
    ],
)
def test_error_codes(message: str, code: str) -> None:
    assert error_code(message) == code


def test_failures_group_by_code_and_name(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(
        "Method,Name,Error,Occurrences\nWS,call_tool:a,timeout,2\nWS,connect,connect_failed: refused,1\n"
        "WS,connect,connect_failed: reset,4\nWS,call_tool:a,tool_failed,9\n"
    )
    table = failures_by_code(read_failures(path))
    assert table[["code", "name", "occurrences"]].values.tolist() == [
        ["tool_failed", "call_tool:a", 9], ["connect_failed", "connect", 5], ["timeout", "call_tool:a", 2],
    ]  # fmt: skip


def test_ledger_and_success_rate(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    write_ws(prefix, [ws_row(1, calls_sent=1003, calls_ok=990, calls_failed=5, calls_timeout=3, calls_lost=2,
                             calls_in_flight=3)])  # fmt: skip
    summary = summarize(load_run(prefix))
    assert summary.ledger is not None and summary.ledger.holds
    assert summary.success_rate == pytest.approx(990 / 1000)
    assert (summary.calls_total, summary.calls_failed) == (1000, 10)
    assert next(t for t in summary.targets if t.name == "call success rate").ok  # exactly 99% meets ">= 99%"


def test_a_broken_ledger_is_reported(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    write_ws(prefix, [ws_row(1, calls_sent=10, calls_ok=8)])
    assert not summarize(load_run(prefix)).ledger.holds


def test_targets_and_verdict_follow_the_thresholds() -> None:
    run = load_run(FIXTURES / "fast" / "run")
    # measured: ~3,517 msg/s, call p50 0.28 / p99 14.1 ms, connect p99 8.85 ms, success 100%
    lenient = target_specs(target_msgs=3000, stretch_msgs=4000, p99_ms=15, p50_ms=0.3)
    summary = summarize(run, lenient)
    assert summary.verdict == "pass"
    assert [(t.name, t.ok) for t in summary.targets] == [
        ("messages/s (mean) floor", True), ("messages/s (mean) stretch", False), ("call p99", True),
        ("call p50", True), ("connect p99", None), ("call success rate", True),
    ]  # fmt: skip
    assert summarize(run, target_specs(target_msgs=3000, p99_ms=14.1)).verdict == "fail"  # p99 < 14.1
    # 2 connects cannot judge a p99 (8.85 ms is their max): not judged, so no FAIL
    connect = summarize(run, target_specs(target_msgs=3000, connect_p99_ms=8))
    assert connect.verdict == "pass"
    assert connect.targets[4].note == "2 samples (p99 needs ≥ 100); max 8.85 ms"


def test_the_peak_can_be_the_throughput_that_is_checked(tmp_path: Path) -> None:
    run = load_run(two_speed_run(tmp_path))
    assert summarize(run, target_specs(target_msgs=500)).targets[0].ok is False  # mean 400
    peak = summarize(run, target_specs(target_msgs=500, throughput_stat="peak_10s")).targets[0]
    assert peak.ok and peak.measured == pytest.approx(600.0) and "peak" in peak.name


def test_zero_requests_fail_without_crashing(tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    Path(f"{prefix}_stats.csv").write_text(STATS_HEADER + "\n,Aggregated,0,0,0,0.0,0,0,0,0.0,0.0" + ",N/A" * 11 + "\n")
    Path(f"{prefix}_stats_history.csv").write_text(
        (FIXTURES / "fast" / "run_stats_history.csv").read_text().split("\n")[0]
    )
    Path(f"{prefix}_failures.csv").write_text("Method,Name,Error,Occurrences,First Seen,Last Seen\n")
    write_ws(prefix, [ws_row(1.0)])
    summary = summarize(load_run(prefix))
    assert summary.verdict == "fail"
    assert math.isnan(summary.success_rate)
    assert summary.throughput.messages.mean == 0
    assert {t.name: (t.ok, t.note) for t in summary.targets}["call p99"] == (None, "no calls")  # fails on msgs/s
    assert next(t for t in summary.targets if t.name == "connect p99").ok is None  # nothing to check


def test_real_staged_run_with_a_reconnect_storm() -> None:
    raw = rows(FIXTURES / "stages" / "run_ws.csv")
    run = load_run(FIXTURES / "stages" / "run")
    assert "rss_bytes" in run.ws and "storm_drops" in run.ws  # columns added since: kept, not an error
    summary = summarize(run)
    spans = [(s.stage, round(s.start_s), round(s.end_s)) for s in summary.stages]
    assert spans == [("sustained", 0, 5), ("burst", 5, 10), ("reconnect", 10, 15)]
    first_burst = next(r for r in raw if r["stage"] == "burst")
    sustained_messages = int(first_burst["messages_sent"]) + int(first_burst["messages_received"])
    assert summary.stages[0].messages_per_s == pytest.approx(sustained_messages / float(first_burst["elapsed_s"]))
    assert summary.connections["reconnects"] == int(raw[-1]["reconnects"]) > 0
    assert summary.connections["storm_drops"] == int(raw[-1]["storm_drops"]) > 0  # newer optional columns shown
    assert "push_gaps" in summary.connections and "rss_bytes" not in summary.connections
    assert summary.ledger.holds


def test_one_history_row_and_no_ws_csv_leaves_throughput_unmeasured(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_ws.csv").unlink()
    history = Path(f"{prefix}_stats_history.csv")
    history.write_text("\n".join(history.read_text().splitlines()[:2]) + "\n")  # header + the start row
    summary = summarize(load_run(prefix))
    assert math.isnan(summary.throughput.messages.mean)
    floor = summary.targets[0]
    assert (floor.ok, floor.note) == (False, "not measured")
    assert summary.success_rate == 1.0  # from Locust's stats.csv: 7,313 calls, none failed


# --- intervals between rows ---------------------------------------------------------------------------------------


def test_rows_with_non_increasing_time_are_skipped() -> None:
    times = pd.Series([1.0, 1.5, 1.5, 1.2, 3.5, float("nan"), 4.0])
    assert increasing(times).tolist() == [True, True, False, False, True, False, True]


def test_rates_use_the_time_between_rows_never_one_second(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    # irregular rows: 0.5 s, 2 s, a repeat of 3.5 s and a row back in time (both skipped), then 0.25 s
    spec = [(1.0, 100), (1.5, 150), (3.5, 350), (3.5, 360), (3.0, 370), (3.75, 400)]
    write_ws(prefix, [ws_row(t, calls_sent=n, calls_ok=n, messages_sent=n, messages_received=n) for t, n in spec])
    series = summarize(load_run(prefix)).throughput.series
    assert series["elapsed_s"].tolist() == [1.5, 3.5, 3.75]  # the first interval starts at the first row
    assert series["interval_s"].tolist() == pytest.approx([0.5, 2.0, 0.25])
    assert series["calls_per_s"].tolist() == pytest.approx([100.0, 100.0, 200.0])  # (400 - 350) / 0.25
    assert series["messages_per_s"].tolist() == pytest.approx([200.0, 200.0, 400.0])
    summary = summarize(load_run(prefix))
    assert summary.throughput.calls.mean == pytest.approx(400 / 3.75)  # the counters start at 0 with the run
    assert summary.errors_over_time["elapsed_s"].tolist() == [1.5, 3.5, 3.75]
    assert summary.connections_over_time["elapsed_s"].tolist() == [1.0, 1.5, 3.5, 3.75]  # no made-up 0 s row


def test_interval_rates_of_a_single_row_are_empty() -> None:
    rates = interval_rates(pd.Series([2.0]), pd.DataFrame({"calls": [10.0]}))
    assert rates.empty and list(rates.columns) == ["elapsed_s", "interval_s", "calls"]


# --- percentile targets on few samples ----------------------------------------------------------------------------


@pytest.mark.parametrize(("quantile", "needed"), [(0.5, 20), (0.9, 20), (0.95, 20), (0.99, 100), (0.999, 1000)])
def test_minimum_samples_per_percentile(quantile: float, needed: int) -> None:
    assert min_samples(quantile) == needed


def connect_target(requests: int, p99: float, maximum: float) -> Target:
    """The connect p99 target (10 ms) judged on `requests` connects with this p99 and max."""
    names = {"connect": NameFigures(requests, 0, {"p50": 1.0, "p99": p99, "max": maximum})}
    rows = judged_targets(DEFAULT_TARGETS, (), RunFigures(names=names, duration_s=1.0))
    return next(t for t in rows if t.key == "connect_p99")


def test_a_p99_of_few_samples_is_not_judged_and_says_so() -> None:
    target = connect_target(20, 35.6, 35.6)
    assert target.ok is None and target.gates and target.threshold == "connect:p99<10ms"
    assert target.note == "20 samples (p99 needs ≥ 100); max 35.6 ms" and target.measured == 35.6
    assert verdict([target]) == "pass"
    judged = connect_target(100, 35.6, 40.0)
    assert judged.ok is False and verdict([judged]) == "fail"


# --- rate targets -------------------------------------------------------------------------------------------------


def rate_target(check: RateCheck) -> Target:
    """The report's rate target (rate_error<=5%) judged on one RateCheck."""
    figures = RunFigures(names={}, duration_s=1.0, stage_rates=(stage_rate(check),))
    return next(t for t in judged_targets(DEFAULT_TARGETS, (), figures) if t.key == "rate")


def rate_rows(spec: list[tuple[float, str, float, int]]) -> pd.DataFrame:
    """PREFIX_ws.csv-like rows from (elapsed_s, stage, rate_target, calls_sent)."""
    return pd.DataFrame(spec, columns=["elapsed_s", "stage", "rate_target", "calls_sent"])


def test_rate_is_checked_from_three_seconds_after_the_stage_s_first_row() -> None:
    # ramp-up: 100 calls in the first 3 s, then 1,000 calls/s from 4 s to 9 s; a rate-less stage after it
    spec = [(1.0, "rate", 1000, 0), (2.0, "rate", 1000, 20), (3.0, "rate", 1000, 60), (4.0, "rate", 1000, 100)]
    spec += [(t, "rate", 1000, 100 + 1000 * (t - 4)) for t in (5.0, 6.5, 9.0)]
    spec += [(10.0, "closed", 0, 7000)]
    (check,) = rate_checks(rate_rows(spec))
    assert (check.stage, check.rate_target, check.first_s, check.window_start_s, check.last_s) == (
        "rate", 1000, 1.0, 4.0, 9.0
    )  # fmt: skip
    assert check.achieved == pytest.approx(1000.0) and check.calls == 5000
    target = rate_target(check)
    assert target.name == "calls/s vs rate target (rate, 1-9 s)" and target.ok is True
    assert target.comparison == "±5%"


def test_each_stage_and_rate_change_is_checked_on_its_own() -> None:
    spec = [(float(t), "step", 100, 100 * t) for t in range(1, 7)]  # 100/s for 1..6 s
    spec += [(float(t), "step", 200, 600 + 180 * (t - 6)) for t in range(7, 13)]  # 180/s against 200
    spec += [(float(t), "short", 300, 1500 + 300 * (t - 12)) for t in range(13, 15)]  # too short to judge
    spec += [(15.0, "", 300, 5000)]  # after the plan's last stage: not a stage
    first, second, third = (rate_target(c) for c in rate_checks(rate_rows(spec)))
    assert first.ok is True and first.measured == pytest.approx(100.0)
    assert second.ok is False and second.measured == pytest.approx(180.0)  # 10% short
    assert third.ok is None and third.name == "calls/s vs rate target (short, 13-14 s)"
    assert third.note == "1.0 s of rows, needs ≥ 4.5 s (the first 3 s not judged)"
    assert verdict([first, third]) == "pass" and verdict([first, second]) == "fail"


def test_a_run_without_stage_names_is_checked_as_one_stretch() -> None:
    (check,) = rate_checks(rate_rows([(float(t), "", 100, 100 * t) for t in range(1, 8)]))
    assert rate_target(check).name == "calls/s vs rate target (1-7 s)" and check.achieved == pytest.approx(100.0)


def test_the_settling_window_allows_for_row_jitter() -> None:
    times = [7.001, 8.002, 9.002, 10.001, 11.002, 12.001, 13.003]  # a real run's rows: 10.001 is 3 s after 7.001
    (check,) = rate_checks(rate_rows([(t, "rate", 300, round(300 * t)) for t in times]))
    assert check.window_start_s == 10.001


def test_a_rate_above_the_target_fails_too() -> None:
    spec = [(float(t), "rate", 100, 106 * t) for t in range(1, 9)]  # 6% over
    (check,) = rate_checks(rate_rows(spec))
    assert rate_target(check).ok is False
    assert rate_checks(rate_rows([(1.0, "", 0, 10), (2.0, "", 0, 20)])) == []  # no rate target: nothing to check


def test_rate_checks_skip_rows_with_non_increasing_time() -> None:
    spec = [(float(t), "rate", 100, 100 * t) for t in range(1, 8)]
    spec.insert(5, (5.0, "rate", 100, 10_000))  # a repeated time would make 9,500 calls in no time
    (check,) = rate_checks(rate_rows(spec))
    assert check.achieved == pytest.approx(100.0)


# --- latency over time --------------------------------------------------------------------------------------------


def test_without_full_history_the_chart_is_the_interval_mean_of_calls_alone() -> None:
    summary = summarize(load_run(FIXTURES / "nofull" / "run"))
    assert summary.latency_over_time_kind == MEAN_CALLS
    frame = summary.latency_over_time
    assert frame[["p50", "p90", "p99", "p99.9"]].isna().all().all()  # Locust wrote cumulative percentiles only
    # history rows 577..581 (count, average ms); 4 connects/hellos before 579.989 s: the first two intervals hold them
    assert frame["mean"].isna().tolist() == [True, True, False, False]
    third = (19086 * 0.45628160688484165 - 13550 * 0.4287697008115466) / (19086 - 13550)
    fourth = (22640 * 0.47949701285400775 - 19086 * 0.45628160688484165) / (22640 - 19086)
    assert frame["mean"].iloc[2:].tolist() == pytest.approx([third, fourth])


def test_interval_mean_latency_from_cumulative_counts_and_averages() -> None:
    aggregated = pd.DataFrame(
        {"timestamp_s": [100.0, 101.0, 101.0, 103.0, 104.0], "total_requests": [10, 30, 30, 30, 70],
         "total_avg_ms": [1.0, 2.0, 2.0, 2.0, 3.0]}
    )  # fmt: skip
    frame = interval_mean_latency(aggregated, origin=99.5)
    assert frame["elapsed_s"].tolist() == [1.5, 3.5, 4.5]  # the repeated 101 s row is skipped
    # (30 * 2 - 10 * 1) / 20 = 2.5 ms; no requests from 101 to 103 s: no mean; (70 * 3 - 30 * 2) / 40 = 3.75 ms
    assert frame["mean"].tolist()[0] == pytest.approx(2.5) and math.isnan(frame["mean"].iloc[1])
    assert frame["mean"].iloc[2] == pytest.approx(3.75)
    busy = interval_mean_latency(aggregated, 99.5, busy=lambda t0, t1: t0 <= 103.0 < t1)
    assert math.isnan(busy["mean"].iloc[2]) and busy["mean"].iloc[0] == pytest.approx(2.5)


def test_connect_and_hello_activity_is_judged_from_the_ws_counters() -> None:
    ws = pd.DataFrame({"elapsed_s": [1.0, 2.0, 3.0, 4.0], "connects": [2, 2, 3, 3], "hellos_ok": [2, 2, 2, 3]})
    busy = non_call_activity(ws, origin=1000.0)
    assert busy(1000.0, 1001.0)  # the first connects happened by the first row
    assert not busy(1001.0, 1002.0)
    assert busy(1001.5, 1002.5)  # rows at or before 1001.5 and at or after 1002.5: 1001 s and 1003 s
    assert busy(1003.0, 1004.0) and not busy(1004.0, 1009.0)  # after the last row: nothing more
    assert non_call_activity(None, 1000.0) is None


def test_without_a_ws_csv_the_interval_mean_says_it_includes_connects(tmp_path: Path) -> None:
    prefix = copy_run("nofull", tmp_path)
    Path(f"{prefix}_ws.csv").unlink()
    summary = summarize(load_run(prefix))
    assert summary.latency_over_time_kind == MEAN_ALL
    assert summary.latency_over_time["mean"].notna().all()  # connect/hello intervals included, as it says


def test_with_full_history_the_chart_has_windowed_call_percentiles() -> None:
    summary = summarize(load_run(FIXTURES / "fast" / "run"))
    assert summary.latency_over_time_kind == WINDOWED and "call_tool" in WINDOWED


def test_an_interval_beyond_twice_the_median_is_named() -> None:
    series = pd.DataFrame(
        {"elapsed_s": [1.0, 2.0, 3.0, 3.25], "interval_s": [1.0, 1.0, 1.0, 0.25], "calls_per_s": [100, 110, 90, 700]}
    )
    (note,) = outlier_notes(series)
    assert note.startswith("busiest interval 3.0-3.2 s (0.25 s): 700 calls/s, 6.7x the median interval (105 calls/s)")
    assert outlier_notes(series.iloc[:3]) == []  # 110 against a median of 100
    worst, median = worst_interval(series)
    assert worst["elapsed_s"] == 3.25 and median == 105.0


def test_intervals_above_their_rate_target_are_named() -> None:
    spec = [(float(t), "rate", 300, 300 * t) for t in range(1, 6)]  # 300/s held
    spec += [(6.0, "", 300, 1800), (6.25, "", 300, 2300)]  # after the last stage: 500 calls in 0.25 s
    overshoots = rate_overshoots(rate_rows(spec))
    assert overshoots.to_dict("records") == [
        {"elapsed_s": 6.25, "interval_s": 0.25, "calls_per_s": 2000.0, "rate_target": 300.0}
    ]
    (note,) = overshoot_notes(overshoots)
    assert note.endswith("the worst, 6.0-6.2 s, 2,000 calls/s against 300 (6.7x)")
    # 1.6x the target but 3 calls over it in 0.05 s: noise, not named
    assert rate_overshoots(rate_rows([(1.0, "r", 100, 100), (1.05, "r", 100, 108)])).empty
    assert rate_overshoots(rate_rows([(1.0, "", 0, 10), (2.0, "", 0, 5000)])).empty  # no target, nothing over it


def test_the_rate_fixture_names_the_unpaced_tail_after_its_last_stage() -> None:
    summary = summarize(load_run(FIXTURES / "rate" / "run"))
    (tail,) = summary.rate_overshoots.to_dict("records")
    assert tail["elapsed_s"] == 14.225 and tail["calls_per_s"] == pytest.approx((4670 - 4210) / 0.223)
    assert any("sent more than 1.5x their rate target" in note for note in summary.throughput.notes)


def test_percentiles_are_clamped_to_the_exact_max() -> None:
    """The fixture's connect row: every percentile bucket 8.85 ms, its exact max 8.8455 ms."""
    from analysis.compute import latency_table

    table = latency_table(load_run(FIXTURES / "fast" / "run").stats)
    connect = table.loc["connect"]
    assert connect["max"] == pytest.approx(8.845510999890394)
    assert all(connect[label] <= connect["max"] for label in ("p50", "p90", "p95", "p99", "p99.9"))
    assert connect["p99"] == connect["max"]
