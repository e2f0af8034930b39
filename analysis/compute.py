"""Pure computations on a loaded run: throughput from counter differences, latency tables, accounting, verdicts."""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace

import pandas as pd

from analysis.load import Run

PEAK_WINDOW_S = 10.0
"""Width of the sliding window for peak rates."""

WINDOW_TOLERANCE_S = 0.5
"""A window of rows at least this much shorter than PEAK_WINDOW_S still counts (rows are ~1 s apart, with jitter)."""

REPORTED_PERCENTILES = [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999)]
"""Percentiles in tables and summary.json (plus max)."""

CALLS = "calls (all tools)"
"""Row name of the combined call latency when more than one tool was called."""

NON_CALL_NAMES = {"connect", "hello", "session", "protocol_error", "Aggregated"}

ERROR_KINDS = {
    "calls_failed": "call failed (error code)",
    "calls_timeout": "call timeout",
    "calls_lost": "call lost",
    "connect_failures": "connect failed",
    "hellos_refused": "hello refused",
    "protocol_errors": "protocol error",
}
"""WebSocket counters that count errors, with their labels."""


@dataclass(frozen=True)
class Thresholds:
    """Targets a run is checked against; the throughput ones are in messages/s (sent + received)."""

    target_msgs_per_s: float = 50_000.0
    stretch_msgs_per_s: float = 200_000.0
    throughput_stat: str = "mean"
    call_p99_ms: float = 100.0
    call_p50_ms: float = 5.0
    connect_p99_ms: float = 10.0
    min_success: float = 0.99


@dataclass(frozen=True)
class RateStat:
    """A rate over the whole run and its highest value over any ~10 s window."""

    mean: float
    peak_10s: float

    def as_dict(self) -> dict[str, float | None]:
        return {"mean": _json_number(self.mean), "peak_10s": _json_number(self.peak_10s)}


@dataclass(frozen=True)
class Throughput:
    """Per-interval rates (`series`) and their summary; `source` says where the counts came from."""

    series: pd.DataFrame
    calls: RateStat
    messages: RateStat
    sent: RateStat
    received: RateStat
    duration_s: float
    source: str
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """One checked target; `gates` is False for those reported but not part of the verdict."""

    name: str
    comparison: str
    target: float
    unit: str
    measured: float
    ok: bool | None
    gates: bool = True
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "comparison": self.comparison,
            "target": self.target,
            "unit": self.unit,
            "measured": _json_number(self.measured),
            "ok": self.ok,
            "gates": self.gates,
            "note": self.note,
        }


@dataclass(frozen=True)
class Ledger:
    """The call ledger at the end of the run: sent = ok + failed + timeout + lost (+ in flight)."""

    sent: int
    ok: int
    failed: int
    timeout: int
    lost: int
    in_flight: int

    @property
    def holds(self) -> bool:
        return self.sent == self.ok + self.failed + self.timeout + self.lost + self.in_flight


@dataclass(frozen=True)
class StageSpan:
    """A contiguous stretch of rows with the same non-empty `stage`, and its mean rates."""

    stage: str
    start_s: float
    end_s: float
    calls_per_s: float
    messages_per_s: float


@dataclass(frozen=True)
class Summary:
    """Everything the report shows, computed from one run."""

    prefix: str
    sources: list[str]
    throughput: Throughput
    latency: pd.DataFrame
    latency_over_time: pd.DataFrame
    latency_over_time_kind: str
    success_rate: float
    calls_total: int
    calls_failed: int
    ledger: Ledger | None
    connections: dict[str, int]
    connections_over_time: pd.DataFrame
    errors_over_time: pd.DataFrame
    failures_over_time: pd.DataFrame
    failures: pd.DataFrame
    exceptions: pd.DataFrame
    stages: list[StageSpan]
    targets: list[Target]
    thresholds: Thresholds
    rate_checks: list[RateCheck] = field(default_factory=list)
    rate_overshoots: pd.DataFrame | None = None

    @property
    def verdict(self) -> str:
        return verdict(self.targets)

    @property
    def call_latency_name(self) -> str | None:
        """The latency row that stands for all calls (the one tool's row when there is only one)."""
        names = [n for n in self.latency.index if n == CALLS]
        if names:
            return CALLS
        calls = [n for n in self.latency.index if n not in NON_CALL_NAMES and self.latency.loc[n, "requests"] > 0]
        return calls[0] if len(calls) == 1 else None


