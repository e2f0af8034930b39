"""The web UI's buttons in a real headless browser (tests/distributed/ui_flows.py): STOP ends in STOPPED with NEW,
New keeps our fields, Edit keeps in-flight for every user, Reset restarts the WebSocket tab, a bad field's error
beside it. Each run is short (tens of seconds at most) and the page is never reloaded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reference_server.launcher import RunningServer
from tests.distributed.cluster import Cluster, Process, locust_command, start_process, wait_for
from tests.distributed.test_web_ui_browser import browser_ready, get_json, keep_screenshots, number, stop_process
from tests.distributed.test_web_ui_browser import wait_web_ui as wait_up
from tests.support.locust_run import ROOT, free_port, secret_env

__all__ = ["browser_ready"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("browser_ready")]
SLOW_CALLS = 'sleep={"ms":1500}'
"""Calls that take 1.5 s: STOP drains them, so the run stays in CLEANUP/STOPPING past the page's 2 s poll."""


def run_flow(base: str, tmp_path: Path, server: RunningServer, flow: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.distributed.ui_flows", flow, "--url", base + "/", "--host", server.url,
         "--screenshot", str(tmp_path / f"{flow}.png"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@contextmanager
def local_ui(tmp_path: Path, server: RunningServer, name: str) -> Iterator[tuple[str, Process]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    locust = start_process("locust", locust_command("--web-host", "127.0.0.1", "--web-port", str(port)), tmp_path,
                           secret_env(server))  # fmt: skip
    try:
        wait_up(base, locust)
        yield base, locust
    finally:
        stop_process(locust)
        keep_screenshots(tmp_path, name)


def assert_stopped(report: dict[str, Any], base: str) -> None:
    assert "stopped" in report["header"].lower(), report
    assert report["stop_to_new_s"] < 20, report
    assert get_json(base + "/stats/requests")["state"] == "stopped"


def test_stop_ends_in_stopped_with_new_without_a_reload(tmp_path: Path, server: RunningServer) -> None:
    with local_ui(tmp_path, server, "flow-stop") as (base, _):
        report = run_flow(base, tmp_path, server, "stop", "--param", f"tools={SLOW_CALLS}", "--param", "inFlight=2")
        assert_stopped(report, base)
    assert report["stop_to_new_s"] >= 0.5  # the drain happened (calls of 1.5 s, the last ones part-done at STOP)


def test_master_stop_ends_in_stopped_with_new_without_a_reload(tmp_path: Path, server: RunningServer) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cluster = Cluster(tmp_path, server.url, ["--web-host", "127.0.0.1", "--web-port", str(port)], secret_env(server),
                      headless=False)  # fmt: skip
    master = cluster.start_master()
    workers = [cluster.start_worker(0), cluster.start_worker(1)]
    try:
        wait_up(base, master, workers=2)
        report = run_flow(base, tmp_path, server, "stop", "--param", f"tools={SLOW_CALLS}", "--param", "inFlight=2")
        assert_stopped(report, base)
    finally:
        stop_process(master)
        cluster.finish(master, workers, 30)
        keep_screenshots(tmp_path, "flow-master-stop")


def test_new_keeps_the_last_runs_fields(tmp_path: Path, server: RunningServer) -> None:
    fields = {"tools": 'echo:9,sleep:1={"ms":5}', "inFlight": "10", "scenario": "sustained,reconnect",
              "stageDuration": "8s", "protocol": "toolcall"}  # fmt: skip
    with local_ui(tmp_path, server, "flow-new") as (base, _):
        report = run_flow(
            base, tmp_path, server, "new", "--users", "3", *(f"--param={k}={v}" for k, v in fields.items())
        )
    # burstWidth is folded under "Stage settings": still in the form (submitted), with its default
    assert report["new_dialog"] == {"userCount": "3", "spawnRate": "3", **fields, "burstWidth": "1s"}, report


def test_edit_keeps_in_flight_for_every_user(tmp_path: Path, server: RunningServer) -> None:
    with local_ui(tmp_path, server, "flow-edit") as (base, _):
        report = run_flow(base, tmp_path, server, "edit", "--users", "4", "--edit-users", "8",
                          "--param", 'tools=sleep={"ms":300}', "--param", "inFlight=10")  # fmt: skip
        assert report["edit_dialog"] == {"userCount": "4", "spawnRate": "4", "tools": 'sleep={"ms":300}',
                                         "inFlight": "10"}  # only what a running test takes  # fmt: skip
        seen: list[float] = []

        def eighty() -> bool:
            points = get_json(base + "/websocket/series?since=0")["points"]
            seen.append(points[-1]["calls_in_flight"] if points else 0)
            return seen[-1] == 80

        wait_for(eighty, 20, "80 calls in flight (8 users x 10)", 0.5)
        time.sleep(2)
        later = get_json(base + "/websocket/series?since=0")["points"][-2:]
    assert [p["calls_in_flight"] for p in later] == [80, 80], (later, seen[-5:])


def test_reset_restarts_the_websocket_tab(tmp_path: Path, server: RunningServer) -> None:
    with local_ui(tmp_path, server, "flow-reset") as (base, _):
        report = run_flow(base, tmp_path, server, "reset", "--param", 'tools=sleep={"ms":20}', "--settle", "4")
        locust_calls = sum(row["num_requests"] for row in get_json(base + "/stats/requests")["stats"]
                           if row["name"].startswith("call_tool:"))  # fmt: skip
    final = report["final"]
    assert number(final["duration_s"]) < 4 + 2.5, final  # from the reset, not from the start (~8 s before STOP)
    settled = sum(number(final[k]) for k in ("calls_ok", "calls_failed", "calls_timeout", "calls_lost"))
    assert settled == locust_calls > 0  # counted from the same moment as Locust's statistics
    assert number(final["calls_sent"]) < server.stats()["calls_received"]


def test_a_bad_field_shows_its_error_beside_it(tmp_path: Path, server: RunningServer) -> None:
    with local_ui(tmp_path, server, "flow-bad") as (base, locust):
        report = run_flow(base, tmp_path, server, "bad", "--param", "inFlight=0")
        assert get_json(base + "/stats/requests")["state"] == "ready"
    message = "error: --in-flight must be at least 1, got 0"
    assert report["beside"] == {"inFlight": message} and report["alerts"] == [message], report
    assert server.stats()["connections_opened"] == 0 and "Traceback" not in locust.log()
