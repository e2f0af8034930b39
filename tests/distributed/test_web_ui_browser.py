"""The web UI in a real headless browser: start a run from the form, watch the WebSocket charts, stop, read the totals.

For a single process and for a master with two workers: the final totals the
view shows (without reloading the page) equal the last PREFIX_ws.csv row and
the reference server's counters. Screenshots are kept in WS_SCREENSHOT_DIR
(default: test-artifacts/web-ui/ in the checkout); WS_UPDATE_DOCS=1 also
refreshes docs/websocket-view.png from the master's live view.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from reference_server.launcher import RunningServer
from tests.distributed.cluster import Cluster, Process, locust_command, start_process, wait_for
from tests.support.locust_run import ROOT, free_port, read_run, secret_env

CHROMIUM = Path("/usr/bin/chromium")
COMPARED = ("calls_sent", "calls_ok", "calls_failed", "calls_timeout", "calls_lost", "calls_in_flight",
            "messages_sent", "messages_received", "connects", "reconnects", "connect_failures")  # fmt: skip

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


def keep_screenshots(tmp_path: Path, name: str) -> None:
    """Copy the run's screenshots to WS_SCREENSHOT_DIR; with WS_UPDATE_DOCS=1 the master's live view becomes
    docs/websocket-view.png (the picture in the README and docs/how-to/own-server.md)."""
    keep = Path(os.environ.get("WS_SCREENSHOT_DIR") or ROOT / "test-artifacts" / "web-ui")
    keep.mkdir(parents=True, exist_ok=True)
    for png in tmp_path.glob("*.png"):
        shutil.copy(png, keep / f"{name}-{png.name}")
    live = tmp_path / "websocket-view.png"
    if name == "master" and os.environ.get("WS_UPDATE_DOCS") == "1" and live.exists():
        shutil.copy(live, ROOT / "docs" / "websocket-view.png")


def run_probe(base: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    probe = subprocess.run(
        [sys.executable, "-m", "tests.distributed.browser_probe", "--url", base + "/",
         "--screenshot", str(tmp_path / "websocket-view.png"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    return json.loads(probe.stdout)


def wait_web_ui(base: str, process: Process, workers: int = 0) -> None:
    def up() -> bool:
        assert process.popen.poll() is None, process.log()[-3000:]
        try:
            return len(get_json(base + "/stats/requests").get("workers", [])) == workers
        except OSError:
            return False

    wait_for(up, 40, f"the web UI with {workers} workers", 0.2)


def check_final(report: dict[str, Any], prefix: Path, server: RunningServer, users: int) -> dict[str, float]:
    """The view's final totals against the last PREFIX_ws.csv row and the server; the CSV row."""
    final = read_run(prefix, 0, "").ws_final
    shown = report["stopped"]
    assert {k: number(shown[k]) for k in COMPARED} == {k: final[k] for k in COMPARED}, (shown, final)
    counters = server.wait_stats(lambda s: s["connections_closed"] == users)
    assert counters["calls_received"] == final["calls_sent"] and counters["results_ok"] == final["calls_ok"]
    assert counters["connections_opened"] == final["connects"] == users
    assert final["calls_sent"] > 0 and final["calls_in_flight"] == 0
    duration = number(shown["duration_s"])
    settled = sum(final[k] for k in ("calls_ok", "calls_failed", "calls_timeout", "calls_lost"))
    assert number(shown["mean_calls_per_s"]) == pytest.approx(settled / duration, rel=0.02)  # duration: 0.1 s
    assert "calls_per_s" not in shown and "messages_per_s" not in shown  # no live rate after the run
    return final


def stop_process(process: Process) -> None:
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.usefixtures("browser_ready")
def test_local_web_ui_charts_and_final_totals(tmp_path: Path, server: RunningServer) -> None:
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    command = locust_command("--web-host", "127.0.0.1", "--web-port", str(web_port), "--csv", str(tmp_path / "run"))
    locust = start_process("locust", command, tmp_path, secret_env(server))
    try:
        wait_web_ui(base, locust)
        report = run_probe(
            base, tmp_path, "--host", server.url, "--users", "3",
            "--param", "inFlight=2", "--param", "scenario=sustained", "--param", "rate=1500",
            "--param", "stageDuration=120s", "--until", "connections_open=3",
        )  # fmt: skip
    finally:
        stop_process(locust)
        keep_screenshots(tmp_path, "local")
    assert set(report["chart_line_pixels"]) == {"messages", "calls", "connections", "inflight", "latency"}
    assert report["live_stage"] == "Stage: sustained"
    assert report["live"]["rate_target"] == "1,500 (about 3,000 msg/s)"
    assert number(report["live"]["calls_per_s"]) > 0 and number(report["live"]["messages_per_s"]) > 0
    check_final(report, tmp_path / "run", server, 3)
    assert report["stopped_stage"] == "Stage: finished after sustained"


