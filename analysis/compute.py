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

NON_CALL_NAMES = {"connect", "hello", "protocol_error", "Aggregated"}

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
    """Cumulative calls, messages sent and received by elapsed time, starting from zero at 0 s."""
    if run.ws is not None:
        notes = []
        if not all(c in run.ws for c in ("messages_sent", "messages_received")):
            notes.append("messages derived as two per call: the WebSocket CSV has no message counters")
        return _from_zero(ws_counts(run.ws)), "ws", notes
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
    return _from_zero(counts), "history", notes  # Locust's counts start at 0 with its first history row


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


def interval_rates(elapsed: pd.Series, counts: pd.DataFrame) -> pd.DataFrame:
    """Rate of each counter column over each interval between consecutive rows, stamped at the interval's end."""
    span = elapsed.diff()
    rates = counts.diff().div(span, axis=0)
    rates = rates[span > 0]
    rates.insert(0, "interval_s", span[span > 0])
    rates.insert(0, "elapsed_s", elapsed[span > 0])
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
    counts, source, notes = cumulative_counts(run)
    counts["messages"] = counts["sent"] + counts["received"]
    elapsed = counts["elapsed_s"]
    series = interval_rates(elapsed, counts[["calls", "messages", "sent", "received"]])
    series.columns = ["elapsed_s", "interval_s", "calls_per_s", "messages_per_s", "sent_per_s", "received_per_s"]
    duration = float(elapsed.iloc[-1] - elapsed.iloc[0]) if len(elapsed) else math.nan
    return Throughput(
        series=series,
        calls=rate_stat(elapsed, counts["calls"]),
        messages=rate_stat(elapsed, counts["messages"]),
        sent=rate_stat(elapsed, counts["sent"]),
        received=rate_stat(elapsed, counts["received"]),
        duration_s=duration,
        source=source,
        notes=notes,
    )


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
    if row["requests"] == 0:
        out.update({label: math.nan for label, _ in REPORTED_PERCENTILES})
    return out


def latency_over_time(run: Run, origin: float) -> tuple[pd.DataFrame, str]:
    """Call latency percentiles (ms) per history row time; the kind says if they are windowed or cumulative."""
    history = last_rows(run.history)
    names = call_names(run.stats)
    per_name = history[history["name"].isin(names)]
    if run.full_history and len(per_name):
        rows, kind = per_name, "last ~10 s window (Locust's current percentiles), all calls combined"
    else:
        rows = history[history["name"] == "Aggregated"]
        kind = "cumulative since the start (Aggregated row; run without --csv-full-history)"
    labels = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)]
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
    frame = pd.DataFrame(records, columns=["elapsed_s", *(label for label, _ in labels)])
    return frame, kind


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
        counts = _from_zero(run.ws[["elapsed_s", *present]].astype(float))
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
    "ping_timeouts",
    "storm_drops",
    "reconnect_attempts",
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
    """Open connections and calls in flight (gauges, 0 at 0 s), and reconnects/connect failures/disconnects per second
    over the interval ending at each row (NaN on the 0 s row)."""
    if ws is None:
        return pd.DataFrame({"elapsed_s": pd.Series(dtype=float)})
    gauges = _from_zero(
        ws[["elapsed_s", *(c for c in ("connections_open", "calls_in_flight") if c in ws)]].astype(float)
    )
    counters = [c for c in ("reconnects", "connect_failures", "disconnects") if c in ws]
    counts = _from_zero(ws[["elapsed_s", *counters]].astype(float))
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


def evaluate_targets(
    thresholds: Thresholds, tput: Throughput, latency: pd.DataFrame, call_row: str | None, success_rate: float
) -> list[Target]:
    """The checked targets, in report order; the stretch target is reported but does not gate."""
    stat = thresholds.throughput_stat
    msgs = tput.messages.mean if stat == "mean" else tput.messages.peak_10s
    label = "mean" if stat == "mean" else "peak 10 s"
    targets = [
        _at_least(f"messages/s ({label}) floor", thresholds.target_msgs_per_s, "msg/s", msgs, gates=True),
        _at_least(f"messages/s ({label}) stretch", thresholds.stretch_msgs_per_s, "msg/s", msgs, gates=False),
    ]

    def latency_of(name: str | None, column: str) -> float:
        if name is None or name not in latency.index:
            return math.nan
        return float(latency.loc[name, column])

    targets.append(_below("call p99", thresholds.call_p99_ms, "ms", latency_of(call_row, "p99")))
    targets.append(_below("call p50", thresholds.call_p50_ms, "ms", latency_of(call_row, "p50")))
    connect = latency_of("connect", "p99")
    if "connect" in latency.index and latency.loc["connect", "requests"] > 0:
        targets.append(_below("connect p99", thresholds.connect_p99_ms, "ms", connect))
    else:
        targets.append(
            Target("connect p99", "<", thresholds.connect_p99_ms, "ms", math.nan, None, True, "no connect requests")
        )
    targets.append(_at_least("call success rate", thresholds.min_success, "ratio", success_rate, gates=True))
    return targets


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
        targets=[],
        thresholds=thresholds,
    )
    targets = evaluate_targets(thresholds, tput, latency, summary.call_latency_name, success)
    return replace(summary, targets=targets)
