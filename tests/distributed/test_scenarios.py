"""Scenario plans over master + workers: plans reach every worker (late ones too), rates split across workers."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer
from tests.distributed.checks import summed_once
from tests.distributed.cluster import Cluster, wait_for
from tests.support.locust_run import ROOT, ledger_closes, secret_env, ws_numbers

pytestmark = pytest.mark.timeout(240)  # above the runs' own bounds, so those fail first with their message


def rate_between(rows: list[dict[str, float]], start_s: float, end_s: float) -> float:
    """calls_sent/s between the first row at or after `start_s` and the last row at or before `end_s`."""
    window = [r for r in rows if start_s <= r["elapsed_s"] <= end_s]
    assert len(window) >= 3, f"fewer than 3 rows between {start_s:.1f} s and {end_s:.1f} s: the run started too late"
    first, last = window[0], window[-1]
    return (last["calls_sent"] - first["calls_sent"]) / (last["elapsed_s"] - first["elapsed_s"])


def rows_of(cluster: Cluster) -> list[dict[str, float]]:
    path = Path(f"{cluster.prefix}_ws.csv")
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [ws_numbers(r) for r in csv.DictReader(f)]


def test_burst_spikes_reach_their_height_summed_over_workers(tmp_path: Path, server: RunningServer) -> None:
    args = ["-u", "4", "-r", "100", "-t", "30s", "--scenario", "burst", "--stage-duration", "6s",
            "--burst-height", "12", "--burst-width", "400ms", "--burst-period", "2s"]  # fmt: skip
    run = Cluster(tmp_path, server.url, args, secret_env(server)).run()
    assert run.result.returncode == 0, run.master_log[-3000:]
    peaks = [int(ws_numbers(r)["users_sending_peak"]) for r in run.result.ws_rows if r["stage"] == "burst"]
    assert max(peaks) == 16, peaks  # 8 users on each worker, all sending in a 0.4 s spike
    assert min(peaks) <= 8, peaks  # off-spike seconds: base users only (on at least one worker)
    ledger_closes(run.result)
    summed_once(run)


def test_rate_target_is_split_across_workers(tmp_path: Path, server: RunningServer) -> None:
    args = ["-u", "4", "-r", "100", "-t", "30s", "--scenario", "rate", "--rate", "2000", "--stage-duration", "10s"]
    run = Cluster(tmp_path, server.url, args, secret_env(server)).run()
    assert run.result.returncode == 0, run.master_log[-3000:]
    rows = [ws_numbers(r) for r in run.result.ws_rows if r["stage"] == "rate"]
    # Measured once every user on both workers is connected: on a loaded machine a worker can start late.
    all_in = next(r["elapsed_s"] for r in rows if r["connections_open"] == 4)
    assert rate_between(rows, all_in + 1.0, 10.0) == pytest.approx(2000, rel=0.05)
    assert rows[-1]["rate_target"] == 2000 and rows[-1]["active_users"] == 4
    assert run.result.ws_final["calls_skipped"] == 0
    ledger_closes(run.result)
    assert all(float(r["calls_sent"]) > 3000 for r in summed_once(run))  # both workers paced their share


def test_rate_is_held_across_workers_with_locusts_default_spawn_rate(tmp_path: Path, server: RunningServer) -> None:
    """One user a second over two workers: the master gives each worker its users' share of the rate, and each
    worker's connected users carry that share, so the run holds the rate from 3 s on."""
    args = ["-u", "6", "-r", "1", "-t", "30s", "--scenario", "rate", "--rate", "1000", "--stage-duration", "10s"]
    run = Cluster(tmp_path, server.url, args, secret_env(server)).run()
    assert run.result.returncode == 0, run.master_log[-3000:]
    rows = [ws_numbers(r) for r in run.result.ws_rows if r["stage"] == "rate"]
    assert rate_between(rows, 3.0, 10.0) == pytest.approx(1000, rel=0.05)
    assert min(r["connections_open"] for r in rows if r["elapsed_s"] >= 3.0) < 6  # still ramping meanwhile
    assert "rate stage 'rate': " in run.master_log and ": held" in run.master_log, run.master_log[-3000:]
    ledger_closes(run.result)
    assert all(float(r["calls_sent"]) > 1000 for r in summed_once(run))  # both workers paced their share


