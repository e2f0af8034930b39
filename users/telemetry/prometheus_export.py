"""The run's WebSocket metrics as Prometheus metric families, read from the aggregated counters on each scrape."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

DURATION_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1,
                      0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # fmt: skip
"""Upper bounds of wsload_call_duration_seconds (sub-millisecond at the low end; Locust keys are 0.01 ms apart)."""
_BOUNDS_MS = [bound * 1000.0 for bound in DURATION_BUCKETS_S]
TOOL_PREFIX = "call_tool:"
"""Locust request names of calls (users/engine/reporter.py)."""
MAX_TOOL_LABELS = 50
"""Distinct `tool` label values; calls of any further tool are counted under OTHER_TOOL."""
MAX_LABEL_CHARS = 64
OTHER_TOOL = "_other"
OUTCOMES = ("ok", "failed", "timeout", "lost")
DISCONNECT_KINDS = {"normal": "closes_normal", "going_away": "closes_going_away", "error": "closes_error",
                    "reset": "resets"}  # fmt: skip
"""wsload_disconnects_total{kind} -> the PREFIX_ws.csv column it mirrors."""
COUNTERS = (
    ("wsload_connects", "WebSocket connections opened (ws.csv connects).", "connects"),
    ("wsload_connect_failures", "Connection attempts that failed (ws.csv connect_failures).", "connect_failures"),
    ("wsload_reconnects", "Connections opened again after a disconnect (ws.csv reconnects).", "reconnects"),
    ("wsload_calls_sent", "Calls sent (ws.csv calls_sent).", "calls_sent"),
    ("wsload_calls_sent_late", "Calls sent behind the rate schedule (ws.csv calls_sent_late).", "calls_sent_late"),
)
GAUGES = (
    ("wsload_calls_in_flight", "Calls sent and not settled (ws.csv calls_in_flight).", "calls_in_flight"),
    ("wsload_connections_open", "WebSocket connections open now (ws.csv connections_open).", "connections_open"),
    ("wsload_rate_target_calls_per_second", "The plan's target call rate (ws.csv rate_target).", "rate_target"),
)


def tool_label(name: str) -> str:
    """A tool's label value, at most MAX_LABEL_CHARS characters."""
    return name[:MAX_LABEL_CHARS]


def call_outcome(error: str) -> str:
    """The ledger outcome of a failed call from its Locust error text (users/wire/errors.py codes)."""
    if error == "timeout":
        return "timeout"
    if error.startswith("connection_lost") or error.startswith("write_timeout"):
        return "lost"
    return "failed"


@dataclass
class ToolView:
    """Per tool: settled calls by outcome and the duration histogram, summed from Locust's (aggregated) stats."""

    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS_S))
    count: int = 0
    sum_s: float = 0.0


def tool_views(stats: Any) -> dict[str, ToolView]:
    """Per tool label, from Locust's stats (duck-typed: `entries`, `errors`); tools past MAX_TOOL_LABELS share
    OTHER_TOOL."""
    views: dict[str, ToolView] = {}
    labels: dict[str, str] = {}

    def view(name: str) -> ToolView:
        label = labels.get(name)
        if label is None:
            label = tool_label(name[len(TOOL_PREFIX) :])
            label = labels[name] = label if len(views) < MAX_TOOL_LABELS or label in views else OTHER_TOOL
        return views.setdefault(label, ToolView())

    for entry in sorted(list(stats.entries.values()), key=lambda e: e.name):
        if not entry.name.startswith(TOOL_PREFIX):
            continue
        tool = view(entry.name)
        tool.outcomes["ok"] += entry.num_requests - entry.num_failures
        tool.count += entry.num_requests - entry.num_none_requests
        tool.sum_s += entry.total_response_time / 1000.0
        buckets, last = tool.buckets, len(_BOUNDS_MS)
        for key_ms, hits in list(entry.response_times.items()):
            i = bisect_left(_BOUNDS_MS, key_ms)  # the first bound >= the key
            if i < last:
                buckets[i] += hits
    for error in list(stats.errors.values()):
        if error.name.startswith(TOOL_PREFIX):
            view(error.name).outcomes[call_outcome(str(error.error))] += error.occurrences
    return views


@dataclass
class RunSources:
    """Where the collector reads on each scrape: the aggregated ws.csv counters, Locust's stats, the user count
    and the thresholds (text -> failing now)."""

    counters: Callable[[], Mapping[str, float]]
    stats: Callable[[], Any] = lambda: None
    users: Callable[[], int] = lambda: 0
    thresholds: Callable[[], Mapping[str, bool]] = dict


class WsCollector:
    """A prometheus_client collector: no per-call cost, every value read from RunSources when scraped."""

    def __init__(self, sources: RunSources) -> None:
        self.sources = sources

    def describe(self) -> list[Metric]:
        """Nothing up front: the registry must not collect at registration."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every wsload_* family, from the sources as they are now."""
        c = self.sources.counters()
        calls = CounterMetricFamily("wsload_calls", "Settled calls by outcome (ws.csv calls_*).", labels=["outcome"])
        for outcome in OUTCOMES:
            calls.add_metric([outcome], c.get(f"calls_{outcome}", 0))
        yield calls
        for name, doc, key in COUNTERS:
            yield CounterMetricFamily(name, doc, value=c.get(key, 0))
        disconnects = CounterMetricFamily("wsload_disconnects", "Disconnects by how they ended.", labels=["kind"])
        for kind, key in DISCONNECT_KINDS.items():
            disconnects.add_metric([kind], c.get(key, 0))
        yield disconnects
        for unit in ("messages", "bytes"):
            family = CounterMetricFamily(f"wsload_{unit}", f"WebSocket {unit} by direction.", labels=["direction"])
            for direction in ("sent", "received"):
                family.add_metric([direction], c.get(f"{unit}_{direction}", 0))
            yield family
        for name, doc, key in GAUGES:
            yield GaugeMetricFamily(name, doc, value=c.get(key, 0))
        yield GaugeMetricFamily("wsload_users", "Users running (Locust's user count).", value=self.sources.users())
        yield from self._tools()
        failing = GaugeMetricFamily("wsload_threshold_failing", "1 while a --threshold fails.", labels=["threshold"])
        for text, now_failing in self.sources.thresholds().items():
            failing.add_metric([text[: MAX_LABEL_CHARS * 2]], 1 if now_failing else 0)
        yield failing

    def _tools(self) -> Iterable[Metric]:
        stats = self.sources.stats()
        views = tool_views(stats) if stats is not None else {}
        by_tool = CounterMetricFamily(
            "wsload_tool_calls",
            "Settled calls by tool and outcome (Locust's call_tool:* stats).",
            labels=["tool", "outcome"],
        )
        durations = HistogramMetricFamily(
            "wsload_call_duration_seconds", "Call duration from send to settling, by tool.", labels=["tool"]
        )
        for label, view in sorted(views.items()):
            for outcome, count in view.outcomes.items():
                by_tool.add_metric([label, outcome], count)
            cumulative, buckets = 0, []
            for bound, hits in zip(DURATION_BUCKETS_S, view.buckets, strict=True):
                cumulative += hits
                buckets.append((repr(bound), cumulative))
            buckets.append(("+Inf", view.count))
            durations.add_metric([label], buckets, view.sum_s)
        yield by_tool
        yield durations