def _json_number(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


# --- throughput -------------------------------------------------------------------------------------------------


def call_names(stats: pd.DataFrame) -> list[str]:
    """Request names that are calls: `call_tool:*`, or (another locustfile) every name but ours and Aggregated."""
    names = [str(n) for n in stats["name"] if str(n) != "Aggregated"]
    calls = [n for n in names if n.startswith("call_tool:")]
    return calls if calls else [n for n in names if n not in NON_CALL_NAMES]


def start_time(run: Run) -> float:
    """Unix time of the run's start: the WebSocket CSV's origin, else the first history row."""
    if run.ws is not None and "timestamp" in run.ws and run.ws["timestamp"].notna().any():
        first = run.ws.dropna(subset=["timestamp"]).iloc[0]
        return float(first["timestamp"] - first["elapsed_s"])
    if len(run.history):
        return float(run.history["timestamp_s"].min())
    return math.nan


def cumulative_counts(run: Run) -> tuple[pd.DataFrame, str, list[str]]:
    """Cumulative calls, messages sent and received by elapsed time, one row per CSV row."""
    if run.ws is not None:
        notes = []
        if not all(c in run.ws for c in ("messages_sent", "messages_received")):
            notes.append("messages derived as two per call: the WebSocket CSV has no message counters")
        return ws_counts(run.ws), "ws", notes
    history = last_rows(run.history)
    names = call_names(run.stats)
    per_name = history[history["name"].isin(names)]
    notes = ["messages derived as two per call (one sent, one received): no PREFIX_ws.csv in this run"]
    if len(per_name):
        table = per_name.pivot(index="timestamp_s", columns="name", values="total_requests").sort_index()
        totals = table.ffill().fillna(0).sum(axis=1)
    else:
        aggregated = history[history["name"] == "Aggregated"].set_index("timestamp_s")["total_requests"]
        totals = aggregated.sort_index()
        if len(aggregated):
            notes.append("calls counted from the Aggregated history row (includes connect/hello requests)")
    origin = start_time(run)
    counts = pd.DataFrame(
        {"elapsed_s": totals.index - origin, "calls": totals.values, "sent": totals.values, "received": totals.values}
    ).astype(float)
    return counts, "history", notes


def ws_counts(ws: pd.DataFrame) -> pd.DataFrame:
    """Cumulative calls settled (ok + failed + timeout + lost), messages sent and received, by elapsed time."""
    if all(c in ws for c in ("calls_ok", "calls_failed", "calls_timeout", "calls_lost")):
        calls = ws["calls_ok"] + ws["calls_failed"] + ws["calls_timeout"] + ws["calls_lost"]
    else:
        calls = ws["calls_sent"] - (ws["calls_in_flight"] if "calls_in_flight" in ws else 0)
    if "messages_sent" in ws and "messages_received" in ws:
        sent, received = ws["messages_sent"], ws["messages_received"]
    else:
        sent = received = calls
    frame = pd.DataFrame({"elapsed_s": ws["elapsed_s"], "calls": calls, "sent": sent, "received": received})
    return frame.astype(float).reset_index(drop=True)


def _from_zero(counts: pd.DataFrame) -> pd.DataFrame:
    """Prepend the zero row at 0 s that the WebSocket CSV implies (its counters start with the run)."""
    if len(counts) and counts["elapsed_s"].iloc[0] > 0:
        zero = pd.DataFrame({c: [0.0] for c in counts.columns})
        counts = pd.concat([zero, counts], ignore_index=True)
    return counts.reset_index(drop=True)


def last_rows(history: pd.DataFrame) -> pd.DataFrame:
    """The history without repeated (timestamp, name) rows: the last one written wins."""
    return history.drop_duplicates(subset=["timestamp_s", "name"], keep="last").reset_index(drop=True)


def increasing(times: pd.Series) -> pd.Series:
    """Mask of the rows to use for intervals: each later than every row kept before it (the others are skipped)."""
    keep, latest = [], -math.inf
    for value in times:
        later = not pd.isna(value) and float(value) > latest
        keep.append(later)
        if later:
            latest = float(value)
    return pd.Series(keep, index=times.index, dtype=bool)


def interval_rates(elapsed: pd.Series, counts: pd.DataFrame) -> pd.DataFrame:
    """Rate of each counter column over each interval between consecutive rows, stamped at the interval's end.

    Intervals are the true time differences between rows (never assumed to be 1 s); rows whose time is not later
    than the row before are skipped; the first interval starts at the first row.
    """
    mask = increasing(elapsed)
    times, values = elapsed[mask].reset_index(drop=True), counts[mask].reset_index(drop=True)
    span = times.diff()
    rates = values.diff().div(span, axis=0).iloc[1:]
    rates.insert(0, "interval_s", span.iloc[1:])
    rates.insert(0, "elapsed_s", times.iloc[1:])
    return rates.reset_index(drop=True)


def rate_stat(elapsed: pd.Series, count: pd.Series, window_s: float = PEAK_WINDOW_S) -> RateStat:
    """Mean rate over the whole series and the peak over windows of about `window_s` between rows."""
    times = [float(t) for t in elapsed]
    values = [float(v) for v in count]
    if len(times) < 2 or times[-1] <= times[0]:
        return RateStat(math.nan, math.nan)
    mean = (values[-1] - values[0]) / (times[-1] - times[0])
    peak = math.nan
    for i in range(1, len(times)):
        # the latest row that starts a window of at least window_s (less a tolerance) ending at row i
        j = bisect_right(times, times[i] - (window_s - WINDOW_TOLERANCE_S)) - 1
        if j < 0:
            continue
        rate = (values[i] - values[j]) / (times[i] - times[j])
        peak = rate if math.isnan(peak) else max(peak, rate)
    if math.isnan(peak):
        peak = mean  # the run is shorter than one window
    return RateStat(mean, peak)


def throughput(run: Run) -> Throughput:
    """calls/s, messages/s (sent + received), sent/s and received/s: series, mean and 10 s peak."""
    rows, source, notes = cumulative_counts(run)
    rows["messages"] = rows["sent"] + rows["received"]
    rows = rows[increasing(rows["elapsed_s"])].reset_index(drop=True)
    series = interval_rates(rows["elapsed_s"], rows[["calls", "messages", "sent", "received"]])
    series.columns = ["elapsed_s", "interval_s", "calls_per_s", "messages_per_s", "sent_per_s", "received_per_s"]
    counts = _from_zero(rows)  # the mean and peaks count from the run's start, where the counters are 0
    elapsed = counts["elapsed_s"]
    duration = float(elapsed.iloc[-1] - elapsed.iloc[0]) if len(elapsed) else math.nan
    return Throughput(
        series=series,
        calls=rate_stat(elapsed, counts["calls"]),
        messages=rate_stat(elapsed, counts["messages"]),
        sent=rate_stat(elapsed, counts["sent"]),
        received=rate_stat(elapsed, counts["received"]),
        duration_s=duration,
        source=source,
        notes=[*notes, *outlier_notes(series)],
    )


OUTLIER_FACTOR = 2.0
"""An interval whose calls/s is more than this times the run's median is named in the report's notes."""


def worst_interval(series: pd.DataFrame, column: str = "calls_per_s") -> tuple[pd.Series | None, float]:
    """The interval with the highest rate in `column`, and the median of all intervals (None, NaN when empty)."""
    rates = series[column].dropna() if column in series else pd.Series(dtype=float)
    if rates.empty:
        return None, math.nan
    return series.loc[rates.idxmax()], float(rates.median())


def outlier_notes(series: pd.DataFrame) -> list[str]:
    """A note when the busiest interval ran at more than OUTLIER_FACTOR times the median calls/s."""
    worst, median = worst_interval(series)
    if worst is None or not median > 0 or worst["calls_per_s"] <= OUTLIER_FACTOR * median:
        return []
    start, end = worst["elapsed_s"] - worst["interval_s"], worst["elapsed_s"]
    return [
        f"busiest interval {start:.1f}-{end:.1f} s ({worst['interval_s']:.2f} s): {worst['calls_per_s']:,.0f} calls/s,"
        f" {worst['calls_per_s'] / median:.1f}x the median interval ({median:,.0f} calls/s). Rates are counter"
        " differences over each interval's true length: the traffic did this, or that row's counters are not"
        " those of its timestamp"
    ]


# --- latency ------------------------------------------------------------------------------------------------------


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


# --- errors, accounting, stages -----------------------------------------------------------------------------------


def errors_over_time(run: Run, origin: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Errors/s by kind from the WebSocket counters, and failures/s per request name from the history."""
    by_kind = pd.DataFrame({"elapsed_s": pd.Series(dtype=float)})
    if run.ws is not None:
        present = [c for c in ERROR_KINDS if c in run.ws]
        counts = run.ws[["elapsed_s", *present]].astype(float)
        by_kind = interval_rates(counts["elapsed_s"], counts[present]).rename(columns=ERROR_KINDS)
    history = last_rows(run.history)
    per_name = history[history["name"] != "Aggregated"] if run.full_history else history
    by_name = pd.DataFrame({"elapsed_s": pd.Series(dtype=float)})
    if len(per_name):
        table = per_name.pivot(index="timestamp_s", columns="name", values="total_failures").sort_index()
        table = table.ffill().fillna(0)
        elapsed = pd.Series(table.index - origin, index=table.index)
        by_name = interval_rates(elapsed, table)
    return by_kind, by_name


def failures_by_code(failures: pd.DataFrame) -> pd.DataFrame:
    """Failures grouped by (code, name) with their count and one full message, most frequent first."""
    if failures.empty:
        return pd.DataFrame(columns=["code", "name", "occurrences", "message"])
    frame = pd.DataFrame(
        {
            "code": [error_code(str(e)) for e in failures["error"]],
            "name": failures["name"].astype(str),
            "occurrences": failures["occurrences"].astype(int),
            "message": failures["error"].astype(str),
        }
    )
    grouped = frame.groupby(["code", "name"], as_index=False, sort=False).agg(
        occurrences=("occurrences", "sum"), message=("message", "first")
    )
    return grouped.sort_values(["occurrences", "code", "name"], ascending=[False, True, True]).reset_index(drop=True)


def error_code(error: str) -> str:
    """The code of a Locust failure message: `tool_failed`, `connect_failed: ...` -> `connect_failed`, ..."""
    text = error.strip()
    match = re.match(r"^([A-Za-z_][\w.-]*)\s*(?:[:(]|$)", text)
    if match:
        return match.group(1)
    return text[:60] if text else "(empty)"


def ledger(ws: pd.DataFrame | None) -> Ledger | None:
    """The call ledger from the last row of the WebSocket CSV (None without one)."""
    if ws is None:
        return None
    last = ws.iloc[-1]

    def get(name: str) -> int:
        return int(last[name]) if name in ws and not pd.isna(last[name]) else 0

    return Ledger(
        get("calls_sent"), get("calls_ok"), get("calls_failed"), get("calls_timeout"), get("calls_lost"),
        get("calls_in_flight"),
    )  # fmt: skip


CONNECTION_COUNTERS = [
    "connects",
    "reconnects",
    "connect_failures",
    "disconnects",
    "connections_open",
    "hellos_ok",
    "hellos_refused",
    "protocol_errors",
    "calls_late_results",
    "calls_unknown_results",
    "calls_duplicate_results",
    "pushes_received",
    "push_gaps",
    "push_duplicates",
    "push_reordered",
    "pushes_untracked",
    "ping_timeouts",
    "storm_drops",
    "reconnect_attempts",
    "sessions",
    "sessions_late",
    "calls_sent_late",
    "calls_skipped",
]
"""Counters shown at the end of the run when the WebSocket CSV has them (newer columns are optional)."""


def connection_totals(ws: pd.DataFrame | None) -> dict[str, int]:
    """Connection and protocol counters at the end of the run (those present)."""
    if ws is None:
        return {}
    last = ws.iloc[-1]
    return {name: int(last[name]) for name in CONNECTION_COUNTERS if name in ws and not pd.isna(last[name])}


def connections_over_time(ws: pd.DataFrame | None) -> pd.DataFrame:
    """Open connections and calls in flight (gauges) at each row, and reconnects/connect failures/disconnects per
    second over the interval ending at each row (NaN on the first row)."""
    if ws is None:
        return pd.DataFrame({"elapsed_s": pd.Series(dtype=float)})
    ws = ws[increasing(ws["elapsed_s"])]
    gauges = ws[["elapsed_s", *(c for c in ("connections_open", "calls_in_flight") if c in ws)]].astype(float)
    counters = [c for c in ("reconnects", "connect_failures", "disconnects") if c in ws]
    counts = ws[["elapsed_s", *counters]].astype(float)
    rates = interval_rates(counts["elapsed_s"], counts[counters])
    rates.columns = ["elapsed_s", "interval_s", *(f"{c}_per_s" for c in counters)]
    return gauges.merge(rates, on="elapsed_s", how="left")


def stage_spans(ws: pd.DataFrame | None) -> list[StageSpan]:
    """Contiguous runs of rows with the same non-empty stage, with their mean rates.

    A row's stage is the one running when the row was written, so a stage's span runs from its first row to the
    first row of the next stage (the first stage from 0 s, the last to its last row).
    """
    if ws is None or "stage" not in ws:
        return []
    ws = ws[increasing(ws["elapsed_s"])].reset_index(drop=True)
    stages = ["" if pd.isna(s) else str(s).strip() for s in ws["stage"]]
    counts = ws_counts(ws)
    times = counts["elapsed_s"].tolist()
    calls = counts["calls"].tolist()
    messages = (counts["sent"] + counts["received"]).tolist()
    spans: list[StageSpan] = []
    i = 0
    while i < len(stages):
        j = i
        while j + 1 < len(stages) and stages[j + 1] == stages[i]:
            j += 1
        if stages[i]:
            first = None if i == 0 else i  # None: from 0 s, where the counters are 0
            last = j + 1 if j + 1 < len(stages) else j
            start = 0.0 if first is None else times[first]
            width = times[last] - start
            done_calls = calls[last] - (0.0 if first is None else calls[first])
            done_messages = messages[last] - (0.0 if first is None else messages[first])
            spans.append(
                StageSpan(
                    stages[i],
                    start,
                    times[last],
                    done_calls / width if width > 0 else math.nan,
                    done_messages / width if width > 0 else math.nan,
                )
            )
        i = j + 1
    return spans


# --- success and targets ------------------------------------------------------------------------------------------


def call_totals(run: Run) -> tuple[int, int]:
    """(calls settled, calls not ok): from the ledger when there is one, else from Locust's call names."""
    book = ledger(run.ws)
    if book is not None and "calls_ok" in run.ws:
        settled = book.ok + book.failed + book.timeout + book.lost
        return settled, settled - book.ok
    names = call_names(run.stats)
    rows = run.stats[run.stats["name"].isin(names)]
    return int(rows["requests"].sum()), int(rows["failures"].sum())


MIN_PERCENTILE_SAMPLES = 20
"""A percentile target is judged on at least this many samples, and on at least 1 / (1 - q): p99 needs 100."""


def min_samples(quantile: float) -> int:
    """Fewest samples a percentile target is judged on: p50/p90/p95 20, p99 100, p99.9 1000."""
    return max(MIN_PERCENTILE_SAMPLES, round(1 / (1 - quantile)))


def percentile_target(name: str, target_ms: float, latency: pd.DataFrame, row: str | None, label: str) -> Target:
    """`row`'s percentile `label` below `target_ms`; not judged (ok None, does not fail) on too few samples."""
    quantile = dict(REPORTED_PERCENTILES)[label]
    if row is None or row not in latency.index:
        return _below(name, target_ms, "ms", math.nan)
    measured, samples = float(latency.loc[row, label]), int(latency.loc[row, "requests"])
    needed = min_samples(quantile)
    if samples < needed:
        note = f"{samples:,} samples ({label} needs ≥ {needed:,})"
        if samples:
            note += f"; max {fmt_number_ms(float(latency.loc[row, 'max']))} ms"
        return Target(name, "<", target_ms, "ms", measured, None, True, note)
    return _below(name, target_ms, "ms", measured)


def fmt_number_ms(value: float) -> str:
    """Milliseconds with the precision they have: 0.28, 14.1, 260."""
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def evaluate_targets(
    thresholds: Thresholds,
    tput: Throughput,
    latency: pd.DataFrame,
    call_row: str | None,
    success_rate: float,
    rate_checks: list[RateCheck] | None = None,
) -> list[Target]:
    """The checked targets, in report order; the stretch target is reported but does not gate."""
    stat = thresholds.throughput_stat
    msgs = tput.messages.mean if stat == "mean" else tput.messages.peak_10s
    label = "mean" if stat == "mean" else "peak 10 s"
    targets = [
        _at_least(f"messages/s ({label}) floor", thresholds.target_msgs_per_s, "msg/s", msgs, gates=True),
        _at_least(f"messages/s ({label}) stretch", thresholds.stretch_msgs_per_s, "msg/s", msgs, gates=False),
    ]

    targets.append(percentile_target("call p99", thresholds.call_p99_ms, latency, call_row, "p99"))
    targets.append(percentile_target("call p50", thresholds.call_p50_ms, latency, call_row, "p50"))
    if "connect" in latency.index and latency.loc["connect", "requests"] > 0:
        targets.append(percentile_target("connect p99", thresholds.connect_p99_ms, latency, "connect", "p99"))
    else:
        targets.append(
            Target("connect p99", "<", thresholds.connect_p99_ms, "ms", math.nan, None, True, "no connect requests")
        )
    targets.append(_at_least("call success rate", thresholds.min_success, "ratio", success_rate, gates=True))
    targets.extend(rate_target(check) for check in rate_checks or [])
    return targets


# --- open-model rate targets --------------------------------------------------------------------------------------

RATE_TOLERANCE = 0.05
"""Achieved calls/s must be within this share of the rate target."""

RATE_SETTLE_S = 3.0
"""The rate check starts this long after a rate segment's first row (ramp-up is not judged)."""

ROW_JITTER_S = 0.1
"""Rows are written about a second apart; a row this much early still starts the window."""

MIN_RATE_WINDOW_S = 1.5
"""A rate check needs at least this much time from its window's first row to its last, else it is not judged (rows
come about a second apart: this is two intervals, less jitter)."""


@dataclass(frozen=True)
class RateCheck:
    """Calls sent per second over one stretch of rows with the same stage and rate target, from RATE_SETTLE_S
    after its first row to its last row; `achieved` NaN when that window is shorter than MIN_RATE_WINDOW_S."""

    stage: str
    rate_target: float
    first_s: float
    last_s: float
    window_start_s: float
    achieved: float
    calls: int

    @property
    def window_s(self) -> float:
        return self.last_s - self.window_start_s if not math.isnan(self.window_start_s) else 0.0


def rate_checks(ws: pd.DataFrame | None) -> list[RateCheck]:
    """One RateCheck per contiguous stretch of rows with the same stage and a rate target above 0 (calls_sent).

    In a run with named stages, rows without a stage (after the plan's last stage) are not a stage to check.
    """
    if ws is None or "rate_target" not in ws or "calls_sent" not in ws:
        return []
    rows = ws[increasing(ws["elapsed_s"])]
    times = rows["elapsed_s"].astype(float).tolist()
    sent = rows["calls_sent"].astype(float).tolist()
    targets = [0.0 if pd.isna(r) else float(r) for r in pd.to_numeric(rows["rate_target"], errors="coerce")]
    stages = ["" if pd.isna(x) else str(x).strip() for x in rows["stage"]] if "stage" in rows else [""] * len(times)
    checks: list[RateCheck] = []
    i = 0
    while i < len(times):
        j = i
        while j + 1 < len(times) and (stages[j + 1], targets[j + 1]) == (stages[i], targets[i]):
            j += 1
        if targets[i] > 0 and (stages[i] or not any(stages)):
            checks.append(_rate_check(stages[i], targets[i], times[i : j + 1], sent[i : j + 1]))
        i = j + 1
    return checks


def _rate_check(stage: str, target: float, times: list[float], sent: list[float]) -> RateCheck:
    k = bisect_left(times, times[0] + RATE_SETTLE_S - ROW_JITTER_S)
    if k >= len(times) or times[-1] - times[k] < MIN_RATE_WINDOW_S:
        start = times[k] if k < len(times) else math.nan
        return RateCheck(stage, target, times[0], times[-1], start, math.nan, 0)
    calls = sent[-1] - sent[k]
    return RateCheck(stage, target, times[0], times[-1], times[k], calls / (times[-1] - times[k]), int(calls))


OVERSHOOT_FACTOR = 1.5
"""An interval sending more than this times its rate target is named (at least OVERSHOOT_MIN_CALLS over it)."""

OVERSHOOT_MIN_CALLS = 10


def rate_overshoots(ws: pd.DataFrame | None) -> pd.DataFrame:
    """Intervals between rows that sent more than OVERSHOOT_FACTOR times the rate target of the row ending them
    (the target in force when the counters were taken): elapsed_s, interval_s, calls_per_s, rate_target."""
    columns = ["elapsed_s", "interval_s", "calls_per_s", "rate_target"]
    if ws is None or "rate_target" not in ws or "calls_sent" not in ws:
        return pd.DataFrame(columns=columns, dtype=float)
    frame = ws[["elapsed_s", "calls_sent"]].astype(float)
    frame["rate_target"] = pd.to_numeric(ws["rate_target"], errors="coerce").fillna(0.0)
    rates = interval_rates(frame["elapsed_s"], frame[["calls_sent"]])
    targets = frame[increasing(frame["elapsed_s"])]["rate_target"].iloc[1:].reset_index(drop=True)
    rates = rates.assign(rate_target=targets).rename(columns={"calls_sent": "calls_per_s"})
    excess = (rates["calls_per_s"] - rates["rate_target"]) * rates["interval_s"]
    over = (rates["rate_target"] > 0) & (rates["calls_per_s"] > OVERSHOOT_FACTOR * rates["rate_target"])
    return rates[over & (excess >= OVERSHOOT_MIN_CALLS)][columns].reset_index(drop=True)


def overshoot_notes(overshoots: pd.DataFrame) -> list[str]:
    """One note naming the worst interval above its rate target, and how many there were."""
    if overshoots.empty:
        return []
    worst = overshoots.loc[(overshoots["calls_per_s"] / overshoots["rate_target"]).idxmax()]
    start = worst["elapsed_s"] - worst["interval_s"]
    return [
        f"{len(overshoots)} interval(s) sent more than {OVERSHOOT_FACTOR:g}x their rate target; the worst,"
        f" {start:.1f}-{worst['elapsed_s']:.1f} s, {worst['calls_per_s']:,.0f} calls/s against"
        f" {worst['rate_target']:,.0f} ({worst['calls_per_s'] / worst['rate_target']:.1f}x)"
    ]


def rate_target(check: RateCheck) -> Target:
    """The gating target of one RateCheck: achieved calls/s within RATE_TOLERANCE of the rate target."""
    where = f"{check.stage}, " if check.stage else ""
    name = f"calls/s vs rate target ({where}{check.first_s:.0f}-{check.last_s:.0f} s)"
    comparison = f"±{100 * RATE_TOLERANCE:g}%"
    if math.isnan(check.achieved):
        needed = RATE_SETTLE_S + MIN_RATE_WINDOW_S
        span = check.last_s - check.first_s
        note = f"{span:.1f} s of rows, needs ≥ {needed:g} s (the first {RATE_SETTLE_S:g} s not judged)"
        return Target(name, comparison, check.rate_target, "calls/s", math.nan, None, True, note)
    ok = abs(check.achieved - check.rate_target) <= RATE_TOLERANCE * check.rate_target
    note = f"{check.calls:,} calls sent in {check.window_s:.1f} s from {check.window_start_s:.1f} s"
    return Target(name, comparison, check.rate_target, "calls/s", check.achieved, ok, True, note)


def _at_least(name: str, target: float, unit: str, measured: float, gates: bool) -> Target:
    if math.isnan(measured):
        return Target(name, ">=", target, unit, measured, False, gates, "not measured")
    return Target(name, ">=", target, unit, measured, measured >= target, gates)


def _below(name: str, target: float, unit: str, measured: float) -> Target:
    if math.isnan(measured):
        return Target(name, "<", target, unit, measured, False, True, "not measured")
    return Target(name, "<", target, unit, measured, measured < target, True)


def verdict(targets: list[Target]) -> str:
    """ "pass" when every gating target that could be checked holds, else "fail"."""
    return "pass" if all(t.ok is not False for t in targets if t.gates) else "fail"


def summarize(run: Run, thresholds: Thresholds | None = None) -> Summary:
    """All computations for one run's report."""
    thresholds = thresholds or Thresholds()
    origin = start_time(run)
    tput = throughput(run)
    latency = latency_table(run.stats)
    over_time, kind = latency_over_time(run, origin)
    settled, not_ok = call_totals(run)
    success = (settled - not_ok) / settled if settled > 0 else math.nan
    by_kind, by_name = errors_over_time(run, origin)
    summary = Summary(
        prefix=run.prefix,
        sources=list(run.sources),
        throughput=tput,
        latency=latency,
        latency_over_time=over_time,
        latency_over_time_kind=kind,
        success_rate=success,
        calls_total=settled,
        calls_failed=not_ok,
        ledger=ledger(run.ws),
        connections=connection_totals(run.ws),
        connections_over_time=connections_over_time(run.ws),
        errors_over_time=by_kind,
        failures_over_time=by_name,
        failures=failures_by_code(run.failures),
        exceptions=run.exceptions,
        stages=stage_spans(run.ws),
        rate_checks=rate_checks(run.ws),
        targets=[],
        thresholds=thresholds,
    )
    targets = evaluate_targets(thresholds, tput, latency, summary.call_latency_name, success, summary.rate_checks)
    overshoots = rate_overshoots(run.ws)
    if not overshoots.empty:
        tput = replace(tput, notes=[*tput.notes, *overshoot_notes(overshoots)])
        return replace(summary, targets=targets, throughput=tput, rate_overshoots=overshoots)
    return replace(summary, targets=targets)
