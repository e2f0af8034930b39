"""Master, two workers and the reference server on four "hosts" (network namespaces), traffic over veth."""

from __future__ import annotations

import json
import secrets
import signal
import sys
from pathlib import Path

import pytest

from tests.distributed import netns
from tests.distributed.checks import server_agrees, summed_once
from tests.distributed.cluster import Cluster, start_process, wait_for
from tests.support.locust_run import ledger_closes

pytestmark = pytest.mark.timeout(240)  # above the runs' own bounds, so those fail first with their message


@pytest.fixture(scope="module")
def namespaces_allowed() -> None:
    reason = netns.why_not_available()
    if reason is not None:
        pytest.skip(f"no network namespaces: {reason}")


@pytest.mark.usefixtures("namespaces_allowed")
def test_master_workers_and_server_on_separate_hosts(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    stats_file = tmp_path / "server_stats.json"
    with netns.hosts(["server", "master", "worker0", "worker1"]) as hosts:
        server_host, master_host = hosts["server"], hosts["master"]
        server = start_process(
            "server",
            [sys.executable, "-m", "reference_server", "--host", server_host.address, "--port", "8079",
             "--metrics-port", "8080", "--stats-file", str(stats_file)],
            tmp_path, {"REFERENCE_SERVER_JWT_SECRET": secret}, server_host.wrap,
        )  # fmt: skip
        try:
            wait_for(lambda: "listening on" in server.log() or server.popen.poll() is not None, 20, "the server")
            assert server.popen.poll() is None, server.log()
            rx_before = server_host.interface_bytes()[0]
            cluster = Cluster(
                tmp_path,
                f"ws://{server_host.address}:8079/",
                ["-u", "4", "-r", "4", "-t", "3s", "--in-flight", "4"],
                {"LOCUST_JWT_SECRET": secret},
                master_bind=master_host.address,
                master_port=5557,
                master_wrap=master_host.wrap,
                worker_wraps=[hosts["worker0"].wrap, hosts["worker1"].wrap],
            )
            run = cluster.run()
            master_rx = master_host.interface_bytes()[0]
            server_rx = server_host.interface_bytes()[0] - rx_before
        finally:
            server.popen.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            finally:
                server.kill()
    assert run.result.returncode == 0, run.master_log[-3000:]
    assert run.worker_codes == [0, 0], [w.log()[-2000:] for w in run.workers]
    ws = ledger_closes(run.result)
    assert ws["connects"] == 4 and ws["calls_sent"] > 0
    rows = summed_once(run)
    assert len(rows) == 2 and all(r["end"] == "final" for r in rows)
    stats = json.loads(stats_file.read_text())
    server_agrees(ws, stats)
    # The calls crossed the veth pairs: the server's interface received at least their payload bytes,
    # and the master's received the workers' reports.
    assert server_rx >= stats["bytes_in"] > 0
    assert master_rx > 10_000
