"""The WebSocket view's data: one point a second (rates, gauges, call latency), stage spans and the run's final totals.

Pure: the caller passes the counters (WsCounters.snapshot() keys, summed over
workers on a master), the call latency histogram and the time. Rates are
differences between consecutive samples; after the run the view shows the
final totals and mean rates over the whole run instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TARGET_MSGS_PER_S = 50_000.0
"""The messages/s target of the analysis report (analysis.targets.DEFAULT_TARGETS; a test keeps them equal)."""
STRETCH_MSGS_PER_S = 200_000.0
"""The stretch messages/s target of the analysis report."""
RATE_WINDOW_SAMPLES = 3
"""Rates and latency percentiles span up to this many sample intervals: a master sums worker reports that arrive
once a second each, so a one-second difference would swing between 0, 1 and 2 reports of a worker."""
MAX_POINTS = 3600
"""Points kept per run (an hour at one a second); older ones are dropped from the view, not from PREFIX_ws.csv."""

SETTLED = ("calls_ok", "calls_failed", "calls_timeout", "calls_lost")
TOTAL_KEYS = (
    "calls_sent", *SETTLED, "calls_in_flight", "messages_sent", "messages_received", "connects", "reconnects",
    "reconnect_attempts", "connect_failures", "connections_open", "calls_sent_late", "calls_skipped",
    "push_gaps", "push_duplicates", "push_reordered",
)  # fmt: skip
"""Counters the view shows as final totals (the same names as the PREFIX_ws.csv columns)."""
GAUGES = ("calls_in_flight", "connections_open", "rate_target")
"""Counters that are levels, not counts since the start: a Reset leaves them as they are."""

Histogram = Mapping[int, int]
"""Call latency histogram: Locust's rounded milliseconds -> count, cumulative over the run."""


def merged_histogram(histograms: Iterable[Histogram]) -> dict[int, int]:
    """The sum of several cumulative histograms (one per request name)."""
    merged: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def window_percentiles(before: Histogram, now: Histogram, quantiles: tuple[float, ...]) -> list[float | None]:
    """Percentiles (ms) of the calls settled between two cumulative histograms; None without calls."""
    window = sorted((bucket, count - before.get(bucket, 0)) for bucket, count in now.items())
    window = [(bucket, count) for bucket, count in window if count > 0]
    total = sum(count for _, count in window)
    if total == 0:
        return [None for _ in quantiles]
    results: list[float | None] = []
    for quantile in quantiles:
        rank = max(1, int(round(quantile * total + 0.5 - 1e-9)))
        seen = 0
        for bucket, count in window:
            seen += count
            if seen >= rank:
                results.append(float(bucket))
                break
    return results


@dataclass
class StageSpan:
    """One stage of the run as the view saw it: name and seconds since the run started."""

    name: str
    start_s: float
    end_s: float


