"""SIGTERM (as `docker stop` sends it) or Ctrl+C to a headless run: it ends cleanly with every report written."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer, start_reference_server
from scenarios.termination import FORCED_EXIT_CODE, GracefulStop
from tests.support.locust_run import ROOT, headless_command, ledger_closes, read_run


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with start_reference_server() as running:
        yield running


@pytest.mark.parametrize(
    ("signum", "scenario"),
    [
        (signal.SIGTERM, ()),
        (signal.SIGTERM, ("--scenario", "sustained", "--stage-duration", "60s")),
        (signal.SIGINT, ()),  # Ctrl+C
    ],
)
def test_a_signal_ends_a_headless_run_with_its_reports(tmp_path: Path, server: RunningServer, signum: int,
                                                       scenario: tuple[str, ...]) -> None:  # fmt: skip
    prefix = tmp_path / "run"
    command = headless_command(prefix, server.url, "--in-flight", "2", *scenario, users=2, run_time="60s")
    env = {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while server.stats()["results_ok"] < 1000:  # both users are calling
            assert time.monotonic() < deadline and process.poll() is None, "the run never got going"
            time.sleep(0.1)
        sent_at = time.monotonic()
        process.send_signal(signum)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert time.monotonic() - sent_at < 15  # ended well before -t 60s
    result = read_run(prefix, process.returncode, output.decode(errors="replace"))
    assert result.returncode == 0, result.output[-3000:]
    assert f"stopping the run: {signal.Signals(signum).name} received" in result.output
    ws = ledger_closes(result)  # the final rows are written and agree
    stats = server.wait_stats(lambda s: s["connections_closed"] == 2)
    assert stats["calls_received"] == ws["calls_sent"] and stats["results_ok"] == ws["calls_ok"]


def test_a_second_ctrl_c_quits_at_once(tmp_path: Path, server: RunningServer) -> None:
    command = headless_command(tmp_path / "run", server.url, "--tools", 'sleep={"ms":5000}', users=2, run_time="60s")
    env = {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while server.stats()["calls_received"] < 2:  # both users wait on a 5 s call: draining would take seconds
            assert time.monotonic() < deadline and process.poll() is None, "the run never got going"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=3)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert process.returncode == FORCED_EXIT_CODE, output.decode(errors="replace")[-2000:]
    assert b"second Ctrl+C: quitting at once" in output


class RecordingShape:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def request_stop(self, reason: str) -> None:
        self.reasons.append(reason)


def test_only_the_first_signal_ends_the_shape_and_a_second_sigterm_changes_nothing() -> None:
    shape = RecordingShape()
    stop = GracefulStop(shape)
    stop(signal.SIGTERM)
    stop(signal.SIGTERM)
    assert shape.reasons == ["SIGTERM received (Ctrl+C again to quit at once)"] and stop.received == 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_master_still_waiting_for_workers_quits_on_the_first_signal(tmp_path: Path, signum: int) -> None:
    from tests.support.locust_run import free_port

    command = [
        *headless_command(tmp_path / "run", "ws://127.0.0.1:9", run_time="30s"),
        "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(free_port()),
    ]  # fmt: skip
    env = {**os.environ, "LOCUST_JWT_SECRET": "s" * 32}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(4)  # waiting for two workers that never come
        assert process.poll() is None, "still waiting"
        process.send_signal(signum)
        sent = time.monotonic()
        output, _ = process.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        process.kill()
    assert took < 5, took
    assert process.returncode == FORCED_EXIT_CODE, output[-2000:]
    assert "received before the run started: quitting" in output and "Traceback" not in output
