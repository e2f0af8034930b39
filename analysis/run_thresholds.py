"""A run's CSVs as the RunFigures thresholds are judged on: the live run's figures, plus the report's own."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from analysis.latency import REPORTED_PERCENTILES
from analysis.load import Run
from analysis.rate_checks import MIN_RATE_WINDOW_S, RATE_SETTLE_S, RateCheck
from analysis.thresholds import (
    LATENCY_METRICS,
    NameFigures,
    RunFigures,
    StageRate,
)
from analysis.throughput import Throughput

ALL_CALLS = "calls"
"""The request name that stands for all calls in the report's thresholds (`calls:p99<100ms`)."""

_COLUMNS = {m: ("avg_ms" if m == "avg" else "max_ms" if m == "max" else f"{m}_ms") for m in LATENCY_METRICS}


def _number(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)  # type: ignore[arg-type]


def run_figures(run: Run) -> RunFigures:
    """Per-name figures from PREFIX_stats.csv; duration, messages and the ledger from the last PREFIX_ws.csv row."""
    names: dict[str, NameFigures] = {}
    for _, row in run.stats.iterrows():
        if row["name"] == "Aggregated":
            continue
        requests = int(row["requests"])
        latency = {m: (_number(row[c]) if requests and c in row else None) for m, c in _COLUMNS.items()}
        names[str(row["name"])] = NameFigures(requests, int(row["failures"]), latency)
    if run.ws is None or run.ws.empty:
        return RunFigures(names=names, duration_s=_history_span(run.history))
    last = run.ws.iloc[-1]

    def count(key: str) -> int:
        return int(last[key]) if key in last and not pd.isna(last[key]) else 0

    settled = sum(count(k) for k in ("calls_ok", "calls_failed", "calls_timeout", "calls_lost"))
    ledger = "calls_ok" in last
    return RunFigures(
        names=names,
        duration_s=float(last["elapsed_s"]),
        messages=count("messages_sent") + count("messages_received"),
        calls_settled=settled if ledger else None,
        calls_not_ok=settled - count("calls_ok") if ledger else None,
    )


def _history_span(history: pd.DataFrame) -> float:
    if history.empty:
        return 0.0
    return float(history["timestamp_s"].max() - history["timestamp_s"].min())


def report_figures(
    run: Run,
    tput: Throughput,
    latency: pd.DataFrame,
    call_row: str | None,
    checks: list[RateCheck],
    calls: tuple[int, int],
) -> RunFigures:
    """The figures the report judges its targets and thresholds on: run_figures, with msgs/s (mean and 10 s peak)
    from `tput`, the calls settled and not ok of the report, `calls` as the latency table's `call_row` (all tools
    mixed, or the one tool) and each stage's rate check."""
    figures = run_figures(run)
    names = dict(figures.names)
    if call_row is not None and call_row in latency.index:
        row = latency.loc[call_row]
        metrics = {label: _number(row[label]) for label, _ in REPORTED_PERCENTILES}
        names[ALL_CALLS] = NameFigures(
            int(row["requests"]), int(row["failures"]), {**metrics, "max": _number(row["max"])}
        )
    return replace(
        figures,
        names=names,
        calls_settled=calls[0],
        calls_not_ok=calls[1],
        msgs_per_s=tput.messages.mean,
        msgs_peak_per_s=tput.messages.peak_10s,
        stage_rates=tuple(stage_rate(check) for check in checks),
    )


def stage_rate(check: RateCheck) -> StageRate:
    """A RateCheck as the threshold judge reads it; not judged (achieved None) when its window is too short."""
    where = f"{check.stage}, " if check.stage else ""
    label = f"{where}{check.first_s:.0f}-{check.last_s:.0f} s"
    if math.isnan(check.achieved):
        needed = RATE_SETTLE_S + MIN_RATE_WINDOW_S
        span = check.last_s - check.first_s
        note = f"{span:.1f} s of rows, needs ≥ {needed:g} s (the first {RATE_SETTLE_S:g} s not judged)"
        return StageRate(check.stage, label, check.rate_target, None, note)
    note = f"{check.calls:,} calls sent in {check.window_s:.1f} s from {check.window_start_s:.1f} s"
    return StageRate(check.stage, label, check.rate_target, check.achieved, note)
