"""Pure k6-style thresholds (`p99<100ms`, `errors<1%`, `msgs>=50K/s`, `call_tool:echo:p99<5ms`): parse and judge.

Shared by the live run (users/telemetry/thresholds.py, from Locust's stats and the ws counters) and by
`python -m analysis report --threshold` (from the run's CSVs): both build the same RunFigures, so a CI job gets
the same verdict live and afterwards. Imports nothing outside the standard library.

Syntax: `[NAME:]METRIC OP VALUE[?]`, several separated by commas.
- METRIC: a latency `p50 p66 p75 p80 p90 p95 p98 p99 p99.9 p99.99 avg max` (VALUE in `ms` by default, or
  `us`, `s`), `errors` / `success` (share of calls not ok / ok: `1%` or `0.01`), `calls` or `msgs` (per second:
  `10K/s`, `0.2M`). The report only: `msgs_peak` (the highest msgs/s over a 10 s window) and `rate_error` (how far
  each stage's calls/s missed its rate target, as a share of it: `rate_error<=5%`).
- OP: `<`, `<=`, `>`, `>=`.
- NAME: a Locust request name (`call_tool:echo`, `connect`, `hello`; in the report also `calls`: all calls
  together). Without it, latency metrics apply to every `call_tool:*` name (each must pass), `errors`, `success`
  and `calls` to all calls together (the ledger), `msgs` to all application messages sent and received. `msgs`
  takes no name; `rate_error`'s NAME is a stage.
- A trailing `?` (the report only): reported, met or not, but it does not gate the verdict (`msgs>=200K/s?`).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

CALL_PREFIX = "call_tool:"
LATENCY_METRICS = ("p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p99.9", "p99.99", "avg", "max")
"""Latency metrics: Locust's reported percentiles (as in PREFIX_stats.csv), the mean and the maximum."""
REPORT_ONLY_METRICS = ("msgs_peak", "rate_error")
"""Metrics only the report has figures for (a 10 s window over the run, each stage's rate target)."""
METRICS = (*LATENCY_METRICS, "errors", "success", "calls", "msgs", *REPORT_ONLY_METRICS)
SHARE_METRICS = ("errors", "success", "rate_error")
MIN_PERCENTILE_SAMPLES = 20
"""After a run a percentile is judged on at least this many samples, and on at least 1 / (1 - q): p99 needs 100."""
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPRESSION = re.compile(r"^(?:(?P<name>.+):)?(?P<metric>[a-z][a-z0-9._]*)\s*(?P<op><=|>=|<|>)\s*(?P<value>.+)$")
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_LATENCY_UNITS = {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001}
_RATE_SCALE = {"": 1.0, "k": 1e3, "m": 1e6}
_SHARE_LIMITS = {
    "errors": "an error limit is a share of calls, e.g. 1% or 0.01",
    "success": "a success limit is a share of calls, e.g. 99% or 0.99",
    "rate_error": "a rate error limit is a share of the rate target, e.g. 5% or 0.05",
}


class ThresholdError(ValueError):
    """A threshold expression that cannot be read; the message quotes it."""


def min_samples(quantile: float) -> int:
    """Fewest samples a percentile is judged on after a run: p50/p90/p95 20, p99 100, p99.9 1000."""
    return max(MIN_PERCENTILE_SAMPLES, round(1 / (1 - quantile)))


@dataclass(frozen=True)
class Threshold:
    """One parsed expression: `name` (None: the default scope), metric, operator and limit (ms, fraction, 1/s)."""

    text: str
    metric: str
    op: str
    limit: float
    name: str | None = None
    gates: bool = True
    """False for a trailing `?`: reported, but not part of the verdict."""

    def holds(self, value: float) -> bool:
        """Whether `value` (in the metric's unit) satisfies this threshold."""
        return OPERATORS[self.op](value, self.limit)


@dataclass(frozen=True)
class NameFigures:
    """Locust's figures for one request name: counts and latency metrics in ms (None: no samples)."""

    requests: int
    failures: int
    latency_ms: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class StageRate:
    """One stage's calls/s against its rate target (the report's figures); `achieved` None when not judged."""

    stage: str
    label: str
    rate_target: float
    achieved: float | None
    note: str = ""


@dataclass(frozen=True)
class RunFigures:
    """What thresholds are judged on: per-name figures, the run's duration, messages and the call ledger; the
    report adds msgs/s as its throughput figures have it (mean and 10 s peak) and each stage's rate."""

    names: Mapping[str, NameFigures]
    duration_s: float
    messages: int = 0
    calls_settled: int | None = None
    calls_not_ok: int | None = None
    msgs_per_s: float | None = None
    msgs_peak_per_s: float | None = None
    stage_rates: tuple[StageRate, ...] = ()

    def call_names(self) -> list[str]:
        """The `call_tool:*` names with at least one request."""
        return sorted(n for n, f in self.names.items() if n.startswith(CALL_PREFIX) and f.requests > 0)

    def calls(self) -> tuple[int, int]:
        """(settled, not ok) over all calls: from the ledger when known, else summed over the call names."""
        if self.calls_settled is not None and self.calls_not_ok is not None:
            return self.calls_settled, self.calls_not_ok
        rows = [self.names[n] for n in self.call_names()]
        return sum(r.requests for r in rows), sum(r.failures for r in rows)


