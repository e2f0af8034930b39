"""Ctrl+C to a `--processes` group and SIGTERM to a master: the run ends as if its time were up, nothing lost."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer
from tests.distributed.checks import server_agrees, summed_once
from tests.distributed.cluster import Cluster, wait_for
from tests.support.locust_run import ROOT, LocustRun, headless_command, ledger_closes, read_run, secret_env, ws_numbers

pytestmark = pytest.mark.timeout(240)


def interval_rates(result: LocustRun) -> list[float]:
    """calls/s between consecutive PREFIX_ws.csv rows, from their own timestamps."""
    rows = [ws_numbers(r) for r in result.ws_rows]
    return [
        (b["calls_sent"] - a["calls_sent"]) / (b["timestamp"] - a["timestamp"])
        for a, b in zip(rows, rows[1:], strict=False)
        if b["timestamp"] > a["timestamp"]
    ]


def no_interval_above_twice_the_median(result: LocustRun) -> None:
    """Every row's counters are consistent with its timestamp: no interval at more than twice the median
    (the traffic here is steady)."""
    rates = interval_rates(result)
    assert len(rates) >= 3, rates
    assert max(rates) <= 2 * statistics.median(rates), rates


def test_ctrl_c_to_a_processes_group_ends_like_a_timed_run(tmp_path: Path, server: RunningServer) -> None:
    prefix = tmp_path / "run"
    command = headless_command(prefix, server.url, "--processes", "2", "--in-flight", "10", users=20, run_time="60s")
    env = {**os.environ, **secret_env(server)}
    # A session of its own, so the SIGINT goes to the group as a terminal's Ctrl+C does: master and workers.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    try:
        wait_for(lambda: server.stats()["hello_ok"] == 20 and server.stats()["results_ok"] > 20_000, 60, "the run")
        time.sleep(3.0)  # a few rows at full speed
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    text = output.decode(errors="replace")
    result = read_run(prefix, process.returncode, text)
    assert result.returncode == 0, text[-3000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
    after_stop = text.split("stopping the run: SIGINT received", 1)[1]
    assert "Sending spawn jobs" not in after_stop, after_stop[-3000:]
    ws = ledger_closes(result)
    workers = (tmp_path / "run_workers.csv").read_text().splitlines()
    assert len(workers) == 3 and all(",final," in line for line in workers[1:]), workers
    server_agrees(ws, server.wait_stats(lambda s: s["connections_closed"] == 20))
    no_interval_above_twice_the_median(result)


def test_sigterm_to_a_master_with_two_workers_loses_nothing(tmp_path: Path, server: RunningServer) -> None:
    cluster = Cluster(tmp_path, server.url, ["-u", "8", "-r", "100", "-t", "60s", "--in-flight", "10"],
                      secret_env(server))  # fmt: skip
    master = cluster.start_master()
    workers = [cluster.start_worker(0), cluster.start_worker(1)]
    try:
        wait_for(lambda: server.stats()["hello_ok"] == 8, 60, "both workers' users")
        time.sleep(4.0)  # a few rows at full speed
        master.popen.send_signal(signal.SIGTERM)
    except AssertionError:
        cluster.stop_all()
        raise
    run = cluster.finish(master, workers, 60)
    assert run.result.returncode == 0, run.master_log[-3000:]
    assert run.worker_codes == [0, 0], [w.log()[-2000:] for w in run.workers]
    for log in (run.master_log, *(w.log() for w in run.workers)):
        assert "Traceback" not in log, log[-3000:]
    ws = ledger_closes(run.result)
    assert [r["end"] for r in summed_once(run)] == ["final", "final"]
    server_agrees(ws, server.wait_stats(lambda s: s["connections_closed"] == 8))
    no_interval_above_twice_the_median(run.result)
