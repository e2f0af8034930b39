"""The "WebSocket" view in Locust's web UI: live charts of the run's counters, its final totals, and the start form.

Locust serves our build of its own React UI (the `locust-ui` package, built
from users/web/ui/ into users/web/ui/dist/, committed; see users/web/ui/README.md)
with a WebSocket tab that polls GET /websocket/series once a second. The
numbers come from a `TabSource`: the process's own counters in a
single-process run, the sum over workers on a master (users.reporting), the
same counters PREFIX_ws.csv is written from.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import gevent
from flask import Response, jsonify, request
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner

from users.engine.load_control import LoadSource
from users.integration.web_ui import rewrite_extra_options, serve_build
from users.load.config import config_for, current_config, options_view, send_live_options
from users.load.runtime import RUN_ERROR_MESSAGE, runtime_for
from users.web.web_form import PlanCheck, error_field, form_error, form_options
from users.web.web_series import RunSeries, merged_histogram

logger = logging.getLogger(__name__)

BUILD_PATH = Path(__file__).parent / "ui" / "dist"
"""Our build of Locust's web UI (index.html and assets/); Locust's own assets are served for anything else."""
SAMPLE_EVERY_S = 1.0
"""One chart point a second (workers report once a second)."""
CALL_PREFIX = "call_tool:"


class TabSource(Protocol):
    """Where the view's counters come from."""

    def snapshot(self) -> Mapping[str, float]:
        """Counters with WsCounters.snapshot() keys."""
        ...

    def workers_line(self) -> str | None:
        """A line about the reporting workers (master), or None."""
        ...


class _OwnCounters:
    """The process's own counters (single-process runs)."""

    def __init__(self, environment: Environment) -> None:
        self._environment = environment

    def snapshot(self) -> Mapping[str, float]:
        return runtime_for(self._environment).counters.snapshot()

    def workers_line(self) -> str | None:
        return None


def call_histogram(environment: Environment) -> dict[int, int]:
    """Locust's response time histogram of every call_tool:* request so far (summed over workers on a master)."""
    runner = environment.runner
    if runner is None:
        return {}
    entries = runner.stats.entries.values()
    return merged_histogram(e.response_times for e in entries if e.name.startswith(CALL_PREFIX))


class WebSocketView:
    """Samples one run for the view while it runs; its final totals once the run's reporting is done."""

    def __init__(self, environment: Environment, source: TabSource, load_source: LoadSource | None) -> None:
        self.environment = environment
        self.source = source
        self.load_source = load_source
        self.series = RunSeries()
        self._greenlet: gevent.Greenlet | None = None

    def _stage(self) -> tuple[str | None, float]:
        point = self.load_source.point() if self.load_source is not None else None
        if point is None:
            return None, 0.0
        return point.stage, point.rate or 0.0

    def on_test_start(self, **_: Any) -> None:
        runtime_for(self.environment).run_error = None  # users.base sets it for this run
        self.series.start(time.time(), self.source.snapshot(), call_histogram(self.environment))
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._sample_forever)

    def _sample_forever(self) -> None:
        next_tick = time.monotonic()
        while self.series.running:
            next_tick += SAMPLE_EVERY_S
            gevent.sleep(max(0.0, next_tick - time.monotonic()))
            stage, _ = self._stage()
            self.series.sample(time.time(), self.source.snapshot(), call_histogram(self.environment), stage or "")
        self._greenlet = None

    def on_test_stop(self, **_: Any) -> None:
        """After the reporter's own test_stop (it registered first): the counters are final here."""
        if not self.series.running:
            return
        stage, _ = self._stage()
        now = time.time()
        self.series.sample(now, self.source.snapshot(), call_histogram(self.environment), stage or "")
        self.series.finish(now, self.source.snapshot(), self.source.workers_line())

    def on_reset(self, **_: Any) -> None:
        """Locust's Reset (reset_stats): the view counts again from now, like Locust's statistics."""
        if self.series.running:
            self.series.start(time.time(), self.source.snapshot(), call_histogram(self.environment))

    def view(self, since: int) -> dict[str, Any]:
        stage, rate = self._stage()
        data = self.series.view(since, stage, rate, self.source.workers_line())
        data["error"] = runtime_for(self.environment).run_error
        return data


