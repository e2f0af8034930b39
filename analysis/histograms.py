"""Pure response-time histograms as Locust keeps them (ms bucket -> count): totals, deltas, percentiles.

Shared by the scenario shape (knee detection) and the users' progress line; imports nothing outside the standard
library, and reads Locust's stats by duck typing (`stats.entries`, each with `name`, `num_requests`,
`num_failures`, `response_times`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CALL_PREFIX = "call_tool:"


def call_totals(stats: Any) -> tuple[dict[float, int], int, int]:
    """Summed (histogram, requests, failures) of every call_tool:* entry of Locust's stats."""
    histogram: dict[float, int] = {}
    requests = failures = 0
    for entry in list(stats.entries.values()):
        if not entry.name.startswith(CALL_PREFIX):
            continue
        requests += entry.num_requests
        failures += entry.num_failures
        for bucket, count in list(entry.response_times.items()):
            histogram[bucket] = histogram.get(bucket, 0) + count
    return histogram, requests, failures


def histogram_delta(after: Mapping[float, int], before: Mapping[float, int]) -> dict[float, int]:
    """Counts added between two snapshots of a cumulative histogram."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}


def percentile(histogram: Mapping[float, int], fraction: float) -> float | None:
    """The bucket at `fraction` (0..1] of the counts, as Locust computes percentiles; None when empty."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = fraction * total
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return max(histogram)
