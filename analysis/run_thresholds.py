"""Thresholds judged after a run, from its CSVs: the same RunFigures the live run judges (analysis.thresholds)."""

from __future__ import annotations

import math

import pandas as pd

from analysis.load import Run
from analysis.thresholds import LATENCY_METRICS, Judgement, NameFigures, RunFigures, Threshold, judge_all

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


def judge_run(run: Run, thresholds: list[Threshold]) -> list[Judgement]:
    """Every threshold judged on the finished run."""
    return judge_all(thresholds, run_figures(run))