@pytest.mark.usefixtures("browser_ready")
def test_master_web_ui_charts_and_summed_final_totals(tmp_path: Path, server: RunningServer) -> None:
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    cluster = Cluster(
        tmp_path, "ws://localhost:8079/",
        ["--web-host", "127.0.0.1", "--web-port", str(web_port), "--csv", str(tmp_path / "run")],
        secret_env(server), headless=False,
    )  # fmt: skip
    master = cluster.start_master()
    workers = [cluster.start_worker(0), cluster.start_worker(1)]
    try:
        wait_web_ui(base, master, workers=2)
        report = run_probe(
            base, tmp_path, "--host", server.url, "--users", "4",
            "--param", "inFlight=2", "--param", "scenario=rate", "--param", "rate=2000",
            "--param", "stageDuration=120s", "--until", "connections_open=4", "--settle", "3",
        )  # fmt: skip
    finally:
        stop_process(master)
        cluster.finish(master, workers, 30)
        keep_screenshots(tmp_path, "master")
    live = report["live"]
    assert report["live_stage"] == "Stage: rate"
    assert live["rate_target"] == "2,000 (about 4,000 msg/s)"
    assert number(live["calls_per_s"]) == pytest.approx(2000, rel=0.25), live
    assert number(live["messages_per_s"]) == pytest.approx(4000, rel=0.25), live
    messages = number(live["messages_per_s"])  # shown rounded: the share may differ by the rounding
    target, stretch = (int(part.rstrip("%")) for part in live["of_target"].split(" / "))
    assert abs(target - 100 * messages / 50_000) <= 0.51 and abs(stretch - 100 * messages / 200_000) <= 0.51
    check_final(report, tmp_path / "run", server, 4)
    assert "2 finished" in report["stopped_status"], report["stopped_status"]
    assert report["stopped_stage"] == "Stage: finished after rate"


@pytest.mark.usefixtures("browser_ready")
def test_bad_form_value_is_one_message_in_the_form(tmp_path: Path, server: RunningServer) -> None:
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    command = locust_command("--web-host", "127.0.0.1", "--web-port", str(web_port))
    locust = start_process("locust", command, tmp_path, secret_env(server))
    try:
        wait_web_ui(base, locust)
        report = run_probe(base, tmp_path, "--host", server.url, "--users", "2", "--bad-param", "tools=echo:abc")
        assert get_json(base + "/stats/requests")["state"] == "ready"
    finally:
        stop_process(locust)
        keep_screenshots(tmp_path, "bad-value")
    assert report["alerts"] == ["error: --tools: expected a whole-number weight after 'echo:' in 'echo:abc'"]
    assert report["form_still_shown"]
    assert server.stats()["connections_opened"] == 0
    assert "Traceback" not in locust.log() and "StopUser" not in locust.log()


def test_worker_without_credentials_stops_the_run_with_one_message_in_the_view(
    tmp_path: Path, server: RunningServer
) -> None:
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    cluster = Cluster(tmp_path, server.url, ["--web-host", "127.0.0.1", "--web-port", str(web_port)], {},
                      headless=False)  # fmt: skip
    if any(os.environ.get(var) for var in ("LOCUST_JWT_SECRET", "LOCUST_TOKEN", "LOCUST_JWT_PRIVATE_KEY")):
        pytest.skip("this test needs processes without credentials")
    master = cluster.start_master()  # no credentials anywhere: the master starts, each worker refuses
    workers = [cluster.start_worker(0), cluster.start_worker(1)]
    try:
        wait_web_ui(base, master, workers=2)
        form = urllib.parse.urlencode({"user_count": "4", "spawn_rate": "4", "host": server.url}).encode()
        with urllib.request.urlopen(base + "/swarm", data=form, timeout=5) as response:
            assert json.loads(response.read())["success"]  # the master cannot check the workers' credentials
        view: dict[str, Any] = {}

        def ended() -> bool:
            view.update(get_json(base + "/websocket/series"))
            return view["final"] is not None

        wait_for(ended, 30, "the run to end", 0.2)
    finally:
        stop_process(master)
        cluster.finish(master, workers, 30)
    assert view["error"].startswith("worker ") and view["error"].endswith(
        ": error: set --jwt-secret (LOCUST_JWT_SECRET), --jwt-private-key (LOCUST_JWT_PRIVATE_KEY) or --token "
        "(LOCUST_TOKEN): hello needs a JWT"
    ), view["error"]
    assert server.stats()["connections_opened"] == 0
    logs = [p.log() for p in (master, *workers)]
    assert not any("Traceback" in log or "StopUser" in log for log in logs), logs
    assert logs[0].count("hello needs a JWT; stopping the run") == 1
