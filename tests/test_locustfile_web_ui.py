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
from tests.support.locust_run import ROOT, free_port, terminate


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
        return self._wait("/stats/requests", condition, timeout_s)

    def wait_view(self, condition: Callable[[dict[str, Any]], bool], timeout_s: float = 20.0) -> dict[str, Any]:
        """Poll the WebSocket view's data until `condition` holds."""
        return self._wait("/websocket/series", condition, timeout_s)

    def _wait(self, path: str, condition: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            data = json.loads(self.get(path))
            if condition(data):
                return data
            assert time.monotonic() < deadline, f"{path} never matched: {str(data)[:1500]}"
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
        terminate(process)
        log.close()


def by_name(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in stats["stats"]}


def test_web_ui_shows_options_hides_secrets_and_runs_them(web_ui: WebUi, server: RunningServer) -> None:
    page = web_ui.get("/").decode()
    form = page[page.index('"extra_options"') :]
    places = [form.index(f'"{option}"') for option in ("tools", "in_flight", "rate", "subscribe", "protocol",
                                                        "scenario", "stage_duration", "call_timeout")]  # fmt: skip
    assert places == sorted(places)  # in the form's sections, what a person changes first comes first
    assert '"session_prefix"' not in page and '"ping_interval"' not in page  # command line, locust.conf, env
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


def test_web_ui_refuses_a_bad_option_with_one_message(web_ui: WebUi, server: RunningServer) -> None:
    for value, message in (("0", "error: --in-flight must be at least 1, got 0"),
                           ("abc", "error: --in-flight must be a whole number, got 'abc'")):  # fmt: skip
        started = web_ui.post("/swarm", {"user_count": "2", "spawn_rate": "2", "host": server.url, "in_flight": value})
        assert (started["success"], started["message"]) == (False, message)
    assert web_ui.stats()["state"] == "ready"  # no run started: the form shows the message and stays
    started = web_ui.post("/swarm", {"user_count": "2", "spawn_rate": "2", "host": server.url, "in_flight": "1",
                                     "tools": "echo:abc"})  # fmt: skip
    assert started["message"] == "error: --tools: expected a whole-number weight after 'echo:' in 'echo:abc'"
    assert server.stats()["connections_opened"] == 0
    log = web_ui.log_path.read_text()
    assert "Traceback" not in log and "StopUser" not in log, log[-2000:]


def test_web_ui_runs_a_scenario_and_shows_its_stage(web_ui: WebUi, server: RunningServer) -> None:
    assert "/assets/index-" in web_ui.get("/").decode()  # our build of Locust's UI (with the WebSocket view)
    started = web_ui.post(
        "/swarm",
        {"user_count": "2", "spawn_rate": "10", "host": server.url, "scenario": "sustained,burst",
         "stage_duration": "3s", "burst_width": "500ms", "burst_period": "1s", "burst_height": "2"},
    )  # fmt: skip
    assert started["success"], started

    def at(stage: str, connections: int) -> Callable[[dict[str, Any]], bool]:
        def shows(view: dict[str, Any]) -> bool:
            points = view["points"]
            return view["stage_line"] == stage and bool(points) and points[-1]["connections_open"] == connections

        return shows

    web_ui.wait_view(at("sustained", 2))
    web_ui.wait_view(at("burst", 4))  # base 2 + height 2
    ended = web_ui.wait_view(lambda v: v["final"] is not None, timeout_s=20)  # the plan ends the run by itself
    assert ended["stage_line"] == "finished after sustained → burst" and not ended["running"]
    assert ended["final"]["totals"]["connections_open"] == 0 and ended["final"]["totals"]["connects"] >= 4
    assert [s["name"] for s in ended["stages"]] == ["sustained", "burst"]


def test_an_edit_of_in_flight_reaches_every_user_old_and_new(web_ui: WebUi, server: RunningServer) -> None:
    def in_flight(wanted: int) -> Callable[[dict[str, Any]], bool]:
        return lambda view: bool(view["points"]) and view["points"][-1]["calls_in_flight"] == wanted

    slow = {"host": server.url, "tools": 'sleep={"ms":300}'}
    assert web_ui.post("/swarm", {"user_count": "4", "spawn_rate": "4", "in_flight": "10", **slow})["success"]
    web_ui.wait_view(in_flight(40))
    assert web_ui.post("/swarm", {"user_count": "6", "spawn_rate": "6", "in_flight": "3"})["success"]  # the Edit
    web_ui.wait_view(in_flight(18))  # 6 x 3: the 4 users started at 10 follow the edit too
    assert web_ui.post("/swarm", {"user_count": "6", "spawn_rate": "6", "in_flight": "1"})["success"]
    web_ui.wait_view(in_flight(6))  # back to the default: every user goes back to a closed loop
    web_ui.post("/stop", {})
    web_ui.wait(lambda s: s["state"] == "stopped")