def test_worker_joining_mid_run_gets_the_plan_and_the_rate_holds(tmp_path: Path, server: RunningServer) -> None:
    # 20 s leaves a measuring window after the late worker joins even when a loaded machine slows everything
    args = ["-u", "4", "-r", "100", "-t", "40s", "--scenario", "rate", "--rate", "1000", "--stage-duration", "20s"]
    cluster = Cluster(tmp_path, server.url, args, secret_env(server), workers=1)
    master = cluster.start_master()
    first = cluster.start_worker(0)
    try:
        wait_for(lambda: len(rows_of(cluster)) >= 3, 30, "the run to get going with one worker")
    except AssertionError:
        cluster.stop_all()
        raise
    late = cluster.start_worker(1)
    run = cluster.finish(master, [first, late], 60)
    assert run.result.returncode == 0, run.master_log[-3000:]
    assert "Unknown message type" not in late.log(), late.log()[-2000:]
    rows = [ws_numbers(r) for r in run.result.ws_rows if r["stage"] == "rate"]
    joined_at = next(r["elapsed_s"] for r in rows if r["connections_open"] > 0) + 3
    # Without the plan the late worker's users would run a closed loop, far above 1,000 calls/s.
    assert rate_between(rows, joined_at + 3, 20.5) == pytest.approx(1000, rel=0.1)
    workers = summed_once(run)
    assert len(workers) == 2 and all(float(r["calls_sent"]) > 0 for r in workers)
    ledger_closes(run.result)


def test_killed_worker_keeps_its_counters_and_the_rest_carries_the_rate(tmp_path: Path, server: RunningServer) -> None:
    args = ["-u", "4", "-r", "100", "-t", "40s", "--scenario", "rate", "--rate", "1000", "--stage-duration", "15s",
            "--enable-rebalancing"]  # fmt: skip
    cluster = Cluster(tmp_path, server.url, args, secret_env(server))
    master = cluster.start_master()
    workers = [cluster.start_worker(0), cluster.start_worker(1)]
    try:
        wait_for(lambda: any(r["connections_open"] == 4 for r in rows_of(cluster)), 30, "both workers' users")
        time.sleep(1.5)
        workers[1].kill()
        killed_at = time.monotonic()
    except AssertionError:
        cluster.stop_all()
        raise
    run = cluster.finish(master, workers, 60)
    assert run.result.returncode == 0, run.master_log[-3000:]
    log = run.master_log
    assert "failed to send heartbeat, setting state to missing" in log, log[-3000:]
    assert "went away without a final report; its last counters" in log, log[-3000:]
    ends = sorted(r["end"] for r in summed_once(run))  # the dead worker's last counters are in the totals
    assert ends == ["final", "gone"], ends
    rows = [ws_numbers(r) for r in run.result.ws_rows if r["stage"] == "rate"]
    assert rows[-1]["connections_open"] == 4  # rebalanced: the survivor runs all 4 users
    assert rate_between(rows, 11.0, 15.5) == pytest.approx(1000, rel=0.1)
    ws = run.result.ws_final
    assert (
        ws["calls_sent"]
        == ws["calls_ok"] + ws["calls_failed"] + ws["calls_timeout"] + ws["calls_lost"] + (ws["calls_in_flight"])
    )
    assert ws["calls_failed"] == ws["calls_timeout"] == ws["calls_lost"] == 0
    assert server.stats()["results_ok"] >= ws["calls_ok"]
    assert time.monotonic() - killed_at < 50
    ended = json.loads(Path(f"{run.prefix}_run.json").read_text())["ended"]
    assert len(ended["workers_without_final"]) == 1, ended  # the run record says so, and the report is INCOMPLETE
    report = subprocess.run([sys.executable, "-m", "analysis", "report", str(run.prefix)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert report.returncode == 3 and report.stdout.startswith("INCOMPLETE ("), report.stdout + report.stderr
    assert "no final report from 1 worker(s)" in report.stdout.splitlines()[0]
