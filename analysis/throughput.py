"""Throughput of a run: calls and messages per second from counter differences, their peaks, stages' rates."""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field

import pandas as pd

from analysis.load import Run

PEAK_WINDOW_S = 10.0
"""Width of the sliding window for peak rates."""

WINDOW_TOLERANCE_S = 0.5
"""A window of rows at least this much shorter than PEAK_WINDOW_S still counts (rows are ~1 s apart, with jitter)."""

NON_CALL_NAMES = {"connect", "hello", "session", "protocol_error", "Aggregated"}


@dataclass(frozen=True)
class RateStat:
    """A rate over the whole run and its highest value over any ~10 s window."""

    mean: float
    peak_10s: float

    def as_dict(self) -> dict[str, float | None]:
        return {"mean": json_number(self.mean), "peak_10s": json_number(self.peak_10s)}


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
class StageSpan:
    """A contiguous stretch of rows with the same non-empty `stage`, and its mean rates."""

    stage: str
    start_s: float
    end_s: float
    calls_per_s: float
    messages_per_s: float


def json_number(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


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
