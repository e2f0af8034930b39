"""Master + workers + reference server as separate processes on loopback, headless."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer
from tests.distributed.checks import server_agrees, summed_once
from tests.distributed.cluster import Cluster, locust_command, start_process, wait_for
from tests.support.locust_run import ROOT, free_port, ledger_closes, read_run, run_locust, secret_env

pytestmark = pytest.mark.timeout(240)  # above the runs' own bounds, so those fail first with their message


def test_master_and_two_workers_sum_metrics_once(tmp_path: Path, server: RunningServer) -> None:
    # 8 s and instant spawning: on a loaded machine workers can take seconds to start their users
    cluster = Cluster(
        tmp_path, server.url, ["-u", "4", "-r", "100", "-t", "8s", "--in-flight", "4"], secret_env(server)
    )
    run = cluster.run(worker_args=["--csv", str(tmp_path / "worker")])  # workers given --csv still write no ws.csv
    assert run.result.returncode == 0, run.master_log[-3000:]
    assert run.worker_codes == [0, 0], [w.log()[-2000:] for w in run.workers]
    ws = ledger_closes(run.result)
    assert ws["calls_sent"] > 0 and ws["connections_open"] == 0 and ws["connects"] == 4
    rows = summed_once(run)
    assert len(rows) == 2 and all(r["end"] == "final" and float(r["calls_sent"]) > 0 for r in rows)
    server_agrees(ws, server.wait_stats(lambda s: s["connections_closed"] == 4))
    assert not list(tmp_path.glob("worker*_ws.csv"))
    assert "ws metrics: summed over 2 workers (2 sent a final report)" in run.master_log
    rows_live = [r for r in run.result.ws_rows[:-1] if float(r["connections_open"]) == 4]
    assert rows_live, "no live row saw both workers' connections"


def test_a_worker_missing_heartbeats_at_the_end_still_counts(tmp_path: Path, server: RunningServer) -> None:
    """A worker too busy to heartbeat (paused here) when the run ends: the master waits for its final report."""
    cluster = Cluster(tmp_path, server.url, ["-u", "4", "-r", "100", "-t", "60s"], secret_env(server))
    master = cluster.start_master()
    workers = [cluster.start_worker(0), cluster.start_worker(1)]
    try:
        wait_for(lambda: server.stats()["hello_ok"] == 4, 30, "both workers' users")
        workers[1].popen.send_signal(signal.SIGSTOP)
        wait_for(lambda: "failed to send heartbeat, setting state to missing" in master.log(), 20, "a missing worker")
        master.popen.send_signal(signal.SIGTERM)  # the run ends (as `docker stop` ends it) while it is missing
        wait_for(lambda: "Shape test stopping" in master.log(), 20, "the master ending the run")
        workers[1].popen.send_signal(signal.SIGCONT)  # the master is collecting final reports by now
    except AssertionError:
        cluster.stop_all()
        raise
    run = cluster.finish(master, workers, 60)
    ws = ledger_closes(run.result)
    assert [r["end"] for r in summed_once(run)] == ["final", "final"], run.master_log[-3000:]
    server_agrees(ws, server.wait_stats(lambda s: s["connections_closed"] == 4))


def test_processes_on_one_machine(tmp_path: Path, server: RunningServer) -> None:
    result = run_locust(
        tmp_path, server.url, "--processes", "2", "--in-flight", "2", env=secret_env(server), run_time="8s"
    )  # forked workers can take seconds to start their users on a loaded machine
    assert result.returncode == 0, result.output[-3000:]
    ws = ledger_closes(result)
    assert ws["connects"] == 4 and ws["calls_sent"] > 0
    server_agrees(ws, server.wait_stats(lambda s: s["connections_closed"] == 4))
    workers = (tmp_path / "run_workers.csv").read_text().splitlines()
    assert len(workers) == 3 and all(",final," in line for line in workers[1:])


def test_distributed_report_matches_a_single_process_report(tmp_path: Path, server: RunningServer) -> None:
    common = ["--in-flight", "2", "--tools", 'echo:3,sleep:1={"ms":1}']
    local_dir, dist_dir = tmp_path / "local", tmp_path / "dist"
    local_dir.mkdir()
    dist_dir.mkdir()
    local = run_locust(local_dir, server.url, *common, env=secret_env(server), users=2, run_time="3s")
    run = Cluster(dist_dir, server.url, ["-u", "2", "-r", "2", "-t", "3s", *common], secret_env(server)).run()
    assert local.returncode == 0 and run.result.returncode == 0, run.master_log[-3000:]
    ledger_closes(local)
    ledger_closes(run.result)

    def header(path: Path) -> list[str]:
        return path.read_text().splitlines()[0].split(",")

    for suffix in ("ws", "stats", "stats_history", "failures", "exceptions"):
        assert header(dist_dir / f"run_{suffix}.csv") == header(local_dir / f"run_{suffix}.csv"), suffix
    assert set(run.result.stats) == set(local.stats)
    summaries = []
    for folder in (local_dir, dist_dir):
        report = subprocess.run(
            [sys.executable, "-m", "analysis", "report", str(folder / "run"), "--out", str(folder / "report")],
            cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        assert report.returncode in (0, 1), report.stderr
        summaries.append(json.loads((folder / "report" / "summary.json").read_text()))
    local_summary, dist_summary = summaries
    assert dist_summary.keys() == local_summary.keys()
    assert dist_summary["latency_ms"].keys() == local_summary["latency_ms"].keys()
    assert dist_summary["ledger"].keys() == local_summary["ledger"].keys()
    assert dist_summary["ledger"]["sent"] == run.result.ws_final["calls_sent"]
    assert dist_summary["messages_per_s"]["mean"] > 0


def test_master_refuses_bad_options_before_workers_connect(tmp_path: Path) -> None:
    command = locust_command(
        "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(free_port()),
        "--headless", "--expect-workers", "1", "-t", "2s", "--in-flight", "0",
    )  # fmt: skip
    master = start_process("master", command, tmp_path, {"LOCUST_JWT_SECRET": "x" * 32})
    assert master.wait(30) == 2
    assert "error: --in-flight must be at least 1, got 0" in master.log()
    assert not read_run(tmp_path / "run", 2, "").ws_rows


def test_secret_only_on_the_workers_never_crosses_the_master_link(tmp_path: Path, server: RunningServer) -> None:
    cluster = Cluster(
        tmp_path,
        server.url,
        ["-u", "4", "-r", "100", "-t", "8s", "--in-flight", "2"],
        secret_env(server),
        master_env={},
    )
    run = cluster.run()
    assert run.result.returncode == 0, run.master_log[-3000:]
    ws = ledger_closes(run.result)
    assert ws["calls_sent"] > 0 and ws["hellos_ok"] == 4 and ws["hellos_refused"] == 0
    server_agrees(ws, server.wait_stats(lambda s: s["connections_closed"] == 4))
