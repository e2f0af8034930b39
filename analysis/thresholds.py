"""Pure k6-style thresholds (`p99<100ms`, `errors<1%`, `msgs>=50K/s`, `call_tool:echo:p99<5ms`): parse and judge.

Shared by the live run (users/telemetry/thresholds.py, from Locust's stats and the ws counters) and by
`python -m analysis report --threshold` (from the run's CSVs): both build the same RunFigures, so a CI job gets
the same verdict live and afterwards. Imports nothing outside the standard library.

Syntax: `[NAME:]METRIC OP VALUE`, several separated by commas.
- METRIC: a latency `p50 p66 p75 p80 p90 p95 p98 p99 p99.9 p99.99 avg max` (VALUE in `ms` by default, or
  `us`, `s`), `errors` (share of calls not ok: `1%` or `0.01`), `calls` or `msgs` (per second: `10K/s`, `0.2M`).
- OP: `<`, `<=`, `>`, `>=`.
- NAME: a Locust request name (`call_tool:echo`, `connect`, `hello`). Without it, latency metrics apply to every
  `call_tool:*` name (each must pass), `errors` and `calls` to all calls together (the ledger), `msgs` to all
  application messages sent and received. `msgs` takes no name.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

CALL_PREFIX = "call_tool:"
LATENCY_METRICS = ("p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p99.9", "p99.99", "avg", "max")
"""Latency metrics: Locust's reported percentiles (as in PREFIX_stats.csv), the mean and the maximum."""
METRICS = (*LATENCY_METRICS, "errors", "calls", "msgs")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPRESSION = re.compile(r"^(?:(?P<name>.+):)?(?P<metric>[a-z][a-z0-9.]*)\s*(?P<op><=|>=|<|>)\s*(?P<value>.+)$")
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_LATENCY_UNITS = {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001}
_RATE_SCALE = {"": 1.0, "k": 1e3, "m": 1e6}


class ThresholdError(ValueError):
    """A threshold expression that cannot be read; the message quotes it."""


@dataclass(frozen=True)
class Threshold:
    """One parsed expression: `name` (None: the default scope), metric, operator and limit (ms, fraction, 1/s)."""

    text: str
    metric: str
    op: str
    limit: float
    name: str | None = None

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
class RunFigures:
    """What thresholds are judged on: per-name figures, the run's duration, messages and the call ledger."""

    names: Mapping[str, NameFigures]
    duration_s: float
    messages: int = 0
    calls_settled: int | None = None
    calls_not_ok: int | None = None

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

    def describe(self) -> str:
        """One line: `p99<100ms: ok (call_tool:echo 4.2 ms)`."""
        state = {True: "ok", False: "FAILED", None: "n/a"}[self.passed]
        return f"{self.threshold.text}: {state} ({self.observed})"


def parse_thresholds(given: str | Iterable[str] | None) -> list[Threshold]:
    """Every threshold in `given` (one string or several, each comma-separated); ThresholdError on the first bad."""
    texts = [given] if isinstance(given, str) else list(given or [])
    return [parse_threshold(part) for text in texts for part in text.split(",") if part.strip()]


def parse_threshold(text: str) -> Threshold:
    """One expression `[NAME:]METRIC OP VALUE`."""
    clean = text.strip()
    match = _EXPRESSION.match(clean)
    if not match:
        raise ThresholdError(f"{clean!r} is not a threshold: [NAME:]METRIC OP VALUE, e.g. p99<100ms, errors<1%")
    name, metric, op, value = match.group("name"), match.group("metric"), match.group("op"), match.group("value")
    if metric not in METRICS:
        raise ThresholdError(f"{clean!r}: unknown metric {metric!r} (one of {', '.join(METRICS)})")
    if metric == "msgs" and name:
        raise ThresholdError(f"{clean!r}: msgs counts every message of the run; it takes no request name")
    return Threshold(clean, metric, op, _limit(clean, metric, value.strip()), name.strip() if name else None)


def _limit(text: str, metric: str, value: str) -> float:
    if metric in LATENCY_METRICS:
        match = re.fullmatch(_NUMBER + r"\s*(ms|s|us|µs)?", value)
        if match:
            return float(match.group(1)) * _LATENCY_UNITS[match.group(2) or ""]
        raise ThresholdError(f"{text!r}: a latency limit is a number of ms, us or s (e.g. 100ms)")
    if metric == "errors":
        match = re.fullmatch(_NUMBER + r"\s*(%?)", value)
        if match:
            number = float(match.group(1)) / (100 if match.group(2) else 1)
            if number <= 1:
                return number
        raise ThresholdError(f"{text!r}: an error limit is a share of calls, e.g. 1% or 0.01")
    match = re.fullmatch(_NUMBER + r"\s*([kKmM]?)\s*(?:/s)?", value)
    if match:
        return float(match.group(1)) * _RATE_SCALE[match.group(2).lower()]
    raise ThresholdError(f"{text!r}: a rate is a number per second, e.g. 50K/s or 10000")


def judge(threshold: Threshold, figures: RunFigures) -> Judgement:
    """Judge one threshold on `figures`."""
    if threshold.metric in LATENCY_METRICS:
        return _judge_latency(threshold, figures)
    if threshold.metric == "msgs":
        if figures.duration_s <= 0:
            return Judgement(threshold, None, "no time elapsed")
        value = figures.messages / figures.duration_s
        return Judgement(threshold, threshold.holds(value), f"{value:,.0f} msg/s")
    if threshold.name is None:
        settled, not_ok = figures.calls()
        scope = "calls"
    else:
        named = figures.names.get(threshold.name)
        settled, not_ok = (named.requests, named.failures) if named else (0, 0)
        scope = threshold.name
    if threshold.metric == "calls":
        if figures.duration_s <= 0:
            return Judgement(threshold, None, "no time elapsed")
        value = settled / figures.duration_s
        return Judgement(threshold, threshold.holds(value), f"{scope} {value:,.0f}/s")
    if settled == 0:
        return Judgement(threshold, None, f"{scope}: none yet")
    share = not_ok / settled
    return Judgement(threshold, threshold.holds(share), f"{scope} {share:.2%} of {settled:,} not ok")


def _judge_latency(threshold: Threshold, figures: RunFigures) -> Judgement:
    names = [threshold.name] if threshold.name is not None else figures.call_names()
    measured = [(n, figures.names[n].latency_ms.get(threshold.metric)) for n in names if n in figures.names]
    values = [(n, v) for n, v in measured if v is not None]
    if not values:
        return Judgement(threshold, None, f"{threshold.name or 'calls'}: no samples yet")
    failing = [(n, v) for n, v in values if not threshold.holds(v)]
    worst = failing[0] if failing else max(values, key=lambda nv: nv[1] if threshold.op[0] == "<" else -nv[1])
    return Judgement(threshold, not failing, f"{worst[0]} {worst[1]:.3g} ms")


def judge_all(thresholds: Iterable[Threshold], figures: RunFigures) -> list[Judgement]:
    """Every threshold judged on `figures`, in order."""
    return [judge(t, figures) for t in thresholds]


def final_verdict(judgements: Iterable[Judgement]) -> bool:
    """At the end of a run, every threshold must pass: one with nothing to judge (no samples) fails too."""
    return all(j.passed is True for j in judgements)
