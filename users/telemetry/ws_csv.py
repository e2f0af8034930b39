"""Writing PREFIX_ws.csv rows, PREFIX_workers.csv and PREFIX_storms.csv (names and columns: run_files.py)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from run_files import STORMS_CSV_COLUMNS, WORKERS_CSV_COLUMNS, WS_CSV, WS_CSV_COLUMNS, run_file
from run_files import WS_COUNTER_KEYS as COUNTER_KEYS
from users.load.config import RunConfig
from users.telemetry.aggregation import WorkerState

__all__ = ["COUNTER_KEYS", "WORKERS_CSV_COLUMNS", "WS_CSV_COLUMNS", "WsCsvWriter", "write_storms", "write_workers"]


def open_csv(path: Path) -> TextIO:
    """`path` opened for writing, its folder made first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", newline="")


class WsCsvWriter:
    """Appends one row of counters per call to `write_row`; time is passed in."""

    def __init__(self, stream: TextIO, started_at: float) -> None:
        self._stream = stream
        self._writer = csv.writer(stream)
        self._started_at = started_at
        self._writer.writerow(WS_CSV_COLUMNS)

    def write_row(self, now: float, snapshot: Mapping[str, float], stage: str = "", rss_bytes: int = 0) -> None:
        """One row for `snapshot` (WsCounters.snapshot() keys) as it is at `now` (Unix seconds)."""
        values = [round(snapshot[k], 3) if k == "schedule_lag_ms" else snapshot[k] for k in COUNTER_KEYS]
        self._writer.writerow([f"{now:.3f}", f"{now - self._started_at:.3f}", stage, *values, rss_bytes])
        self._stream.flush()

    def close(self) -> None:
        """Close the file."""
        self._stream.close()


def ws_csv_for(config: RunConfig, started_wall: float) -> WsCsvWriter | None:
    """PREFIX_ws.csv for `--csv PREFIX`, or None without it."""
    prefix = config.csv_prefix
    return WsCsvWriter(open_csv(run_file(prefix, WS_CSV)), started_wall) if prefix else None


def write_storms(path: Path, storms: Iterable[Mapping[str, Any]], started_wall: float) -> None:
    """PREFIX_storms.csv: each storm, when it hit (s into the run), the calls/s before it, when it recovered."""
    with open_csv(path) as f:
        writer = csv.writer(f)
        writer.writerow(STORMS_CSV_COLUMNS)
        for number, storm in enumerate(storms, start=1):
            recovered = "" if storm["recovered_after_s"] is None else f"{storm['recovered_after_s']:.3f}"
            at_s = storm["at"] - started_wall
            writer.writerow([number, f"{at_s:.3f}", f"{storm['baseline_per_s']:.1f}", recovered])


def write_workers(path: Path, workers: Mapping[str, WorkerState], gone: set[str], now: float) -> None:
    """PREFIX_workers.csv: every worker, how it ended (final, gone, no_final) and its last counters."""
    first = min((s.first_at for s in workers.values()), default=now)
    with open_csv(path) as f:
        writer = csv.writer(f)
        writer.writerow(WORKERS_CSV_COLUMNS)
        for worker, state in sorted(workers.items()):
            end = "final" if state.final else ("gone" if worker in gone else "no_final")
            writer.writerow([worker, end, state.reports, f"{state.first_at - first:.3f}",
                             f"{state.last_at - first:.3f}", *(state.counters[k] for k in COUNTER_KEYS),
                             state.rss_bytes])  # fmt: skip
