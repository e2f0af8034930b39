"""Pure progress line of a headless run (like k6's): rates, latency and failures of the last interval."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from analysis.histograms import histogram_delta, percentile

SETTLED = ("calls_ok", "calls_failed", "calls_timeout", "calls_lost")
"""The ledger's outcomes: a call is settled as exactly one of these."""


@dataclass(frozen=True)
class Sample:
    """The run at one moment: seconds since its start, the ws counters, and the summed call_tool histogram."""

    elapsed_s: float
    counters: Mapping[str, float]
    histogram: Mapping[float, int] = field(default_factory=dict)
    errors: Mapping[str, int] = field(default_factory=dict)
    """Occurrences so far of each error Locust grouped (`name: error text`), to name what went wrong."""


PROBLEM_COUNTERS = (
    ("connect_failures", "connect failed"),
    ("hellos_refused", "hello refused"),
    ("closes_error", "error closes"),
    ("resets", "resets"),
)
"""Connection-level counters a progress line names when they moved in its interval (label after the key)."""
MAX_REASON_CHARS = 240


def _delta(before: Sample, after: Sample, key: str) -> float:
    return float(after.counters.get(key, 0)) - float(before.counters.get(key, 0))


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def progress_line(before: Sample, after: Sample, stage: str = "") -> str:
    """One line for the interval between two samples; rates per second of that interval."""
    span = max(after.elapsed_s - before.elapsed_s, 1e-9)
    settled = sum(_delta(before, after, k) for k in SETTLED)
    messages = _delta(before, after, "messages_sent") + _delta(before, after, "messages_received")
    window = histogram_delta(after.histogram, before.histogram)
    parts = [
        f"progress {after.elapsed_s:6.1f}s",
        stage or "-",
        f"{settled / span:,.0f} calls/s",
        f"{messages / span:,.0f} msg/s",
        f"p50 {_ms(percentile(window, 0.5))} ms p99 {_ms(percentile(window, 0.99))} ms",
        f"in flight {int(after.counters.get('calls_in_flight', 0)):,}",
        "failed {:,.0f} timeout {:,.0f} lost {:,.0f}".format(
            *(_delta(before, after, k) for k in ("calls_failed", "calls_timeout", "calls_lost"))
        ),
    ]
    if after.counters.get("sessions", 0):
        parts.append(f"{_delta(before, after, 'sessions') / span:,.0f} sessions/s")
    problems = problems_text(before, after)
    if problems:
        parts.append(problems)
    target = float(after.counters.get("rate_target", 0) or 0)
    if target > 0:
        sent = _delta(before, after, "calls_sent") / span
        parts.append(f"{sent / target:.0%} of {target:,.0f} calls/s target")
    return " | ".join(parts)


def problems_text(before: Sample, after: Sample) -> str:
    """What went wrong in the interval: connection counters that moved, and the most frequent error with its count
    (how many other kinds besides); empty when nothing did."""
    moved = [(label, _delta(before, after, key)) for key, label in PROBLEM_COUNTERS]
    counts = [f"{label} {count:,.0f}" for label, count in moved if count > 0]
    new = {text: n - before.errors.get(text, 0) for text, n in after.errors.items()}
    new = {text: n for text, n in new.items() if n > 0}
    if new:
        top = min(new, key=lambda text: (-new[text], text))
        reason = top if len(top) <= MAX_REASON_CHARS else top[: MAX_REASON_CHARS - 3] + "..."
        others = f" (+{len(new) - 1} other kinds)" if len(new) > 1 else ""
        counts.append(f"errors: {reason} x{new[top]:,}{others}")
    return ", ".join(counts)
