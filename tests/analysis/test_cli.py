"""`python -m analysis` in a subprocess: exit codes 0 / 1 / 2, clear errors, files and $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.analysis.helpers import FIXTURES, copy_run, png_size, run_cli

LENIENT = ["--target-msgs", "3K", "--stretch-msgs", "0.2M", "--p99-ms", "50", "--connect-p99-ms", "20"]
"""Thresholds the `fast` fixture meets (about 3,500 msg/s, call p99 14.1 ms, connect p99 8.85 ms)."""


def test_report_exit_0_when_every_target_holds(tmp_path: Path) -> None:
    summary_file = tmp_path / "step_summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary_file)}
    done = run_cli("report", str(FIXTURES / "fast" / "run"), "--out", str(tmp_path / "out"), *LENIENT, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PASS (4/4 targets met): messages/s (mean) 3,517 msg/s ≥ floor 3,000 msg/s;")
    assert "| connect p99 n/a: 2 samples (p99 needs ≥ 100); max 8.85 ms\n" in done.stdout
    assert f"report: {tmp_path / 'out' / 'report.html'}" in done.stdout
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["verdict"] == "pass"
    step = summary_file.read_text()
    assert "## Targets" in step and "![" not in step  # the job summary has no links to local PNGs


def test_report_exit_1_names_the_missed_target(tmp_path: Path) -> None:
    prefix = copy_run("slow", tmp_path / "run1")
    done = run_cli("report", str(prefix.parent), *LENIENT)  # a run folder works as well as a prefix
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAIL (1/4 targets met): missed messages/s (mean) floor 459 msg/s")
    assert "call p99 260 ms, needs < 50 ms" in done.stdout
    assert (prefix.parent / "run_report" / "report.html").is_file()  # default --out: PREFIX_report beside the CSVs
    assert f"report: {prefix.parent / 'run_report' / 'report.html'}" in done.stdout


def test_two_runs_in_one_folder_get_a_report_folder_each(tmp_path: Path) -> None:
    for name, fixture in (("fast", "fast"), ("slow", "slow")):
        for path in (FIXTURES / fixture).glob("run_*.csv"):
            shutil.copy(path, tmp_path / path.name.replace("run_", f"{name}_", 1))
    assert run_cli("report", str(tmp_path / "fast"), *LENIENT).returncode == 0
    assert run_cli("report", str(tmp_path / "slow"), *LENIENT).returncode == 1
    fast = json.loads((tmp_path / "fast_report" / "summary.json").read_text())
    slow = json.loads((tmp_path / "slow_report" / "summary.json").read_text())
    assert (fast["verdict"], slow["verdict"]) == ("pass", "fail")
    assert not (tmp_path / "report").exists()


def test_report_exit_2_on_a_truncated_file(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    path = Path(f"{prefix}_stats.csv")
    text = path.read_text()
    path.write_text(text[:-30])
    done = run_cli("report", str(prefix), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    message = done.stderr.strip()
    assert message.startswith(f"error: {path}:{len(text.splitlines())}: ")
    assert message.endswith("fields where the header has 22: the file is truncated")
    assert not (tmp_path / "out").exists()


def test_report_exit_2_on_a_missing_run_and_on_a_bad_option(tmp_path: Path) -> None:
    missing = run_cli("report", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert f"error: {tmp_path / 'nope'}_stats.csv: missing file" in missing.stderr
    bad = run_cli("report", str(FIXTURES / "fast" / "run"), "--min-success", "lots")
    assert bad.returncode == 2 and "is not a fraction or a percentage" in bad.stderr


def test_compare_flags_the_slowed_run_and_writes_overlays(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    done = run_cli("compare", str(FIXTURES / "fast" / "run"), str(FIXTURES / "slow"), "--max-regression", "10%",
                   "--out", str(out))  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "REGRESSION beyond 10%: messages/s (mean) 3,517 -> 459 (-86.9%)" in done.stdout
    assert "| call p99 | 14.1 ms | 260 ms | +1744.0% | yes | REGRESSION |" in done.stdout
    data = json.loads((out / "compare.json").read_text())
    assert data["regression"] is True and "call p50" in data["regressions"]
    for name in data["charts"]:
        assert png_size((out / name).read_bytes())[0] == 1000
    assert (out / "compare.html").read_text().count("data:image/png;base64,") == 2


def test_compare_exit_0_without_regression_and_2_on_bad_input(tmp_path: Path) -> None:
    same = run_cli("compare", str(FIXTURES / "fast" / "run"), str(FIXTURES / "fast" / "run"))
    assert same.returncode == 0 and "NO REGRESSION beyond 10%" in same.stdout
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_ws.csv").write_text("")
    bad = run_cli("compare", str(FIXTURES / "fast" / "run"), str(prefix))
    assert bad.returncode == 2 and f"{prefix}_ws.csv:1: empty file" in bad.stderr


OTHERWISE_EQUAL = ["--max-regression", "20%", "--latency-floor-ms", "10"]
"""errors against fast: -16.9% throughput, call p50 +0.58 ms and p99 +6.4 ms are within these."""


def test_compare_names_the_differences_and_flags_the_success_rate_drop(tmp_path: Path) -> None:
    done = run_cli("compare", str(FIXTURES / "fast" / "run"), str(FIXTURES / "errors" / "run"),
                   *OTHERWISE_EQUAL, "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 1, done.stderr
    head, _, rest = done.stdout.partition("## Result")
    assert "- only in candidate: call_tool:fail, call_tool:sleep" in head  # named before any comparison
    assert "- tool mix differs: echo 100% vs echo 80%/sleep 10.3%/fail 9.7%" in head
    assert "REGRESSION beyond 20%: call success rate 100.00% -> 90.31% (-9.69 pp)" in rest
    assert "| call success rate | 100.00% | 90.31% | -9.69 pp | yes | REGRESSION |" in rest
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["regressions"] == ["call success rate"]
    assert data["differences"][0] == "only in candidate: call_tool:fail, call_tool:sleep"
    assert data["tool_mix"]["base"] == {"echo": 1.0}
    markdown = (tmp_path / "compare.md").read_text()
    assert markdown.index("tool mix differs") < markdown.index("## Metrics")
    assert "tool mix differs: echo 100% vs" in (tmp_path / "compare.html").read_text()
    lenient = run_cli("compare", str(FIXTURES / "fast" / "run"), str(FIXTURES / "errors" / "run"),
                      *OTHERWISE_EQUAL, "--max-success-drop", "10")  # fmt: skip
    assert lenient.returncode == 0, lenient.stdout
    strict = run_cli("compare", str(FIXTURES / "fast" / "run"), str(FIXTURES / "errors" / "run"),
                     *OTHERWISE_EQUAL, "--max-success-drop", "9.5%")  # fmt: skip
    assert strict.returncode == 1, strict.stdout  # 9.69 points dropped
    bad = run_cli("compare", str(FIXTURES / "fast" / "run"), str(FIXTURES / "fast" / "run"), "--max-success-drop", "x")
    assert bad.returncode == 2 and "is not a number of percentage points" in bad.stderr


RATE_LENIENT = ["--target-msgs", "500", "--p50-ms", "50", "--p99-ms", "500"]
"""Thresholds the `rate` fixture meets apart from its rate targets (300 calls/s, 657 msg/s, call p99 under 100 ms)."""


def test_report_gates_on_calls_per_second_against_each_stage_s_rate_target(tmp_path: Path) -> None:
    # the fixture: --scenario sustained,rate --rate 300 --stage-duration 7s, both stages held ~300 calls/s
    held = run_cli("report", str(FIXTURES / "rate" / "run"), "--out", str(tmp_path / "held"), *RATE_LENIENT)
    assert held.returncode == 0, held.stdout
    data = json.loads((tmp_path / "held" / "summary.json").read_text())
    checks = {t["name"]: t for t in data["targets"] if t["name"].startswith("calls/s vs rate target")}
    assert list(checks) == ["calls/s vs rate target (sustained, 1-6 s)", "calls/s vs rate target (rate, 7-13 s)"]
    rate = checks["calls/s vs rate target (rate, 7-13 s)"]
    assert (rate["target"], rate["comparison"], rate["ok"]) == (300.0, "±5%", True)
    assert rate["measured"] == pytest.approx((3898 - 2998) / (13.003 - 10.001))  # rows from 3 s after 7.001 s
    assert (
        "| calls/s vs rate target (rate, 7-13 s) | 300 calls/s | 300 calls/s ±5% | PASS |"
        in (tmp_path / "held" / "report.md").read_text()
    )
    # the same run judged against 400 calls/s in its rate stage: missed, exit 1, in every format
    prefix = copy_run("rate", tmp_path / "missed")
    ws = Path(f"{prefix}_ws.csv")
    with ws.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["rate_target"] = "400.0" if row["stage"] == "rate" else row["rate_target"]
    with ws.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    missed = run_cli("report", str(prefix), *RATE_LENIENT)
    assert missed.returncode == 1, missed.stdout
    line = "missed calls/s vs rate target (rate, 7-13 s) 300 calls/s, needs 400 calls/s ±5%"
    assert missed.stdout.startswith(f"FAIL (5/6 targets met): {line} (900 calls sent in 3.0 s from 10.0 s)")
    report_dir = prefix.parent / "run_report"
    assert "| 300 calls/s | 400 calls/s ±5% | FAIL (900 calls sent" in (report_dir / "report.md").read_text()
    assert "calls/s vs rate target (rate, 7-13 s)" in (report_dir / "report.html").read_text()
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["failed_targets"] == ["calls/s vs rate target (rate, 7-13 s)"]


@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_reader_that_went_away_ends_the_output_quietly(tmp_path: Path, command: str) -> None:
    """`python -m analysis report ... | head -1`: the pipe closes early; no `error: : Broken pipe`, the verdict's
    exit code stays."""
    import subprocess
    import sys

    from tests.support.locust_run import ROOT

    run = str(FIXTURES / "fast" / "run")
    args = [run, "--out", str(tmp_path / "out")] if command == "report" else [run, run]
    process = subprocess.Popen([sys.executable, "-m", "analysis", command, *args], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    process.stdout.close()  # the reader is gone before the first line
    stderr = process.stderr.read()
    process.wait(120)
    assert "Broken pipe" not in stderr and "Traceback" not in stderr, stderr
    assert process.returncode == (1 if command == "report" else 0), stderr
