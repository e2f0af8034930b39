"""The same locustfile driven through Locust's web UI: options in the form, secrets kept out of the page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.locust_run import ROOT, free_port


class WebUi:
    """A Locust web UI process on loopback."""

    def __init__(self, base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.base = base
        self.process = process
        self.log_path = log_path

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=5) as response:
            return response.read()

    def post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        data = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(self.base + path, data=data, timeout=5) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return json.loads(self.get("/stats/requests"))

    def wait(self, condition: Callable[[dict[str, Any]], bool], timeout_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            stats = self.stats()
            if condition(stats):
                return stats
            assert time.monotonic() < deadline, f"web UI stats never matched: {stats.get('state')}"
            time.sleep(0.2)


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with start_reference_server() as running:
        yield running


@pytest.fixture
def web_ui(server: RunningServer, tmp_path: Path) -> Iterator[WebUi]:
    port = free_port()
    log_path = tmp_path / "locust.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", "locustfile.py", "--web-host", "127.0.0.1", "--web-port", str(port)],
        cwd=ROOT,
        env={**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    ui = WebUi(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ui.get("/")
                break
            except OSError:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "web UI did not come up"
                time.sleep(0.2)
        yield ui
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def by_name(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in stats["stats"]}


def test_web_ui_shows_options_hides_secrets_and_runs_them(web_ui: WebUi, server: RunningServer) -> None:
    page = web_ui.get("/").decode()
    for option in ("in_flight", "tools", "call_timeout", "session_prefix"):
        assert option in page, option
    assert "jwt_secret" not in page and (server.jwt_secret or "?") not in page
    assert "ws://localhost:8079/" in page  # the default host

    started = web_ui.post(
        "/swarm",
        {
            "user_count": "3",
            "spawn_rate": "3",
            "host": server.url,
            "in_flight": "4",
            "tools": 'echo:3,sleep:1={"ms":1}',
        },
    )
    assert started["success"], started
    running = web_ui.wait(lambda s: by_name(s).get("call_tool:sleep", {}).get("num_requests", 0) > 20)
    assert by_name(running)["call_tool:echo"]["num_failures"] == 0
    assert by_name(running)["hello"]["num_requests"] == 3

    web_ui.post("/stop", {})
    stopped = web_ui.wait(lambda s: s["state"] == "stopped")
    calls = sum(row["num_requests"] for name, row in by_name(stopped).items() if name.startswith("call_tool:"))
    final = server.wait_stats(lambda s: s["connections_closed"] == 3)
    assert final["calls_received"] == calls and final["results_ok"] == calls


def test_web_ui_bad_option_stops_the_run_with_a_clear_error(web_ui: WebUi, server: RunningServer) -> None:
    started = web_ui.post("/swarm", {"user_count": "2", "spawn_rate": "2", "host": server.url, "in_flight": "0"})
    assert started["success"], started
    web_ui.wait(lambda s: s["state"] == "stopped")
    assert server.stats()["connections_opened"] == 0
    log = web_ui.log_path.read_text()
    assert log.count("error: --in-flight must be at least 1, got 0; stopping the run") == 1, log[-2000:]


def test_web_ui_runs_a_scenario_and_shows_its_stage(web_ui: WebUi, server: RunningServer) -> None:
    assert "WebSocket" in web_ui.get("/").decode()  # the extra tab is announced to the page
    started = web_ui.post(
        "/swarm",
        {"user_count": "2", "spawn_rate": "10", "host": server.url, "scenario": "sustained,burst",
         "stage_duration": "3s", "burst_width": "500ms", "burst_period": "1s", "burst_height": "2"},
    )  # fmt: skip
    assert started["success"], started

    def tab(stats: dict[str, Any]) -> dict[str, str]:
        rows = {e["key"]: e["data"] for e in stats.get("extended_stats", [])}.get("websocket", [])
        return {row["metric"]: row["value"] for row in rows}

    web_ui.wait(lambda s: tab(s).get("Stage") == "sustained" and tab(s)["Connections open"] == "2")
    web_ui.wait(lambda s: tab(s).get("Stage") == "burst" and tab(s)["Connections open"] == "4")  # base 2 + height 2
    stopped = web_ui.wait(lambda s: s["state"] == "stopped", timeout_s=20)  # the plan ends the run by itself
    assert tab(stopped)["Stage"] == "(no scenario)"
