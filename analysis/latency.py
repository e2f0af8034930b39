"""Latency of a run: per-name percentile tables, calls of several tools mixed, and latency over time."""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right

import pandas as pd

from analysis.load import Run
from analysis.throughput import call_names, increasing, last_rows

REPORTED_PERCENTILES = [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999)]
"""Percentiles in tables and summary.json (plus max)."""

CALLS = "calls (all tools)"
"""Row name of the combined call latency when more than one tool was called."""


def percentile_knots(row: pd.Series, low_col: str = "min_ms", high_col: str = "max_ms") -> list[tuple[float, float]]:
    """(quantile, ms) points of one row's distribution: min at 0, its percentiles, max at 1; non-decreasing."""
    points: list[tuple[float, float]] = []
    for column, value in row.items():
        match = re.fullmatch(r"p(\d+(?:\.\d+)?)_ms", str(column))
        if match and not pd.isna(value):
            q = float(match.group(1)) / 100
            if q < 1:
                points.append((q, float(value)))
    points.sort()
    high = row.get(high_col, math.nan)
    if pd.isna(high):
        high = row.get("p100_ms", math.nan)
    if not points and pd.isna(high):
        return []
    low = row.get(low_col, math.nan)
    first = points[0][1] if points else float(high)
    low = first if pd.isna(low) else min(float(low), first)
    knots = [(0.0, low), *points]
    if not pd.isna(high):
        knots.append((1.0, max(float(high), knots[-1][1])))
    result, top = [], -math.inf
    for q, ms in knots:
        top = max(top, ms)
        result.append((q, top))
    return result


def _cdf(knots: list[tuple[float, float]], x: float, left: bool = False) -> float:
    """Piecewise-linear CDF through the knots, right-continuous; `left` gives its limit from below at x."""
    xs = [ms for _, ms in knots]
    k = (bisect_left(xs, x) if left else bisect_right(xs, x)) - 1  # last knot at (left: strictly below) x
    if k < 0:
        return 0.0
    if k == len(knots) - 1:
        return knots[-1][0]
    (q0, x0), (q1, x1) = knots[k], knots[k + 1]
    return q0 + (q1 - q0) * (x - x0) / (x1 - x0)


def mix_percentiles(components: list[tuple[float, list[tuple[float, float]]]], quantiles: list[float]) -> list[float]:
    """Quantiles of the weighted mixture of distributions given as percentile knots (exact for one component).

    Each component is (weight, knots); between knots a distribution is taken as uniform, so the result is an
    estimate when the components differ: Locust writes percentiles, not the samples.
    """
    parts = [(w, k) for w, k in components if w > 0 and len(k) >= 1]
    if not parts:
        return [math.nan for _ in quantiles]
    total = sum(w for w, _ in parts)
    xs = sorted({ms for _, knots in parts for _, ms in knots})

    def mixed(x: float, left: bool = False) -> float:
        return sum(w * _cdf(k, x, left) for w, k in parts) / total

    at = [mixed(x) for x in xs]
    out = []
    for q in quantiles:
        j = next((i for i, g in enumerate(at) if g >= q - 1e-9), len(xs) - 1)
        if j == 0:
            out.append(xs[0])
            continue
        below, reach = at[j - 1], mixed(xs[j], left=True)
        if q <= reach and reach > below:
            out.append(xs[j - 1] + (q - below) / (reach - below) * (xs[j] - xs[j - 1]))
        else:
            out.append(xs[j])
    return out


def latency_table(stats: pd.DataFrame) -> pd.DataFrame:
    """Per request name: requests, failures, p50/p90/p95/p99/p99.9 and max (ms); plus all calls combined."""
    rows: dict[str, dict[str, float]] = {}
    for _, row in stats.iterrows():
        name = str(row["name"])
        if name == "Aggregated":
            continue
        rows[name] = _latency_row(row)
    calls = [n for n in call_names(stats) if n in rows and rows[n]["requests"] > 0]
    if len(calls) > 1:
        parts = [(rows[n]["requests"], percentile_knots(_stats_row(stats, n))) for n in calls]
        mixed = mix_percentiles(parts, [q for _, q in REPORTED_PERCENTILES])
        combined = {
            "requests": sum(rows[n]["requests"] for n in calls),
            "failures": sum(rows[n]["failures"] for n in calls),
        }
        combined.update({label: value for (label, _), value in zip(REPORTED_PERCENTILES, mixed, strict=True)})
        combined["max"] = max(rows[n]["max"] for n in calls)
        rows[CALLS] = combined
    columns = ["requests", "failures", *(label for label, _ in REPORTED_PERCENTILES), "max"]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table.index.name = "name"
    return table


def _stats_row(stats: pd.DataFrame, name: str) -> pd.Series:
    return stats[stats["name"] == name].iloc[-1]


def _latency_row(row: pd.Series) -> dict[str, float]:
    out: dict[str, float] = {"requests": float(row["requests"]), "failures": float(row["failures"])}
    for label, _ in REPORTED_PERCENTILES:
        out[label] = float(row.get(f"{label}_ms", math.nan))
    out["max"] = float(row["max_ms"]) if row["requests"] > 0 else math.nan
    for label, _ in REPORTED_PERCENTILES:  # a percentile is a rounded bucket: never above the exact max
        out[label] = min(out[label], out["max"]) if not math.isnan(out["max"]) else out[label]
    if row["requests"] == 0:
        out.update({label: math.nan for label, _ in REPORTED_PERCENTILES})
    return out


