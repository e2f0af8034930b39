"""The run's files: every name written beside `--csv PREFIX` and the PREFIX_ws.csv schema (imports nothing of ours).

Writers (users/, scenarios/, demo.py) and readers (analysis/) take the names and columns from here, so a file is
named and laid out in one place. This module imports no project module: users/, scenarios/ and analysis/ may all
import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WS_CSV = "_ws.csv"
"""Our counters, one row a second plus a final one (docs/reference/ws-csv.md)."""
STORMS_CSV = "_storms.csv"
"""Each reconnect storm: when it hit, the calls/s before it, when it recovered."""
STEPS_CSV = "_steps.csv"
"""Each step of a step/ramp scenario and the one that crossed the knee."""
WORKERS_CSV = "_workers.csv"
"""On a master: every worker, how it ended and its last counters."""
RUN_JSON = "_run.json"
"""What ran (settings without secrets, versions, host, start) and how it ended."""
STATS_CSV = "_stats.csv"
STATS_HISTORY_CSV = "_stats_history.csv"
FAILURES_CSV = "_failures.csv"
EXCEPTIONS_CSV = "_exceptions.csv"
LOCUST_CSV_SUFFIXES = (STATS_CSV, STATS_HISTORY_CSV, FAILURES_CSV, EXCEPTIONS_CSV)
"""Locust's own files at --csv PREFIX (opened before the options are checked, empty until its writer starts)."""
EARLIER_RUN_SUFFIXES = (STATS_CSV, WS_CSV, RUN_JSON)
"""Files at --csv PREFIX that say an earlier run wrote there."""
SERVER_STATS_JSON = "server_stats.json"
"""The reference server's own counters (--stats-file), beside the CSVs in the run's folder, not prefixed."""


def run_file(prefix: str | Path, suffix: str) -> Path:
    """The file of the run at `prefix` with `suffix` (one of the names above): PREFIX_ws.csv, PREFIX_run.json, ..."""
    return Path(f"{prefix}{suffix}")


def server_stats_file(prefix: str | Path) -> Path:
    """server_stats.json in the folder of the run at `prefix`."""
    return Path(prefix).parent / SERVER_STATS_JSON


TIME, PLAN, COUNTER, GAUGE = "time", "plan", "counter", "gauge"
"""Column kinds: when the row was taken; what the plan asks for; cumulative since the start (take differences for
rates, never goes down); the value when the row was taken."""


@dataclass(frozen=True)
class WsColumn:
    """One PREFIX_ws.csv column: its name, its kind and whether its values are text, whole numbers or decimals."""

    name: str
    kind: str
    number: str = "int"
    """"int", "float" or "text"."""


def _counters(*names: str) -> list[WsColumn]:
    return [WsColumn(name, COUNTER) for name in names]


WS_SCHEMA: list[WsColumn] = [
    WsColumn("timestamp", TIME, "float"),
    WsColumn("elapsed_s", TIME, "float"),
    WsColumn("stage", PLAN, "text"),
    *_counters("calls_sent", "calls_ok", "calls_failed", "calls_timeout", "calls_lost"),
    WsColumn("calls_in_flight", GAUGE),
    *_counters("calls_late_results", "calls_duplicate_results", "calls_unknown_results"),
    *_counters("messages_sent", "messages_received", "bytes_sent", "bytes_received"),
    *_counters("bytes_sent_compressed", "bytes_received_compressed"),
    *_counters("connects", "reconnects", "connect_failures", "disconnects"),
    WsColumn("connections_open", GAUGE),
    *_counters("hellos_sent", "hellos_ok", "hellos_refused", "tokens_minted"),
    *_counters("pushes_received", "push_gaps", "push_duplicates", "push_reordered", "pushes_untracked"),
    *_counters("protocol_errors", "ping_timeouts", "write_timeouts", "write_stalls"),
    *_counters("closes_normal", "closes_going_away", "closes_error", "resets"),
    *_counters("storm_drops", "reconnect_attempts", "sessions", "sessions_late", "calls_sent_late", "calls_skipped"),
    WsColumn("schedule_lag_ms", GAUGE, "float"),
    WsColumn("rate_target", PLAN, "float"),
    WsColumn("active_users", PLAN),
    WsColumn("users_sending_peak", GAUGE),
    *_counters("server_names_overflowed"),
    WsColumn("rss_bytes", GAUGE),
]
"""PREFIX_ws.csv, every column in the order written. Between the stage and rss_bytes come the load generator's
counters, exactly the keys of users.wire.metrics.WsCounters.snapshot() in its order (tests/test_run_files.py)."""

WS_CSV_COLUMNS = [c.name for c in WS_SCHEMA]
"""Header of PREFIX_ws.csv."""
WS_COUNTER_KEYS = WS_CSV_COLUMNS[3:-1]
"""The counters and gauges a load generator reports (and a master sums), in the order written."""
WS_CUMULATIVE = [c.name for c in WS_SCHEMA if c.kind == COUNTER]
"""Columns that never go down within one run."""
WORKERS_CSV_COLUMNS = ["worker", "end", "reports", "first_report_s", "last_report_s", *WS_COUNTER_KEYS, "rss_bytes"]
"""Header of the master's PREFIX_workers.csv: one row per worker with its last counters."""
STORMS_CSV_COLUMNS = ["storm", "at_s", "baseline_calls_per_s", "recovered_after_s"]
"""Header of PREFIX_storms.csv."""
STEPS_CSV_COLUMNS = ["step", "users", "rate", "p99_ms", "error_rate", "requests", "crossed"]
"""Header of PREFIX_steps.csv."""
