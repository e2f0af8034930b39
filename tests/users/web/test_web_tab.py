"""users.web.web_tab inside Locust's own web app (Flask's test client: no socket): our build, the view's data, the form."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator

import pytest
from locust import events
from locust.env import Environment
from locust.web import WebUI

from scenarios.options import add_scenario_arguments, plan_for
from tests.users.web.test_web_form import parsed
from users.base import ToolCallUser
from users.load.options import add_user_arguments
from users.web.web_tab import BUILD_PATH, install_web_tab


@pytest.fixture
def web_ui(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebUI]:
    options = parsed("--jwt-secret", "s" * 32)
    monkeypatch.setattr(sys, "argv", ["locust", "-f", "locustfile.py"])  # Locust's form reads its parser again
    events.init_command_line_parser.add_listener(add_user_arguments)
    events.init_command_line_parser.add_listener(add_scenario_arguments)
    environment = Environment(user_classes=[ToolCallUser], parsed_options=options)
    environment.create_local_runner()
    try:
        web_ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)
        install_web_tab(environment, None, plan_check=plan_for)  # as the locustfile does
        yield web_ui
    finally:
        environment.runner.quit()  # type: ignore[union-attr]
        events.init_command_line_parser.remove_listener(add_user_arguments)
        events.init_command_line_parser.remove_listener(add_scenario_arguments)


def test_the_committed_build_is_whole_and_patched_for_locusts_post_requests() -> None:
    index = (BUILD_PATH / "index.html").read_text()
    assert "{{ template_args|tojson }}" in index
    scripts = re.findall(r'src="\./assets/([^"]+)"', index)
    assert len(scripts) == 1 and (BUILD_PATH / "assets" / scripts[0]).exists()
    bundle = (BUILD_PATH / "assets" / scripts[0]).read_text()
    assert 'url:"stop",method:"POST"' in bundle and 'url:"stats/reset",method:"POST"' in bundle
    assert "websocket/series" in bundle and "websocket/form" in bundle and "websocket/check" in bundle
    assert 'toLocaleTimeString("en-GB")' in bundle and 'toLocaleString("sv-SE")' in bundle  # 24-hour Charts
    polled = r"=\w+\(\),\w+=\w+\.state!==(\w+)\.READY&&\w+\.state!==\1\.STOPPED&&\w+\.state!==\1\.MISSING"
    assert re.search(polled, bundle)  # stats (and the state) polled until the run has stopped


def test_page_is_our_build_with_the_form_in_our_order(web_ui: WebUI) -> None:
    page = web_ui.app.test_client().get("/").get_data(as_text=True)
    assert "./assets/index-" in page and "src-" not in page  # not Locust's own bundle
    options = json.loads(page.split("window.templateArgs = ", 1)[1].split("\n", 1)[0])["extra_options"]
    assert list(options)[:4] == ["tools", "in_flight", "rate", "subscribe"]
    assert {options[name]["group"] for name in options} == {"Load", "Protocol", "Scenario", "Thresholds", "Advanced"}
    assert "session_prefix" not in options and "jwt_secret" not in options
    assert "progress_interval" not in options and "stats_table" not in options  # headless only


def test_the_form_shows_the_values_the_process_runs_with(web_ui: WebUI) -> None:
    client = web_ui.app.test_client()
    web_ui.environment.parsed_options.in_flight = 10  # type: ignore[union-attr]  # as /swarm sets it
    pairs = client.get("/websocket/form").get_json()["extra_options"]
    assert [name for name, _ in pairs][:4] == ["tools", "in_flight", "rate", "subscribe"]  # in order
    assert dict(pairs)["in_flight"]["default_value"] == 10
    check = client.post("/websocket/check", data={"inFlight": "0", "stageDuration": "30s"}).get_json()
    assert check == {"field": "in_flight", "message": "error: --in-flight must be at least 1, got 0"}
    assert client.post("/websocket/check", data={"inFlight": "3"}).get_json() == {"field": None, "message": None}


def test_series_before_any_run_and_a_bad_form_value(web_ui: WebUI) -> None:
    client = web_ui.app.test_client()
    view = client.get("/websocket/series?since=0").get_json()
    assert (view["running"], view["final"], view["points"], view["error"]) == (False, None, [], None)
    assert view["stage_line"] == "no scenario"
    answer = client.post("/swarm", data={"user_count": "1", "spawn_rate": "1", "tools": "echo:abc"}).get_json()
    assert answer == {
        "success": False,
        "message": "error: --tools: expected a whole-number weight after 'echo:' in 'echo:abc'",
        "host": None,
    }
    assert web_ui.environment.runner.state == "ready"  # type: ignore[union-attr]


def test_a_plan_that_cannot_run_is_refused_by_the_form(web_ui: WebUI) -> None:
    client = web_ui.app.test_client()
    check = client.post("/websocket/check", data={"scenario": "sustained,nope"}).get_json()
    assert check["field"] == "scenario" and check["message"].startswith("error: --scenario")
    assert client.post("/websocket/check", data={"scenario": "sustained"}).get_json()["message"] is None