@dataclass(frozen=True)
class Judgement:
    """A threshold judged on a run: `passed` None when there was nothing to judge (no samples yet)."""

    threshold: Threshold
    passed: bool | None
    observed: str
    value: float | None = None
    """The measured figure in the metric's unit (a rate_error judgement: the stage's calls/s)."""
    note: str = ""
    """Why it was not judged, or how it was measured."""
    scope: str = ""
    """What was judged when one expression is judged several times (rate_error: the stage)."""
    reference: float | None = None
    """rate_error: the stage's rate target."""

    def describe(self) -> str:
        """One line: `p99<100ms: ok (call_tool:echo 4.2 ms)`."""
        state = {True: "ok", False: "FAILED", None: "n/a"}[self.passed]
        return f"{self.threshold.text}: {state} ({self.observed})"


def parse_thresholds(given: str | Iterable[str] | None, report: bool = False) -> list[Threshold]:
    """Every threshold in `given` (one string or several, each comma-separated); ThresholdError on the first bad.
    `report`: also the report's own metrics and a trailing `?`."""
    texts = [given] if isinstance(given, str) else list(given or [])
    return [parse_threshold(part, report) for text in texts for part in text.split(",") if part.strip()]


def parse_threshold(text: str, report: bool = False) -> Threshold:
    """One expression `[NAME:]METRIC OP VALUE[?]`; `?` and the report's own metrics only when `report`."""
    clean = text.strip()
    gates = not clean.endswith("?")
    match = _EXPRESSION.match(clean.removesuffix("?").rstrip())
    if not match:
        raise ThresholdError(f"{clean!r} is not a threshold: [NAME:]METRIC OP VALUE, e.g. p99<100ms, errors<1%")
    name, metric, op, value = match.group("name"), match.group("metric"), match.group("op"), match.group("value")
    if metric not in METRICS:
        raise ThresholdError(f"{clean!r}: unknown metric {metric!r} (one of {', '.join(METRICS)})")
    if not report and (metric in REPORT_ONLY_METRICS or not gates):
        what = "a trailing ?" if gates is False else metric
        raise ThresholdError(f"{clean!r}: {what} is for `python -m analysis report` only")
    if metric in ("msgs", "msgs_peak") and name:
        raise ThresholdError(f"{clean!r}: {metric} counts every message of the run; it takes no request name")
    limit = _limit(clean, metric, value.strip())
    return Threshold(clean, metric, op, limit, name.strip() if name else None, gates)


def _limit(text: str, metric: str, value: str) -> float:
    if metric in LATENCY_METRICS:
        match = re.fullmatch(_NUMBER + r"\s*(ms|s|us|µs)?", value)
        if match:
            return float(match.group(1)) * _LATENCY_UNITS[match.group(2) or ""]
        raise ThresholdError(f"{text!r}: a latency limit is a number of ms, us or s (e.g. 100ms)")
    if metric in SHARE_METRICS:
        match = re.fullmatch(_NUMBER + r"\s*(%?)", value)
        if match:
            number = float(match.group(1)) / (100 if match.group(2) else 1)
            if number <= 1:
                return number
        raise ThresholdError(f"{text!r}: {_SHARE_LIMITS[metric]}")
    match = re.fullmatch(_NUMBER + r"\s*([kKmM]?)\s*(?:/s)?", value)
    if match:
        return float(match.group(1)) * _RATE_SCALE[match.group(2).lower()]
    raise ThresholdError(f"{text!r}: a rate is a number per second, e.g. 50K/s or 10000")


def judge(threshold: Threshold, figures: RunFigures, after_run: bool = False) -> Judgement:
    """Judge one threshold on `figures`. `after_run` (the report): a percentile on too few samples is not judged
    (passed None, with a note) and does not fail; any other figure that could not be measured fails."""
    metric = threshold.metric
    if metric in LATENCY_METRICS:
        return _judge_latency(threshold, figures, after_run)
    if metric == "rate_error":
        rows = judge_rows(threshold, figures)
        passed = None if all(j.passed is None for j in rows) else all(j.passed is not False for j in rows)
        return Judgement(threshold, passed, "; ".join(j.observed for j in rows))
    if metric in ("msgs", "msgs_peak"):
        value = _msgs_per_s(figures, metric)
        if value is None:
            return _unmeasured(threshold, "no time elapsed", after_run)
        return Judgement(threshold, threshold.holds(value), f"{value:,.0f} msg/s", value)
    if threshold.name is None:
        settled, not_ok = figures.calls()
        scope = "calls"
    else:
        named = figures.names.get(threshold.name)
        settled, not_ok = (named.requests, named.failures) if named else (0, 0)
        scope = threshold.name
    if metric == "calls":
        if figures.duration_s <= 0:
            return _unmeasured(threshold, "no time elapsed", after_run)
        value = settled / figures.duration_s
        return Judgement(threshold, threshold.holds(value), f"{scope} {value:,.0f}/s", value)
    if settled == 0:
        return _unmeasured(threshold, f"{scope}: none yet", after_run)
    share = not_ok / settled if metric == "errors" else (settled - not_ok) / settled
    word = "not ok" if metric == "errors" else "ok"
    return Judgement(threshold, threshold.holds(share), f"{scope} {share:.2%} of {settled:,} {word}", share)


