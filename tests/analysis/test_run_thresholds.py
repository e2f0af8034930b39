"""Thresholds judged from a run's CSVs: figures read back from the files, and the report's exit code."""

from __future__ import annotations

import csv
from pathlib import Path

from analysis.load import load_run
from analysis.run_thresholds import run_figures
from analysis.thresholds import judge_all, parse_thresholds
from tests.analysis.helpers import FIXTURES, run_cli

FAST = FIXTURES / "fast" / "run"
LENIENT = ["--target-msgs", "3K", "--stretch-msgs", "0.2M", "--p99-ms", "50", "--connect-p99-ms", "20"]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_figures_equal_the_csv_cells() -> None:
    stats = {row["Name"]: row for row in csv_rows(Path(f"{FAST}_stats.csv"))}
    last = csv_rows(Path(f"{FAST}_ws.csv"))[-1]
    figures = run_figures(load_run(FAST))
    echo = figures.names["call_tool:echo"]
    assert echo.requests == int(stats["call_tool:echo"]["Request Count"])
    assert echo.latency_ms["p99"] == float(stats["call_tool:echo"]["99%"])
    assert echo.latency_ms["max"] == float(stats["call_tool:echo"]["Max Response Time"])
    assert "Aggregated" not in figures.names
    assert figures.duration_s == float(last["elapsed_s"])
    assert figures.messages == int(last["messages_sent"]) + int(last["messages_received"])
    assert figures.calls_settled == sum(
        int(last[k]) for k in ("calls_ok", "calls_failed", "calls_timeout", "calls_lost")
    )


def test_a_limit_at_the_measured_value_splits_le_from_lt() -> None:
    p99 = float({r["Name"]: r for r in csv_rows(Path(f"{FAST}_stats.csv"))}["call_tool:echo"]["99%"])
    expressions = parse_thresholds([f"call_tool:echo:p99<={p99}ms", f"p99<{p99}ms"])
    at, below = judge_all(expressions, run_figures(load_run(FAST)), after_run=True)
    assert at.passed is True and below.passed is False


def test_report_exit_code_follows_the_thresholds(tmp_path: Path) -> None:
    passing = run_cli("report", str(FAST), "--out", str(tmp_path / "a"), *LENIENT, "--threshold", "errors<=100%,msgs>0")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "thresholds passed" in passing.stdout
    failing = run_cli("report", str(FAST), "--out", str(tmp_path / "b"), *LENIENT, "--threshold", "p99<0.001ms")
    assert failing.returncode == 1
    assert "threshold p99<0.001ms: FAILED (call_tool:echo" in failing.stdout
    bad = run_cli("report", str(FAST), "--out", str(tmp_path / "c"), "--threshold", "p99<<1")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --threshold 'p99<<1'")
    assert not (tmp_path / "c").exists()