@dataclass
class RunSeries:
    """Points of one run, sampled by the caller once a second, and its totals once it has ended."""

    started_at: float = 0.0
    """Wall-clock start (Unix seconds); point times are seconds after it."""
    points: list[dict[str, Any]] = field(default_factory=list)
    stages: list[StageSpan] = field(default_factory=list)
    first_index: int = 0
    """Index of points[0] among every point of the run (older points are dropped beyond MAX_POINTS)."""
    final: dict[str, Any] | None = None
    running: bool = False
    window: int = RATE_WINDOW_SAMPLES
    base: dict[str, float] = field(default_factory=dict)
    """Counters at the start (or at Locust's Reset): the final totals count from them."""
    _recent: deque[tuple[float, Mapping[str, float], Histogram]] = field(default_factory=deque)

    def start(self, now: float, counters: Mapping[str, float], histogram: Histogram) -> None:
        """A new run starts at `now` (wall clock) from these counters (all zero, or where Locust's Reset found
        them: the view then counts from there)."""
        self.started_at = now
        self.base = dict(counters)
        self.points, self.stages, self.first_index, self.final = [], [], 0, None
        self.running = True
        self._recent = deque([(now, dict(counters), dict(histogram))])

    def sample(self, now: float, counters: Mapping[str, float], histogram: Histogram, stage: str) -> None:
        """One point: rates and latency percentiles over the last `window` sample intervals, and gauges."""
        if not self.running or not self._recent:
            return
        before_at, before, before_hist = self._recent[0]
        span = now - before_at
        if span <= 0:
            return

        def rate(*keys: str) -> float:
            return max(0.0, sum(counters[k] - before[k] for k in keys)) / span

        p50, p99 = window_percentiles(before_hist, histogram, (0.5, 0.99))
        t = now - self.started_at
        self.points.append({
            "t": round(t, 3), "stage": stage,
            "messages_sent_per_s": rate("messages_sent"), "messages_received_per_s": rate("messages_received"),
            **{f"{k}_per_s": rate(k) for k in SETTLED},
            "rate_target": counters.get("rate_target", 0.0),
            "connections_open": counters["connections_open"], "calls_in_flight": counters["calls_in_flight"],
            "reconnects": counters["reconnects"] - self.base.get("reconnects", 0.0),
            "connect_failures": counters["connect_failures"] - self.base.get("connect_failures", 0.0),
            "p50_ms": p50, "p99_ms": p99,
        })  # fmt: skip
        if len(self.points) > MAX_POINTS:
            del self.points[0]
            self.first_index += 1
        self._note_stage(stage, t)
        self._recent.append((now, dict(counters), dict(histogram)))
        if len(self._recent) > self.window:
            self._recent.popleft()

    def _note_stage(self, stage: str, t: float) -> None:
        if not stage:
            return
        if self.stages and self.stages[-1].name == stage:
            self.stages[-1].end_s = t
        else:
            start = self.stages[-1].end_s if self.stages else 0.0
            self.stages.append(StageSpan(stage, start, t))

    def finish(self, now: float, counters: Mapping[str, float], workers: str | None) -> None:
        """The run has ended and these are its final counters: totals and mean rates over the whole run."""
        self.running = False
        duration = max(0.0, now - self.started_at)
        counters = {k: v - self.base.get(k, 0.0) if k not in GAUGES else v for k, v in counters.items()}
        settled = sum(counters[k] for k in SETTLED)
        messages = counters["messages_sent"] + counters["messages_received"]
        self.final = {
            "duration_s": round(duration, 3),
            "totals": {k: counters[k] for k in TOTAL_KEYS},
            "calls_per_s": settled / duration if duration > 0 else 0.0,
            "messages_per_s": messages / duration if duration > 0 else 0.0,
            "workers": workers,
        }

    def stage_line(self, current: str | None) -> str:
        """What the view says about stages: the current one while running, the ones run after the end."""
        if self.running:
            if current:
                return current
            return "no scenario" if not self.stages else "between stages"
        if not self.stages:
            return "no scenario"
        return "finished after " + " → ".join(s.name for s in self.stages)

    def view(self, since: int, current_stage: str | None, rate_target: float, workers: str | None) -> dict[str, Any]:
        """The JSON the WebSocket tab polls: points from index `since` on, stages, and live or final figures."""
        start = max(0, since - self.first_index)
        return {
            "started_at": self.started_at,
            "running": self.running,
            "next": self.first_index + len(self.points),
            "first": self.first_index,
            "points": self.points[start:],
            "stages": [{"name": s.name, "start_s": s.start_s, "end_s": s.end_s} for s in self.stages],
            "stage_line": self.stage_line(current_stage),
            "rate_target": rate_target,
            "targets": {"messages_per_s": TARGET_MSGS_PER_S, "stretch_messages_per_s": STRETCH_MSGS_PER_S},
            "workers": workers,
            "final": self.final,
        }