def _unmeasured(threshold: Threshold, observed: str, after_run: bool) -> Judgement:
    """Nothing to judge: pending during a run, failed after it."""
    return (
        Judgement(threshold, False, observed, note="not measured")
        if after_run
        else Judgement(threshold, None, observed)
    )


def _msgs_per_s(figures: RunFigures, metric: str) -> float | None:
    given = figures.msgs_peak_per_s if metric == "msgs_peak" else figures.msgs_per_s
    if given is None and metric == "msgs" and figures.duration_s > 0:
        given = figures.messages / figures.duration_s
    return None if given is None or math.isnan(given) else given


def judge_rows(threshold: Threshold, figures: RunFigures, after_run: bool = False) -> list[Judgement]:
    """`threshold` judged as the report lists it: `rate_error` once per stage with a rate target (those of its
    NAME when given), anything else once."""
    if threshold.metric != "rate_error":
        return [judge(threshold, figures, after_run)]
    stages = [s for s in figures.stage_rates if threshold.name in (None, s.stage)]
    if not stages:
        return [Judgement(threshold, None, "no stage with a rate target", note="no stage with a rate target")]
    rows = []
    for stage in stages:
        if stage.achieved is None:
            rows.append(Judgement(threshold, None, f"{stage.label}: not judged", None, stage.note, stage.label,
                                  stage.rate_target))  # fmt: skip
            continue
        share = abs(stage.achieved - stage.rate_target) / stage.rate_target
        observed = f"{stage.label}: {stage.achieved:,.0f} calls/s against {stage.rate_target:,.0f} ({share:.1%} off)"
        rows.append(Judgement(threshold, threshold.holds(share), observed, stage.achieved, stage.note, stage.label,
                              stage.rate_target))  # fmt: skip
    return rows


def _judge_latency(threshold: Threshold, figures: RunFigures, after_run: bool) -> Judgement:
    names = [threshold.name] if threshold.name is not None else figures.call_names()
    present = [(n, figures.names[n]) for n in names if n in figures.names]
    values = [(n, v, f) for n, f in present if (v := f.latency_ms.get(threshold.metric)) is not None]
    if not values:
        named = threshold.name not in (None, "calls")
        note = (f"no {threshold.name} requests" if named else "no calls") if after_run else ""
        return Judgement(threshold, None, f"{threshold.name or 'calls'}: no samples yet", note=note)
    needed = _needed(threshold.metric) if after_run else 0
    judged = [(n, v) for n, v, f in values if f.requests >= needed]
    if not judged:
        name, value, few = max(values, key=lambda nvf: nvf[2].requests)
        note = f"{few.requests:,} samples ({threshold.metric} needs ≥ {needed:,})"
        top = few.latency_ms.get("max")
        note += f"; max {fmt_ms(top)} ms" if top is not None else ""
        note = note if threshold.name else f"{name}: {note}"
        return Judgement(threshold, None, f"{name}: {note}" if threshold.name else note, value, note)
    failing = [(n, v) for n, v in judged if not threshold.holds(v)]
    worst = failing[0] if failing else max(judged, key=lambda nv: nv[1] if threshold.op[0] == "<" else -nv[1])
    return Judgement(threshold, not failing, f"{worst[0]} {worst[1]:.3g} ms", worst[1])


def _needed(metric: str) -> int:
    """Samples a metric needs after a run: a percentile min_samples, the mean and the maximum one."""
    return min_samples(float(metric[1:]) / 100) if metric.startswith("p") else 0


def fmt_ms(value: float) -> str:
    """Milliseconds with the precision they have: 0.28, 14.1, 260."""
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def judge_all(thresholds: Iterable[Threshold], figures: RunFigures, after_run: bool = False) -> list[Judgement]:
    """Every threshold judged on `figures`, in order."""
    return [judge(t, figures, after_run) for t in thresholds]


def final_verdict(judgements: Iterable[Judgement]) -> bool:
    """At the end of a run, every threshold must pass: one with nothing to judge (no samples) fails too."""
    return all(j.passed is True for j in judgements)