def relay_worker_errors(environment: Environment) -> None:
    """Master: a worker that stops for an option that cannot work there (its own credentials) stops the run;
    its error line is logged once and shown in the WebSocket view."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return

    def on_error(environment: Environment, msg: Any, **_: Any) -> None:
        runtime = runtime_for(environment)
        if runtime.run_error is None:
            runtime.run_error = f"worker {msg.node_id}: {msg.data}"
            logger.error("%s; stopping the run", runtime.run_error)
            gevent.spawn(runner.stop)

    runner.register_message(RUN_ERROR_MESSAGE, on_error)


def install_web_tab(
    environment: Environment,
    load_source: LoadSource | None,
    source: TabSource | None = None,
    plan_check: PlanCheck | None = None,
) -> None:
    """Serve the WebSocket view from the web UI of `environment`, if it has one; `source` defaults to the
    process's counters; `plan_check` checks the plan a start form's values make."""
    relay_worker_errors(environment)
    web_ui = environment.web_ui
    if web_ui is None:
        return
    view = WebSocketView(environment, source if source is not None else _OwnCounters(environment), load_source)
    environment.events.test_start.add_listener(view.on_test_start)
    environment.events.test_stop.add_listener(view.on_test_stop)
    serve_build(web_ui, BUILD_PATH)  # the form keeps our order
    environment.events.reset_stats.add_listener(view.on_reset)
    base = current_config(environment).web_base_path.rstrip("/")  # Locust's prefix
    _install_form(environment, base, plan_check)

    @web_ui.app.route(f"{base}/websocket/series")
    @web_ui.auth_required_if_enabled
    def websocket_series() -> Response:
        return jsonify(view.view(request.args.get("since", 0, type=int)))


def _running(environment: Environment) -> bool:
    runner = environment.runner
    return runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING)


def _install_form(environment: Environment, base: str, plan_check: PlanCheck | None) -> None:
    """The start form: our fields grouped, labelled and holding the values the process runs with now (Locust's
    form would show the start-up values), refreshed by the page at each state change (GET /websocket/form); a
    field's problem shown beside it (POST /websocket/check) and the form's values checked before /swarm."""
    web_ui = environment.web_ui
    assert web_ui is not None
    locust_options: dict[str, Any] = {}

    def current_form() -> dict[str, Any]:
        config = config_for(environment)  # rebuilt if the options changed (a /swarm since)
        current = options_view(config) if config is not None else None
        return form_options(locust_options, current, running=_running(environment))

    def with_form_options(extra_options: dict[str, Any]) -> dict[str, Any]:
        locust_options.clear()
        locust_options.update(extra_options)
        return current_form()

    rewrite_extra_options(web_ui, with_form_options)

    @web_ui.app.route(f"{base}/websocket/form")
    @web_ui.auth_required_if_enabled
    def websocket_form() -> Response:
        return jsonify({"extra_options": list(current_form().items())})  # a list: JSON objects get sorted

    @web_ui.app.route(f"{base}/websocket/check", methods=["POST"])
    @web_ui.auth_required_if_enabled
    def websocket_check() -> Response:
        shown = current_form()
        form = {_snake(key): value for key, value in request.form.items() if _snake(key) in shown}
        error = _form_problem(environment, form, plan_check)
        return jsonify({"message": error, "field": error_field(error, form) if error else None})

    @web_ui.app.before_request
    def check_form() -> Response | None:
        if request.path != f"{base}/swarm" or request.method != "POST":
            return None
        error = _form_problem(environment, request.form, plan_check)
        if error is None:
            return None
        return jsonify({"success": False, "message": error, "host": environment.host})

    @web_ui.app.after_request
    def follow_swarm(response: Response) -> Response:
        if request.path == f"{base}/swarm" and request.method == "POST":
            config_for(environment)  # New and Edit: the run's RunConfig now (the users follow it)
            send_live_options(environment)  # a master's workers too, even when the number of users is the same
        return response


def _form_problem(environment: Environment, form: Mapping[str, str], plan_check: PlanCheck | None) -> str | None:
    config = config_for(environment)
    if config is None:
        return None
    master = isinstance(environment.runner, MasterRunner)
    return form_error(options_view(config), form, os.environ, master=master, plan_check=plan_check)


def _snake(name: str) -> str:
    """A form field's name as the option's (the page names fields in camelCase, as locust-ui does)."""
    return re.sub(r"([a-z0-9])([A-Z0-9])", r"\1_\2", name).lower()
