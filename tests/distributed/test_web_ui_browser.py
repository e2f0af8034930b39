"""The master's web UI in a real headless browser: start a distributed run from the form, read the WebSocket tab."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from reference_server.launcher import RunningServer
from tests.distributed.cluster import Cluster, wait_for
from tests.support.locust_run import ROOT, free_port, read_run, secret_env

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.timeout(240)  # above the runs' own bounds, so those fail first with their message


@pytest.fixture
def browser_ready() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (as root: apt-get install -y chromium; .ci/run does it)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed (pip install -r requirements.txt)")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def number(text: str) -> float:
    return float(text.split()[0].replace(",", ""))


@pytest.mark.usefixtures("browser_ready")
def test_master_web_ui_shows_the_summed_websocket_metrics(tmp_path: Path, server: RunningServer) -> None:
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    cluster = Cluster(
        tmp_path, "ws://localhost:8079/",
        ["--web-host", "127.0.0.1", "--web-port", str(web_port), "--csv", str(tmp_path / "run")],
        secret_env(server), headless=False,
    )  # fmt: skip
    master = cluster.start_master()
    workers = [cluster.start_worker(0), cluster.start_worker(1)]
    screenshot = tmp_path / "websocket-tab.png"
    try:

        def two_workers() -> bool:
            try:
                return len(get_json(base + "/stats/requests").get("workers", [])) == 2
            except OSError:
                return False

        wait_for(two_workers, 40, "the web UI with two workers")
        probe = subprocess.run(
            [sys.executable, "-m", "tests.distributed.browser_probe", "--url", base + "/", "--host", server.url,
             "--users", "4", "--param", "inFlight=2", "--param", "scenario=rate", "--param", "rate=2000",
             "--param", "stageDuration=60s",
             "--until", "Connections open=4", "--until", "Workers=2 reporting", "--until", "Stage=rate",
             "--settle", "6", "--stopped", "Workers=2 finished", "--stopped", "Calls in flight=0",
             "--screenshot", str(screenshot)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr[-3000:] + master.log()[-2000:]
        tab = json.loads(probe.stdout)
        final: dict[str, float] = {}
        calls: list[int] = []

        def locust_calls_settled() -> bool:  # Locust caches /stats/requests for 2 s or more
            stats = get_json(base + "/stats/requests")
            calls.append(sum(r["num_requests"] for r in stats["stats"] if r["name"].startswith("call_tool:")))
            if stats["state"] != "stopped":
                return False
            final.update(read_run(tmp_path / "run", 0, "").ws_final)  # the master's last row, once stopped
            return calls[-1] == final["calls_sent"]

        try:
            wait_for(locust_calls_settled, 15, "the web UI's call count to equal the final ws.csv row", 0.5)
        except AssertionError as error:
            raise AssertionError(f"{error}: {final.get('calls_sent')} in ws.csv, web UI showed {calls}") from None
    finally:
        if master.popen.poll() is None:
            master.popen.send_signal(signal.SIGTERM)
        cluster.finish(master, workers, 30)
        keep = os.environ.get("WS_SCREENSHOT_DIR")  # to look at the tab yourself: WS_SCREENSHOT_DIR=/tmp/shots
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for png in tmp_path.glob("websocket-tab*.png"):
                shutil.copy(png, Path(keep) / png.name)
    live, stopped = tab["live"], tab["stopped"]
    assert live["Rate target (calls/s)"] == "2,000 (about 4,000 msg/s)"
    assert number(live["Messages/s (sent + received)"]) == pytest.approx(4000, rel=0.2), live
    assert number(live["Calls/s"]) == pytest.approx(2000, rel=0.2), live
    assert live["Messages/s target / stretch"] == "50,000 / 200,000"
    assert live["Of target / stretch"].endswith("%") and live["Reconnects (attempts)"] == "0 (0)"
    assert number(live["Calls in flight"]) >= 0

    assert (
        final["calls_sent"] == calls[-1] == server.wait_stats(lambda s: s["connections_closed"] == 4)["calls_received"]
    )
    assert stopped["Connections open"] == "0" and number(stopped["Calls lost / timed out"]) == 0
