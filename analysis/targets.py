"""The report's targets (throughput floor, call and connect percentiles, success, rates) and its verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from analysis.latency import REPORTED_PERCENTILES
from analysis.rate_checks import MIN_RATE_WINDOW_S, RATE_SETTLE_S, RATE_TOLERANCE, RateCheck
from analysis.throughput import Throughput, json_number


@dataclass(frozen=True)
class Thresholds:
    """Targets a run is checked against; the throughput ones are in messages/s (sent + received)."""

    target_msgs_per_s: float = 50_000.0
    stretch_msgs_per_s: float = 200_000.0
    throughput_stat: str = "mean"
    call_p99_ms: float = 100.0
    call_p50_ms: float = 5.0
    connect_p99_ms: float = 10.0
    min_success: float = 0.99


@dataclass(frozen=True)
class Target:
    """One checked target; `gates` is False for those reported but not part of the verdict."""

    name: str
    comparison: str
    target: float
    unit: str
    measured: float
    ok: bool | None
    gates: bool = True
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "comparison": self.comparison,
            "target": self.target,
            "unit": self.unit,
            "measured": json_number(self.measured),
            "ok": self.ok,
            "gates": self.gates,
            "note": self.note,
        }


MIN_PERCENTILE_SAMPLES = 20
"""A percentile target is judged on at least this many samples, and on at least 1 / (1 - q): p99 needs 100."""


def min_samples(quantile: float) -> int:
    """Fewest samples a percentile target is judged on: p50/p90/p95 20, p99 100, p99.9 1000."""
    return max(MIN_PERCENTILE_SAMPLES, round(1 / (1 - quantile)))


def percentile_target(name: str, target_ms: float, latency: pd.DataFrame, row: str | None, label: str) -> Target:
    """`row`'s percentile `label` below `target_ms`; not judged (ok None, does not fail) on too few samples."""
    quantile = dict(REPORTED_PERCENTILES)[label]
    if row is None or row not in latency.index:
        return _below(name, target_ms, "ms", math.nan)
    measured, samples = float(latency.loc[row, label]), int(latency.loc[row, "requests"])
    needed = min_samples(quantile)
    if samples < needed:
        note = f"{samples:,} samples ({label} needs ≥ {needed:,})"
        if samples:
            note += f"; max {fmt_number_ms(float(latency.loc[row, 'max']))} ms"
        return Target(name, "<", target_ms, "ms", measured, None, True, note)
    return _below(name, target_ms, "ms", measured)


def fmt_number_ms(value: float) -> str:
    """Milliseconds with the precision they have: 0.28, 14.1, 260."""
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def evaluate_targets(
    thresholds: Thresholds,
    tput: Throughput,
    latency: pd.DataFrame,
    call_row: str | None,
    success_rate: float,
    rate_checks: list[RateCheck] | None = None,
) -> list[Target]:
    """The checked targets, in report order; the stretch target is reported but does not gate."""
    stat = thresholds.throughput_stat
    msgs = tput.messages.mean if stat == "mean" else tput.messages.peak_10s
    label = "mean" if stat == "mean" else "peak 10 s"
    targets = [
        _at_least(f"messages/s ({label}) floor", thresholds.target_msgs_per_s, "msg/s", msgs, gates=True),
        _at_least(f"messages/s ({label}) stretch", thresholds.stretch_msgs_per_s, "msg/s", msgs, gates=False),
    ]

    targets.append(percentile_target("call p99", thresholds.call_p99_ms, latency, call_row, "p99"))
    targets.append(percentile_target("call p50", thresholds.call_p50_ms, latency, call_row, "p50"))
    if "connect" in latency.index and latency.loc["connect", "requests"] > 0:
        targets.append(percentile_target("connect p99", thresholds.connect_p99_ms, latency, "connect", "p99"))
    else:
        targets.append(
            Target("connect p99", "<", thresholds.connect_p99_ms, "ms", math.nan, None, True, "no connect requests")
        )
    targets.append(_at_least("call success rate", thresholds.min_success, "ratio", success_rate, gates=True))
    targets.extend(rate_target(check) for check in rate_checks or [])
    return targets


def rate_target(check: RateCheck) -> Target:
    """The gating target of one RateCheck: achieved calls/s within RATE_TOLERANCE of the rate target."""
    where = f"{check.stage}, " if check.stage else ""
    name = f"calls/s vs rate target ({where}{check.first_s:.0f}-{check.last_s:.0f} s)"
    comparison = f"±{100 * RATE_TOLERANCE:g}%"
    if math.isnan(check.achieved):
        needed = RATE_SETTLE_S + MIN_RATE_WINDOW_S
        span = check.last_s - check.first_s
        note = f"{span:.1f} s of rows, needs ≥ {needed:g} s (the first {RATE_SETTLE_S:g} s not judged)"
        return Target(name, comparison, check.rate_target, "calls/s", math.nan, None, True, note)
    ok = abs(check.achieved - check.rate_target) <= RATE_TOLERANCE * check.rate_target
    note = f"{check.calls:,} calls sent in {check.window_s:.1f} s from {check.window_start_s:.1f} s"
    return Target(name, comparison, check.rate_target, "calls/s", check.achieved, ok, True, note)


def _at_least(name: str, target: float, unit: str, measured: float, gates: bool) -> Target:
    if math.isnan(measured):
        return Target(name, ">=", target, unit, measured, False, gates, "not measured")
    return Target(name, ">=", target, unit, measured, measured >= target, gates)


def _below(name: str, target: float, unit: str, measured: float) -> Target:
    if math.isnan(measured):
        return Target(name, "<", target, unit, measured, False, True, "not measured")
    return Target(name, "<", target, unit, measured, measured < target, True)


def verdict(targets: list[Target]) -> str:
    """ "pass" when every gating target that could be checked holds, else "fail"."""
    return "pass" if all(t.ok is not False for t in targets if t.gates) else "fail"
