"""One run's summary: joins its throughput, latency, accounting, rate checks and targets (the report's input).

The computations live in analysis/throughput.py, latency.py, accounting.py, rate_checks.py and targets.py; their
public names are importable from here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from analysis.accounting import (
    CONNECTION_COUNTERS,
    ERROR_KINDS,
    Ledger,
    call_totals,
    connection_totals,
    connections_over_time,
    error_code,
    errors_over_time,
    failures_by_code,
    ledger,
)
from analysis.latency import (
    CALLS,
    MEAN_ALL,
    MEAN_CALLS,
    NON_CALL_COUNTERS,
    OVER_TIME_COLUMNS,
    OVER_TIME_PERCENTILES,
    REPORTED_PERCENTILES,
    WINDOWED,
    interval_mean_latency,
    latency_over_time,
    latency_table,
    mix_percentiles,
    non_call_activity,
    percentile_knots,
)
from analysis.load import Run
from analysis.rate_checks import (
    MIN_RATE_WINDOW_S,
    OVERSHOOT_FACTOR,
    OVERSHOOT_MIN_CALLS,
    RATE_SETTLE_S,
    ROW_JITTER_S,
    RateCheck,
    overshoot_notes,
    rate_checks,
    rate_overshoots,
)
from analysis.run_thresholds import report_figures
from analysis.targets import (
    DEFAULT_TARGETS,
    Target,
    TargetSpec,
    judged_targets,
    target_limit,
    target_specs,
    verdict,
)
from analysis.thresholds import MIN_PERCENTILE_SAMPLES, Threshold, min_samples
from analysis.thresholds import fmt_ms as fmt_number_ms
from analysis.throughput import (
    NON_CALL_NAMES,
    OUTLIER_FACTOR,
    PEAK_WINDOW_S,
    WINDOW_TOLERANCE_S,
    RateStat,
    StageSpan,
    Throughput,
    call_names,
    cumulative_counts,
    increasing,
    interval_rates,
    json_number,
    last_rows,
    outlier_notes,
    rate_stat,
    stage_spans,
    start_time,
    throughput,
    worst_interval,
    ws_counts,
)

__all__ = [
    "Summary",
    "summarize",
    "CALLS",
    "CONNECTION_COUNTERS",
    "ERROR_KINDS",
    "Ledger",
    "MEAN_ALL",
    "MEAN_CALLS",
    "MIN_PERCENTILE_SAMPLES",
    "MIN_RATE_WINDOW_S",
    "NON_CALL_COUNTERS",
    "NON_CALL_NAMES",
    "OUTLIER_FACTOR",
    "OVERSHOOT_FACTOR",
    "OVERSHOOT_MIN_CALLS",
    "OVER_TIME_COLUMNS",
    "OVER_TIME_PERCENTILES",
    "PEAK_WINDOW_S",
    "RATE_SETTLE_S",
    "REPORTED_PERCENTILES",
    "ROW_JITTER_S",
    "RateCheck",
    "RateStat",
    "StageSpan",
    "DEFAULT_TARGETS",
    "Target",
    "TargetSpec",
    "Throughput",
    "WINDOWED",
    "WINDOW_TOLERANCE_S",
    "call_names",
    "call_totals",
    "connection_totals",
    "connections_over_time",
    "cumulative_counts",
    "error_code",
    "errors_over_time",
    "judged_targets",
    "failures_by_code",
    "fmt_number_ms",
    "increasing",
    "interval_mean_latency",
    "interval_rates",
    "json_number",
    "last_rows",
    "latency_over_time",
    "latency_table",
    "ledger",
    "min_samples",
    "mix_percentiles",
    "non_call_activity",
    "outlier_notes",
    "overshoot_notes",
    "percentile_knots",
    "rate_checks",
    "rate_overshoots",
    "rate_stat",
    "target_limit",
    "target_specs",
    "stage_spans",
    "start_time",
    "throughput",
    "verdict",
    "worst_interval",
    "ws_counts",
]


@dataclass(frozen=True)
class Summary:
    """Everything the report shows, computed from one run."""

    prefix: str
    sources: list[str]
    throughput: Throughput
    latency: pd.DataFrame
    latency_over_time: pd.DataFrame
    latency_over_time_kind: str
    success_rate: float
    calls_total: int
    calls_failed: int
    ledger: Ledger | None
    connections: dict[str, int]
    connections_over_time: pd.DataFrame
    errors_over_time: pd.DataFrame
    failures_over_time: pd.DataFrame
    failures: pd.DataFrame
    exceptions: pd.DataFrame
    stages: list[StageSpan]
    targets: list[Target]
    """The one list: the targets, then the --threshold expressions, each judged (analysis.targets)."""
    target_specs: tuple[TargetSpec, ...]
    rate_checks: list[RateCheck] = field(default_factory=list)
    rate_overshoots: pd.DataFrame | None = None

    @property
    def verdict(self) -> str:
        return verdict(self.targets)

    def target_limit(self, key: str) -> float | None:
        """The limit of target `key` ("floor", "call_p99", ...), None when there is none."""
        return target_limit(self.target_specs, key)

    @property
    def throughput_stat(self) -> str:
        """The messages/s statistic the throughput targets check: "mean" or "peak_10s"."""
        floor = next((s for s in self.target_specs if s.key == "floor"), None)
        return "peak_10s" if floor is not None and floor.threshold.metric == "msgs_peak" else "mean"

    @property
    def call_latency_name(self) -> str | None:
        """The latency row that stands for all calls (the one tool's row when there is only one)."""
        names = [n for n in self.latency.index if n == CALLS]
        if names:
            return CALLS
        calls = [n for n in self.latency.index if n not in NON_CALL_NAMES and self.latency.loc[n, "requests"] > 0]
        return calls[0] if len(calls) == 1 else None


def summarize(
    run: Run, targets: tuple[TargetSpec, ...] = DEFAULT_TARGETS, expressions: tuple[Threshold, ...] = ()
) -> Summary:
    """All computations for one run's report; `targets` and the --threshold `expressions` judged as one list."""
    origin = start_time(run)
    tput = throughput(run)
    latency = latency_table(run.stats)
    over_time, kind = latency_over_time(run, origin)
    settled, not_ok = call_totals(run)
    success = (settled - not_ok) / settled if settled > 0 else math.nan
    by_kind, by_name = errors_over_time(run, origin)
    summary = Summary(
        prefix=run.prefix,
        sources=list(run.sources),
        throughput=tput,
        latency=latency,
        latency_over_time=over_time,
        latency_over_time_kind=kind,
        success_rate=success,
        calls_total=settled,
        calls_failed=not_ok,
        ledger=ledger(run.ws),
        connections=connection_totals(run.ws),
        connections_over_time=connections_over_time(run.ws),
        errors_over_time=by_kind,
        failures_over_time=by_name,
        failures=failures_by_code(run.failures),
        exceptions=run.exceptions,
        stages=stage_spans(run.ws),
        rate_checks=rate_checks(run.ws),
        targets=[],
        target_specs=tuple(targets),
    )
    figures = report_figures(run, tput, latency, summary.call_latency_name, summary.rate_checks, (settled, not_ok))
    judged = judged_targets(targets, expressions, figures)
    overshoots = rate_overshoots(run.ws)
    if not overshoots.empty:
        tput = replace(tput, notes=[*tput.notes, *overshoot_notes(overshoots)])
        return replace(summary, targets=judged, throughput=tput, rate_overshoots=overshoots)
    return replace(summary, targets=judged)
