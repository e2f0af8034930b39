"""Headless runs against the reference server: progress lines, the end summary, live thresholds, unknown tools."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.locust_run import ROOT, LocustRun, free_port, ledger_closes, read_run, run_locust

PROGRESS = re.compile(
    r"^progress +(\d+\.\d)s \| .* \| ([\d,]+) calls/s \| ([\d,]+) msg/s \| p50 .* ms p99 .* ms \|", re.M
)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with start_reference_server() as running:
        yield running


def run(server: RunningServer, out: Path, *args: str, run_time: str = "3s", users: int = 2) -> LocustRun:
    """A headless run that prints what a person sees (no --only-summary), checked against the server's /stats."""
    prefix = out / "run"
    command = [
        sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "-u", str(users), "-r", str(users),
        "-t", run_time, "-H", server.url, "--csv", str(prefix), "--exit-code-on-error", "0",
        "--server-control-url", server.base_url, "--in-flight", "4", *args,
    ]  # fmt: skip
    env = {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    return read_run(prefix, done.returncode, done.stdout + done.stderr)


def test_a_12_second_run_prints_progress_and_a_summary_agreeing_with_the_server(
    server: RunningServer, tmp_path: Path
) -> None:
    result = run(server, tmp_path, run_time="12s")
    assert result.returncode == 0, result.output[-3000:]
    lines = PROGRESS.findall(result.output)
    assert len(lines) >= 3, result.output[-3000:]
    assert all(int(msgs.replace(",", "")) > 0 for _, _, msgs in lines)
    assert [float(t) for t, _, _ in lines] == sorted(float(t) for t, _, _ in lines)
    tables = re.findall(r"^Type +Name", result.output, re.M)
    assert len(tables) <= 3, "Locust's 2 s table left out (one at the start, its two at the end)"
    ws = ledger_closes(result)
    sent = int(ws["calls_sent"])
    assert f"ledger    sent {sent:,} = ok {sent:,} + failed 0 + timeout 0 + lost 0 (holds)" in result.output
    assert re.search(r"^messages  [\d,]+ msg/s", result.output, re.M)
    assert re.search(r"^  call_tool:echo +[\d,]+ +0 ", result.output, re.M)
    assert f"server    {sent:,} calls received, {sent:,} ok: agrees with the client" in result.output
    assert "Traceback" not in result.output


def test_only_summary_keeps_progress_quiet(server: RunningServer, tmp_path: Path) -> None:
    result = run(server, tmp_path, "--only-summary", "--progress-interval", "1")
    assert result.returncode == 0 and not PROGRESS.search(result.output)
    assert "ledger    sent" in result.output


def test_a_failed_threshold_makes_the_exit_code_1_and_the_report_agrees(server: RunningServer, tmp_path: Path) -> None:
    expressions = "p99<0.001ms,errors<1%"
    result = run(server, tmp_path, "--threshold", expressions)
    assert result.returncode == 1, result.output[-3000:]
    assert "threshold p99<0.001ms: FAILED" in result.output and "threshold errors<1%: ok" in result.output
    ledger_closes(result)
    after = subprocess.run(
        [sys.executable, "-m", "analysis", "report", str(tmp_path / "run"), "--threshold", expressions],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "threshold p99<0.001ms: FAILED" in after.stdout and "threshold errors<1%: ok" in after.stdout
    assert "thresholds FAILED" in after.stdout and after.returncode == 1


def test_passing_thresholds_keep_exit_code_0(server: RunningServer, tmp_path: Path) -> None:
    result = run(server, tmp_path, "--threshold", "errors<1%", "--threshold", "msgs>=1/s")
    assert result.returncode == 0, result.output[-3000:]
    assert "thresholds passed" in result.output


def test_abort_on_threshold_ends_the_run_early_with_the_ledger_closed(server: RunningServer, tmp_path: Path) -> None:
    result = run(
        server, tmp_path, "--threshold", "p99<0.001ms", "--abort-on-threshold", "--abort-grace", "1",
        "--progress-interval", "1", "--html", str(tmp_path / "report.html"), run_time="60s",
    )  # fmt: skip
    assert result.returncode == 1, result.output[-3000:]
    assert "stopping the run: threshold failed: p99<0.001ms" in result.output
    assert "thresholds FAILED (run aborted)" in result.output
    assert float(result.ws_final["elapsed_s"]) < 30
    ledger_closes(result)
    assert (tmp_path / "report.html").stat().st_size > 0 and (tmp_path / "run_stats.csv").exists()


def test_an_unknown_tool_stops_the_run_with_one_error_line(server: RunningServer, tmp_path: Path) -> None:
    result = run(server, tmp_path, "--tools", "echo:1,no_such_tool:1", run_time="60s")
    assert result.returncode == 2, result.output[-3000:]
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: the server has no tool no_such_tool (calls fail unknown_tool): check --tools; stopping the run"
    ]
    assert float(result.ws_final["elapsed_s"]) < 30
    ledger_closes(result)
    assert "Traceback" not in result.output


def test_a_master_prints_progress_and_a_summary_from_the_workers_sums(server: RunningServer, tmp_path: Path) -> None:
    result = run(server, tmp_path, "--processes", "2", "--progress-interval", "2", run_time="8s", users=4)
    assert result.returncode == 0, result.output[-3000:]
    lines = PROGRESS.findall(result.output)
    assert len(lines) >= 2 and int(lines[-1][2].replace(",", "")) > 0, result.output[-3000:]
    sent = int(ledger_closes(result)["calls_sent"])
    assert f"server    {sent:,} calls received, {sent:,} ok: agrees with the client" in result.output


@pytest.mark.parametrize(
    ("host", "args", "message"),
    [
        ("http://127.0.0.1:9/", [], "error: --host must be a ws:// or wss:// URL, not http"),
        ("ws://127.0.0.1:9/", ["--threshold", "p99<<1"], "error: --threshold 'p99<<1': a latency limit"),
    ],
)
def test_a_bad_host_or_threshold_is_one_error_line_and_exit_2(
    tmp_path: Path, host: str, args: list[str], message: str
) -> None:
    result = run_locust(tmp_path, host, *args, env={"LOCUST_JWT_SECRET": "x" * 32}, run_time="2s")
    assert result.returncode == 2, result.output[-3000:]
    assert [line for line in result.output.splitlines() if line.startswith("error:")][0].startswith(message)
    assert len([line for line in result.output.splitlines() if "error" in line.lower()]) == 1, result.output
    assert "Traceback" not in result.output and not result.stats


def bare_run(host: str, out: Path, secret: str, *args: str, run_time: str = "4s") -> LocustRun:
    """A short headless run printing progress each second, with `secret` as the JWT secret."""
    prefix = out / "run"
    command = [
        sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "-u", "2", "-r", "2", "-t", run_time,
        "-H", host, "--csv", str(prefix), "--exit-code-on-error", "0", "--progress-interval", "1", *args,
    ]  # fmt: skip
    env = {**os.environ, "LOCUST_JWT_SECRET": secret}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    return read_run(prefix, done.returncode, done.stdout + done.stderr)


def test_progress_lines_name_refused_connects_while_they_happen(tmp_path: Path) -> None:
    result = bare_run(f"ws://127.0.0.1:{free_port()}", tmp_path, "s" * 32)
    lines = [line for line in result.output.splitlines() if line.startswith("progress ")]
    assert len(lines) >= 3, result.output[-3000:]
    named = [line for line in lines if re.search(r"\| connect failed [\d,]+, errors: connect: connect_failed: "
                                                 r"ConnectionRefusedError.* x[\d,]+$", line)]  # fmt: skip
    assert len(named) >= len(lines) - 1, "\n".join(lines)


def test_progress_lines_name_a_wrong_secret_while_it_happens(server: RunningServer, tmp_path: Path) -> None:
    result = bare_run(server.url, tmp_path, "w" * 32)
    lines = [line for line in result.output.splitlines() if line.startswith("progress ")]
    assert len(lines) >= 3, result.output[-3000:]
    refused = [line for line in lines if "| hello refused" in line]
    # Backoff spaces each user's attempts out (0.05-0.1 s, then doubling): a second can pass with none, so not
    # every line has refusals, but each that has them names the error, from the first second on.
    assert lines[0] in refused and len(refused) >= 2, "\n".join(lines)
    assert all(re.search(r"\| hello refused [\d,]+.*errors: hello: .*invalid_token", line) for line in refused)
    assert "w" * 32 not in result.output


@pytest.mark.parametrize(("threshold", "code"), [("errors<60%", 0), ("errors<0.0001%", 1)])
def test_with_thresholds_they_decide_the_exit_code_of_a_run_with_deliberate_losses(
    server: RunningServer, tmp_path: Path, threshold: str, code: int
) -> None:
    """A reconnect storm loses calls with the connections it drops: Locust's rule alone would exit 1."""
    result = run(
        server, tmp_path, "--scenario", "reconnect", "--stage-duration", "4s", "--storm-interval", "1s",
        "--in-flight", "8", "--exit-code-on-error", "1", "--threshold", threshold, run_time="30s",
    )  # fmt: skip
    assert result.ws_final["calls_lost"] > 0, result.output[-3000:]
    assert sum(result.failures.values()) > 0, "Locust saw failures: without thresholds it would exit 1"
    assert result.returncode == code, result.output[-3000:]


def test_wss_against_a_plain_server_names_the_likely_cause(server: RunningServer, tmp_path: Path) -> None:
    result = bare_run(server.url.replace("ws://", "wss://"), tmp_path, server.jwt_secret or "", run_time="8s")
    hinted = [k for k in result.failures if k[0] == "connect" and "is the server plain ws://?" in k[1]]
    assert hinted and hinted[0][1].startswith("connect_failed: SSL"), result.failures
    assert re.search(r"^progress .*errors: connect: connect_failed: SSL.*is the server plain ws://\?", result.output,
                     re.M), result.output[-3000:]  # fmt: skip


def test_mcp_against_a_toolcall_server_names_the_protocol(server: RunningServer, tmp_path: Path) -> None:
    result = bare_run(server.url, tmp_path, server.jwt_secret or "", "--protocol", "mcp", run_time="3s")
    expected = ("connect", "connect_failed: bad handshake: the server chose no offered subprotocol; the server did not "
                "accept subprotocol mcp: check --protocol")  # fmt: skip
    assert result.failures[expected] > 0, result.failures