OVER_TIME_PERCENTILES = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)]

OVER_TIME_COLUMNS = ["elapsed_s", *(label for label, _ in OVER_TIME_PERCENTILES), "mean"]

NON_CALL_COUNTERS = ("connects", "connect_failures", "hellos_ok", "hellos_refused", "protocol_errors")
"""PREFIX_ws.csv counters of the requests Locust logs besides calls (connect, hello, protocol_error)."""

WINDOWED = "percentiles of the last ~10 s (Locust's current percentiles, call_tool rows; --csv-full-history)"

MEAN_CALLS = (
    "mean call latency of each interval, from the Aggregated row's cumulative count and average; intervals with"
    " connect/hello requests are left out (percentiles over time need --csv-full-history)"
)

MEAN_ALL = (
    "mean latency of each interval over ALL requests, connect/hello included (no PREFIX_ws.csv to tell them"
    " apart); percentiles over time need --csv-full-history"
)


def latency_over_time(run: Run, origin: float) -> tuple[pd.DataFrame, str]:
    """Call latency (ms) per history row time, and what it is.

    With --csv-full-history: Locust's windowed percentiles of the call_tool rows, mixed. Without it Locust writes
    only the Aggregated row, whose percentiles are cumulative and include connect/hello: the mean of each interval
    is derived from its cumulative count and average instead, leaving out intervals with connect/hello requests.
    """
    history = last_rows(run.history)
    per_name = history[history["name"].isin(call_names(run.stats))]
    if run.full_history and len(per_name):
        return _windowed_percentiles(per_name, origin), WINDOWED
    aggregated = history[history["name"] == "Aggregated"]
    busy = non_call_activity(run.ws, origin)
    return interval_mean_latency(aggregated, origin, busy), MEAN_ALL if busy is None else MEAN_CALLS


def non_call_activity(ws: pd.DataFrame | None, origin: float):
    """A function (t0, t1) -> whether connect/hello/protocol_error requests may have happened between the Unix times
    t0 and t1, judged from PREFIX_ws.csv's counters (conservatively: rows at or before t0 and at or after t1);
    None without a WebSocket CSV (or its timestamps)."""
    if ws is None or math.isnan(origin):
        return None
    present = [c for c in NON_CALL_COUNTERS if c in ws]
    if not present:
        return None
    times = [origin, *(origin + float(t) for t in ws["elapsed_s"])]
    counts = [0.0, *ws[present].astype(float).sum(axis=1).tolist()]

    def busy(t0: float, t1: float) -> bool:
        before = max(0, bisect_right(times, t0) - 1)
        after = min(len(times) - 1, bisect_left(times, t1))
        return counts[after] > counts[before]

    return busy


def interval_mean_latency(aggregated: pd.DataFrame, origin: float, busy=None) -> pd.DataFrame:
    """Mean latency of each interval between history rows: (sum at t1 - sum at t0) / (count at t1 - count at t0),
    sums being Locust's cumulative average times count. Locust stamps a row with int(now), so the row at T was
    taken within [T, T + 1); `busy(T0, T1 + 1)` True leaves the interval out (NaN)."""
    if aggregated.empty or "total_avg_ms" not in aggregated:
        return pd.DataFrame(columns=OVER_TIME_COLUMNS, dtype=float)
    rows = aggregated.sort_values("timestamp_s", kind="stable")
    rows = rows[increasing(rows["timestamp_s"])]
    times = rows["timestamp_s"].astype(float).tolist()
    counts = rows["total_requests"].astype(float).tolist()
    sums = (rows["total_avg_ms"].astype(float) * rows["total_requests"]).tolist()
    records = []
    for i in range(1, len(times)):
        done = counts[i] - counts[i - 1]
        mean = (sums[i] - sums[i - 1]) / done if done > 0 else math.nan
        if busy is not None and busy(times[i - 1], times[i] + 1):
            mean = math.nan
        records.append({"elapsed_s": times[i] - origin, "mean": mean})
    return pd.DataFrame(records, columns=OVER_TIME_COLUMNS, dtype=float)


def _windowed_percentiles(rows: pd.DataFrame, origin: float) -> pd.DataFrame:
    """The windowed percentiles of the call rows at each history time, mixed by each row's current rate."""
    labels = OVER_TIME_PERCENTILES
    records = []
    for timestamp, group in rows.groupby("timestamp_s", sort=True):
        parts = []
        for _, row in group.iterrows():
            knots = _window_knots(row)
            if knots:
                weight = row.get("locust_requests_per_s", math.nan)
                parts.append((float(weight) if not pd.isna(weight) and weight > 0 else 1e-9, knots))
        values = mix_percentiles(parts, [q for _, q in labels])
        records.append(
            {"elapsed_s": float(timestamp) - origin, **{label: v for (label, _), v in zip(labels, values, strict=True)}}
        )
    return pd.DataFrame(records, columns=OVER_TIME_COLUMNS, dtype=float)


def _window_knots(row: pd.Series) -> list[tuple[float, float]]:
    """Knots of a history row's percentiles; all zeros means Locust had no window yet (not 0 ms)."""
    values = [v for c, v in row.items() if re.fullmatch(r"p[\d.]+_ms", str(c)) and not pd.isna(v)]
    if not values or max(values) == 0 or row.get("total_requests", 0) == 0:
        return []
    return percentile_knots(row, low_col="total_min_ms", high_col="p100_ms")
