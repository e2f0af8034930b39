"""Accounting of a run: the call ledger, connection counters, errors by kind and failures by code."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from analysis.load import Run
from analysis.throughput import call_names, increasing, interval_rates, last_rows

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


def call_totals(run: Run) -> tuple[int, int]:
    """(calls settled, calls not ok): from the ledger when there is one, else from Locust's call names."""
    book = ledger(run.ws)
    if book is not None and "calls_ok" in run.ws:
        settled = book.ok + book.failed + book.timeout + book.lost
        return settled, settled - book.ok
    names = call_names(run.stats)
    rows = run.stats[run.stats["name"].isin(names)]
    return int(rows["requests"].sum()), int(rows["failures"].sum())
