"""Real runs: PREFIX_run.json says what ran and how it ended; the report's first line is the whole verdict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.locust_run import ROOT

EASY_TARGETS = ("--target-msgs", "1", "--p99-ms", "10000", "--p50-ms", "10000", "--connect-p99-ms", "10000",
                "--min-success", "0.5")  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with start_reference_server() as running:
        yield running


def locust_command(server: RunningServer, prefix: Path, run_time: str, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "-u", "2", "-r", "2", "-t", run_time,
        "-H", server.url, "--csv", str(prefix), "--only-summary", "--in-flight", "2", *args,
    ]  # fmt: skip


def env_for(server: RunningServer) -> dict[str, str]:
    return {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}


def report(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "report", str(prefix), *EASY_TARGETS, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_clean_run_records_its_settings_and_end_and_its_report_passes(server: RunningServer, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    done = subprocess.run(locust_command(server, prefix, "3s", "--tools", "echo"), cwd=ROOT, env=env_for(server),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads(Path(f"{prefix}_run.json").read_text())
    assert record["host"] == server.url and record["protocol"] == "toolcall" and record["options"]["tools"] == "echo"
    assert record["locust_version"] and record["project_version"] and record["started_at"]
    assert record["ended"]["reason"] == "completed" and record["ended"]["workers_without_final"] == []
    assert record["options"]["jwt_secret"] == "(set)"
    assert (server.jwt_secret or "?") not in Path(f"{prefix}_run.json").read_text()
    after = report(prefix)
    assert after.returncode == 0, after.stdout + after.stderr
    assert after.stdout.startswith("PASS ("), after.stdout
    html = (tmp_path / "run_report" / "report.html").read_text()
    assert "<h2>Run</h2>" in html and "option.tools" in html and server.url in html


def test_report_first_line_states_a_failed_threshold(server: RunningServer, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    subprocess.run(locust_command(server, prefix, "3s"), cwd=ROOT, env=env_for(server), capture_output=True,
                   timeout=120, check=False)  # fmt: skip
    failing = report(prefix, "--threshold", "p99<0.001ms")
    first = failing.stdout.splitlines()[0]
    assert first.startswith("FAIL (4/4 targets met, 0/1 thresholds met)") and "threshold p99<0.001ms" in first
    assert failing.returncode == 1 and "thresholds FAILED" in failing.stdout
    holding = report(prefix, "--threshold", "errors<50%")
    assert holding.stdout.startswith("PASS (4/4 targets met, 1/1 thresholds met)") and holding.returncode == 0


def test_a_killed_run_is_incomplete_never_pass(server: RunningServer, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    process = subprocess.Popen(locust_command(server, prefix, "20s"), cwd=ROOT, env=env_for(server),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Path(f"{prefix}_stats.csv").exists():
            time.sleep(0.2)
        time.sleep(5)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert json.loads(Path(f"{prefix}_run.json").read_text())["ended"] is None
    after = report(prefix)
    assert after.returncode == 3, after.stdout + after.stderr
    assert after.stdout.startswith("INCOMPLETE (") and "never recorded its end" in after.stdout.splitlines()[0]
    summary = json.loads((tmp_path / "run_report" / "summary.json").read_text())
    assert summary["verdict"] == "incomplete"


def test_a_run_stopped_early_by_sigterm_is_incomplete(server: RunningServer, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    process = subprocess.Popen(locust_command(server, prefix, "30s"), cwd=ROOT, env=env_for(server),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Path(f"{prefix}_stats.csv").exists():
            time.sleep(0.2)
        time.sleep(3)
        process.terminate()
        process.wait(30)
    finally:
        process.kill()
    ended = json.loads(Path(f"{prefix}_run.json").read_text())["ended"]
    assert ended["reason"] == "stopped early", ended
    after = report(prefix)
    assert after.returncode == 3 and after.stdout.startswith("INCOMPLETE ("), after.stdout


def test_compare_lists_every_setting_that_differs(server: RunningServer, tmp_path: Path) -> None:
    for name, in_flight in (("a", "1"), ("b", "3")):
        done = subprocess.run(
            [*locust_command(server, tmp_path / name / "run", "2s"), "--in-flight", in_flight, "--tools", "echo"],
            cwd=ROOT, env=env_for(server), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert Path(f"{tmp_path / name / 'run'}_run.json").exists(), done.stdout[-2000:] + done.stderr[-2000:]
    compared = subprocess.run(
        [sys.executable, "-m", "analysis", "compare", str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run"),
         "--out", str(tmp_path / "cmp")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "## Settings that differ" in compared.stdout, compared.stdout[:3000] + compared.stderr
    assert "| option.in_flight | 1 | 3 |" in compared.stdout
    assert "option.csv_prefix" not in compared.stdout and "started_at" not in compared.stdout
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert {"setting": "option.in_flight", "base": "1", "candidate": "3"} in data["settings_differ"]


def test_the_report_shows_the_servers_own_counters_from_its_stats_file(tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    with start_reference_server("--stats-file", str(tmp_path / "server_stats.json")) as own:
        done = subprocess.run(locust_command(own, prefix, "2s"), cwd=ROOT, env=env_for(own), capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    stats = json.loads((tmp_path / "server_stats.json").read_text())
    assert stats["calls_received"] > 0
    after = report(prefix)
    markdown = (tmp_path / "run_report" / "report.md").read_text()
    assert after.returncode == 0 and "| server counter | value |" in markdown, after.stdout + after.stderr
    assert f"| calls_received | {stats['calls_received']:,} |" in markdown


def test_a_second_run_into_the_same_prefix_warns_in_one_line(server: RunningServer, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    outputs = []
    for _ in range(2):
        done = subprocess.run(locust_command(server, prefix, "1s"), cwd=ROOT, env=env_for(server),
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        outputs.append(done.stdout + done.stderr)
    assert "overwriting" not in outputs[0], outputs[0][-2000:]
    warnings = [line for line in outputs[1].splitlines() if "overwriting an earlier run's files" in line]
    assert len(warnings) == 1, outputs[1][-2000:]
    assert (
        f"--csv {prefix}: overwriting an earlier run's files (run_stats.csv, run_ws.csv, run_run.json)" in warnings[0]
    )
