"""The wsload instruments for OpenTelemetry: names, kinds and each one's (value, attributes) from RunSources (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from users.telemetry.prometheus_export import (
    COUNTERS,
    DISCONNECT_KINDS,
    GAUGES,
    MAX_LABEL_CHARS,
    OUTCOMES,
    RunSources,
    tool_views,
)

Reading = list[tuple[float, dict[str, str]]]
"""An instrument's observations now: (value, attributes)."""


@dataclass(frozen=True)
class Instrument:
    """One observable instrument: its OpenTelemetry name, kind ("counter" or "gauge"), unit, help and reading."""

    name: str
    kind: str
    unit: str
    description: str
    read: Callable[[RunSources], Reading]


def otel_name(prometheus_name: str) -> str:
    """wsload_calls_sent -> wsload.calls_sent (an OTLP -> Prometheus bridge gives back the Prometheus name)."""
    return "wsload." + prometheus_name.removeprefix("wsload_")


def _column(key: str) -> Callable[[RunSources], Reading]:
    return lambda sources: [(float(sources.counters().get(key, 0)), {})]


def _labelled(attribute: str, columns: dict[str, str]) -> Callable[[RunSources], Reading]:
    def read(sources: RunSources) -> Reading:
        counters = sources.counters()
        return [(float(counters.get(column, 0)), {attribute: value}) for value, column in columns.items()]

    return read


def _tool_calls(sources: RunSources) -> Reading:
    stats = sources.stats()
    views = tool_views(stats) if stats is not None else {}
    return [
        (float(n), {"tool": tool, "outcome": o}) for tool, v in sorted(views.items()) for o, n in v.outcomes.items()
    ]


def _thresholds(sources: RunSources) -> Reading:
    return [(1.0 if failing else 0.0, {"threshold": text[: MAX_LABEL_CHARS * 2]})
            for text, failing in sources.thresholds().items()]  # fmt: skip


def instruments() -> list[Instrument]:
    """Every wsload instrument the master (or the only process) observes; the same values as /metrics."""
    found = [
        Instrument("wsload.calls", "counter", "{call}", "Settled calls by outcome (ws.csv calls_*).",
                   _labelled("outcome", {o: f"calls_{o}" for o in OUTCOMES})),
        Instrument("wsload.tool_calls", "counter", "{call}", "Settled calls by tool and outcome.", _tool_calls),
        Instrument("wsload.disconnects", "counter", "{disconnect}", "Disconnects by how they ended.",
                   _labelled("kind", DISCONNECT_KINDS)),
        Instrument("wsload.messages", "counter", "{message}", "WebSocket messages by direction.",
                   _labelled("direction", {d: f"messages_{d}" for d in ("sent", "received")})),
        Instrument("wsload.bytes", "counter", "By", "WebSocket payload bytes by direction.",
                   _labelled("direction", {d: f"bytes_{d}" for d in ("sent", "received")})),
        Instrument("wsload.users", "gauge", "{user}", "Users running.", lambda s: [(float(s.users()), {})]),
        Instrument("wsload.threshold_failing", "gauge", "1", "1 while a --threshold fails.", _thresholds),
    ]  # fmt: skip
    found += [Instrument(otel_name(n), "counter", "1", doc, _column(key)) for n, doc, key in COUNTERS]
    found += [Instrument(otel_name(n), "gauge", "1", doc, _column(key)) for n, doc, key in GAUGES]
    return found
