"""The report's targets as labelled threshold expressions, their CLI shorthands, and the one judged list."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from analysis.thresholds import (
    LATENCY_METRICS,
    Judgement,
    RunFigures,
    Threshold,
    judge_rows,
    parse_threshold,
)


@dataclass(frozen=True)
class TargetSpec:
    """One target: a `--threshold` expression (judged by analysis.thresholds, as the --threshold ones are) with
    the label the report shows and a `key` the shorthands (--target-msgs, --p99-ms, ...) address."""

    key: str
    label: str
    expression: str

    @property
    def threshold(self) -> Threshold:
        return parse_threshold(self.expression, report=True)


DEFAULT_TARGETS: tuple[TargetSpec, ...] = (
    TargetSpec("floor", "messages/s (mean) floor", "msgs>=50K/s"),
    TargetSpec("stretch", "messages/s (mean) stretch", "msgs>=200K/s?"),
    TargetSpec("call_p99", "call p99", "calls:p99<100ms"),
    TargetSpec("call_p50", "call p50", "calls:p50<5ms"),
    TargetSpec("connect_p99", "connect p99", "connect:p99<10ms"),
    TargetSpec("success", "call success rate", "success>=99%"),
    TargetSpec("rate", "calls/s vs rate target", "rate_error<=5%"),
)
"""The report's targets, in report order. Messages/s are sent + received; the stretch target (`?`) does not gate;
`calls` is all calls together ('calls (all tools)', or the one tool's row); `rate_error` is judged for each stage
with a rate target, from 3 s after its first row (a run without rate targets has none)."""


def rate_text(value: float) -> str:
    """50000 -> '50K', 200000 -> '200K', 1.5e6 -> '1.5M', 750 -> '750' (as the threshold grammar reads it)."""
    for scale, suffix in ((1e6, "M"), (1e3, "K")):
        if value >= scale and (value / scale) == round(value / scale, 3):
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def target_specs(
    target_msgs: float | None = None,
    stretch_msgs: float | None = None,
    throughput_stat: str = "mean",
    p99_ms: float | None = None,
    p50_ms: float | None = None,
    connect_p99_ms: float | None = None,
    min_success: float | None = None,
) -> tuple[TargetSpec, ...]:
    """DEFAULT_TARGETS with the CLI's shorthands in place of their limits (None: the default's):
    --target-msgs 3K -> `msgs>=3K/s`, --throughput-stat peak_10s -> `msgs_peak>=50K/s`, --p99-ms 50 ->
    `calls:p99<50ms`, --min-success 0.95 -> `success>=95%`."""
    metric = "msgs_peak" if throughput_stat == "peak_10s" else "msgs"
    which = "peak 10 s" if throughput_stat == "peak_10s" else "mean"
    given = {
        "floor": None if target_msgs is None else f"{metric}>={rate_text(target_msgs)}/s",
        "stretch": None if stretch_msgs is None else f"{metric}>={rate_text(stretch_msgs)}/s?",
        "call_p99": None if p99_ms is None else f"calls:p99<{p99_ms:g}ms",
        "call_p50": None if p50_ms is None else f"calls:p50<{p50_ms:g}ms",
        "connect_p99": None if connect_p99_ms is None else f"connect:p99<{connect_p99_ms:g}ms",
        "success": None if min_success is None else f"success>={100 * min_success:.10g}%",
    }
    specs = []
    for spec in DEFAULT_TARGETS:
        expression = given.get(spec.key) or spec.expression
        if spec.key in ("floor", "stretch"):
            expression = expression.replace("msgs>=", f"{metric}>=", 1) if metric != "msgs" else expression
            spec = replace(spec, label=spec.label.replace("(mean)", f"({which})"))
        specs.append(replace(spec, expression=expression))
    return tuple(specs)


def target_limit(specs: Iterable[TargetSpec], key: str) -> float | None:
    """The limit of the target `key` (ms, 1/s or a share), None when there is no such target."""
    return next((s.threshold.limit for s in specs if s.key == key), None)


@dataclass(frozen=True)
class Target:
    """One judged row of the report's one list: a target (`source` "target") or a `--threshold` ("threshold").
    `gates` is False for those reported but not part of the verdict; `ok` None: not judged (too few samples)."""

    name: str
    comparison: str
    target: float
    unit: str
    measured: float
    ok: bool | None
    gates: bool = True
    note: str = ""
    threshold: str = ""
    source: str = "target"
    key: str = ""
    observed: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "source": self.source,
            "comparison": self.comparison,
            "target": self.target,
            "unit": self.unit,
            "measured": None if math.isnan(self.measured) else float(self.measured),
            "ok": self.ok,
            "gates": self.gates,
            "note": self.note,
        }


UNITS = {**{m: "ms" for m in LATENCY_METRICS}, "errors": "ratio", "success": "ratio", "calls": "calls/s",
         "msgs": "msg/s", "msgs_peak": "msg/s", "rate_error": "calls/s"}  # fmt: skip


def judged_targets(specs: Sequence[TargetSpec], expressions: Sequence[Threshold], figures: RunFigures) -> list[Target]:
    """The targets, then the `--threshold` expressions, each judged after the run on `figures`: one list.
    A default `rate_error` target of a run without rate targets is left out."""
    rows: list[Target] = []
    for spec in specs:
        threshold = spec.threshold
        if threshold.metric == "rate_error" and not figures.stage_rates:
            continue
        rows += [_row(spec.label, spec.key, "target", j) for j in judge_rows(threshold, figures, after_run=True)]
    for threshold in expressions:
        rows += [_row(threshold.text, "", "threshold", j) for j in judge_rows(threshold, figures, after_run=True)]
    return rows


def _row(label: str, key: str, source: str, judgement: Judgement) -> Target:
    threshold = judgement.threshold
    name = f"{label} ({judgement.scope})" if judgement.scope else label
    measured = math.nan if judgement.value is None else judgement.value
    if threshold.metric == "rate_error":
        comparison, limit = f"±{100 * threshold.limit:g}%", judgement.reference
    else:
        comparison, limit = threshold.op, threshold.limit
    return Target(name, comparison, math.nan if limit is None else limit, UNITS[threshold.metric], measured,
                  judgement.passed, threshold.gates, judgement.note, threshold.text, source, key,
                  judgement.observed)  # fmt: skip


def verdict(targets: list[Target]) -> str:
    """ "pass" when every gating target that could be checked holds, else "fail"."""
    return "pass" if all(t.ok is not False for t in targets if t.gates) else "fail"
