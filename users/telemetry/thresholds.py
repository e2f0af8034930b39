"""Live thresholds: figures from Locust's stats and the ws counters, judged each interval and at the end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.thresholds import LATENCY_METRICS, Judgement, NameFigures, RunFigures, Threshold, judge_all

_FRACTIONS = {m: float(m[1:]) / 100 for m in LATENCY_METRICS if m.startswith("p")}


def name_figures(stats: Any) -> dict[str, NameFigures]:
    """Per request name of Locust's stats (duck-typed `stats.entries`): counts and latency metrics in ms."""
    figures: dict[str, NameFigures] = {}
    for entry in list(stats.entries.values()):
        if entry.num_requests == 0 and entry.num_failures == 0:
            continue
        latency: dict[str, float | None] = {"avg": None, "max": None}
        if entry.num_requests:
            top = float(entry.max_response_time)  # exact; a percentile is a rounded bucket and may exceed it
            latency = {m: min(float(entry.get_response_time_percentile(f)), top) for m, f in _FRACTIONS.items()}
            latency["avg"] = float(entry.avg_response_time)
            latency["max"] = top
        figures[entry.name] = NameFigures(int(entry.num_requests), int(entry.num_failures), latency)
    return figures


def run_figures(stats: Any, counters: Mapping[str, float], duration_s: float) -> RunFigures:
    """What thresholds judge: Locust's per-name stats plus the ledger and messages of the ws counters."""
    settled = sum(int(counters.get(k, 0)) for k in ("calls_ok", "calls_failed", "calls_timeout", "calls_lost"))
    return RunFigures(
        names=name_figures(stats),
        duration_s=duration_s,
        messages=int(counters.get("messages_sent", 0)) + int(counters.get("messages_received", 0)),
        calls_settled=settled,
        calls_not_ok=settled - int(counters.get("calls_ok", 0)),
    )


@dataclass
class ThresholdWatch:
    """Judges the thresholds during a run; with `abort`, asks once for the run to stop when one fails after the
    grace period (time passed in)."""

    thresholds: list[Threshold]
    abort: bool = False
    grace_s: float = 0.0
    failed_live: set[str] = field(default_factory=set)
    abort_reason: str | None = None

    def check(self, figures: RunFigures, elapsed_s: float) -> list[Judgement]:
        """Judge now; remembers failures, and the reason to stop when the run should be aborted."""
        judgements = judge_all(self.thresholds, figures)
        failed = [j for j in judgements if j.passed is False]
        self.failed_live.update(j.threshold.text for j in failed)
        if failed and self.abort and self.abort_reason is None and elapsed_s >= self.grace_s:
            self.abort_reason = "threshold failed: " + "; ".join(j.describe() for j in failed)
        return judgements
