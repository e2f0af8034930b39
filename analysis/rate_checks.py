"""Open-model rate checks: calls/s achieved against each stage's rate target, and intervals that overshot it."""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

import pandas as pd

from analysis.throughput import increasing, interval_rates

RATE_SETTLE_S = 3.0
"""The rate check starts this long after a rate segment's first row (ramp-up is not judged)."""

ROW_JITTER_S = 0.1
"""Rows are written about a second apart; a row this much early still starts the window."""

MIN_RATE_WINDOW_S = 1.5
"""A rate check needs at least this much time from its window's first row to its last, else it is not judged (rows
come about a second apart: this is two intervals, less jitter)."""


@dataclass(frozen=True)
class RateCheck:
    """Calls sent per second over one stretch of rows with the same stage and rate target, from RATE_SETTLE_S
    after its first row to its last row; `achieved` NaN when that window is shorter than MIN_RATE_WINDOW_S."""

    stage: str
    rate_target: float
    first_s: float
    last_s: float
    window_start_s: float
    achieved: float
    calls: int

    @property
    def window_s(self) -> float:
        return self.last_s - self.window_start_s if not math.isnan(self.window_start_s) else 0.0


def rate_checks(ws: pd.DataFrame | None) -> list[RateCheck]:
    """One RateCheck per contiguous stretch of rows with the same stage and a rate target above 0 (calls_sent).

    In a run with named stages, rows without a stage (after the plan's last stage) are not a stage to check.
    """
    if ws is None or "rate_target" not in ws or "calls_sent" not in ws:
        return []
    rows = ws[increasing(ws["elapsed_s"])]
    times = rows["elapsed_s"].astype(float).tolist()
    sent = rows["calls_sent"].astype(float).tolist()
    targets = [0.0 if pd.isna(r) else float(r) for r in pd.to_numeric(rows["rate_target"], errors="coerce")]
    stages = ["" if pd.isna(x) else str(x).strip() for x in rows["stage"]] if "stage" in rows else [""] * len(times)
    checks: list[RateCheck] = []
    i = 0
    while i < len(times):
        j = i
        while j + 1 < len(times) and (stages[j + 1], targets[j + 1]) == (stages[i], targets[i]):
            j += 1
        if targets[i] > 0 and (stages[i] or not any(stages)):
            checks.append(_rate_check(stages[i], targets[i], times[i : j + 1], sent[i : j + 1]))
        i = j + 1
    return checks


def _rate_check(stage: str, target: float, times: list[float], sent: list[float]) -> RateCheck:
    k = bisect_left(times, times[0] + RATE_SETTLE_S - ROW_JITTER_S)
    if k >= len(times) or times[-1] - times[k] < MIN_RATE_WINDOW_S:
        start = times[k] if k < len(times) else math.nan
        return RateCheck(stage, target, times[0], times[-1], start, math.nan, 0)
    calls = sent[-1] - sent[k]
    return RateCheck(stage, target, times[0], times[-1], times[k], calls / (times[-1] - times[k]), int(calls))


OVERSHOOT_FACTOR = 1.5
"""An interval sending more than this times its rate target is named (at least OVERSHOOT_MIN_CALLS over it)."""

OVERSHOOT_MIN_CALLS = 10


def rate_overshoots(ws: pd.DataFrame | None) -> pd.DataFrame:
    """Intervals between rows that sent more than OVERSHOOT_FACTOR times the rate target of the row ending them
    (the target in force when the counters were taken): elapsed_s, interval_s, calls_per_s, rate_target."""
    columns = ["elapsed_s", "interval_s", "calls_per_s", "rate_target"]
    if ws is None or "rate_target" not in ws or "calls_sent" not in ws:
        return pd.DataFrame(columns=columns, dtype=float)
    frame = ws[["elapsed_s", "calls_sent"]].astype(float)
    frame["rate_target"] = pd.to_numeric(ws["rate_target"], errors="coerce").fillna(0.0)
    rates = interval_rates(frame["elapsed_s"], frame[["calls_sent"]])
    targets = frame[increasing(frame["elapsed_s"])]["rate_target"].iloc[1:].reset_index(drop=True)
    rates = rates.assign(rate_target=targets).rename(columns={"calls_sent": "calls_per_s"})
    excess = (rates["calls_per_s"] - rates["rate_target"]) * rates["interval_s"]
    over = (rates["rate_target"] > 0) & (rates["calls_per_s"] > OVERSHOOT_FACTOR * rates["rate_target"])
    return rates[over & (excess >= OVERSHOOT_MIN_CALLS)][columns].reset_index(drop=True)


def overshoot_notes(overshoots: pd.DataFrame) -> list[str]:
    """One note naming the worst interval above its rate target, and how many there were."""
    if overshoots.empty:
        return []
    worst = overshoots.loc[(overshoots["calls_per_s"] / overshoots["rate_target"]).idxmax()]
    start = worst["elapsed_s"] - worst["interval_s"]
    return [
        f"{len(overshoots)} interval(s) sent more than {OVERSHOOT_FACTOR:g}x their rate target; the worst,"
        f" {start:.1f}-{worst['elapsed_s']:.1f} s, {worst['calls_per_s']:,.0f} calls/s against"
        f" {worst['rate_target']:,.0f} ({worst['calls_per_s'] / worst['rate_target']:.1f}x)"
    ]
