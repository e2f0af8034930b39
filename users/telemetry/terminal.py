"""Terminal side of a run: progress lines, live thresholds, the unknown-tool stop and the end-of-run summary.

Runs where the run is steered (a single process, or the master, from the workers' summed counters); workers
only count. Output goes to Locust's plain console logger (stdout, and the web UI's log tab).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.request
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from analysis.histograms import call_totals
from analysis.thresholds import final_verdict, judge_all, parse_thresholds
from users import integration
from users.engine.load_control import LoadSource
from users.load.config import RunConfig, config_state, current_config
from users.load.jwt_notice import quiet_key_length_warnings
from users.load.options import DEFAULT_PROGRESS_S
from users.telemetry.progress import Sample, progress_line
from users.telemetry.summary import ServerCheck, server_delta, summary_lines
from users.telemetry.thresholds import ThresholdWatch, name_figures, run_figures

logger = logging.getLogger(__name__)
console = logging.getLogger("locust.stats_logger")  # Locust's plain stdout logger (also in the web UI's logs)

WATCH_EVERY_S = 0.25
"""How often the run is checked for calls failing `unknown_tool` (on a master: as worker reports arrive)."""
SERVER_STATS_TIMEOUT_S = 3.0
EXIT_THRESHOLD_FAILED = 1
EXIT_UNKNOWN_TOOL = 2


def prints_progress(config: RunConfig) -> bool:
    """Whether this run prints progress lines: headless, an interval, and no --only-summary."""
    return config.progress_interval > 0 and config.headless and not config.only_summary


def quiet_locust_table(environment: Environment, **_: Any) -> None:
    """`init` listener: with progress lines, Locust's periodic request table is left out (unless --stats-table):
    it would print every 2 s between them; its final tables still print at the end."""
    config = config_state(environment).config
    if config is None or isinstance(environment.runner, WorkerRunner) or config.stats_table:
        return
    if prints_progress(config):
        integration.quiet_console_table()


def request_run_stop(environment: Environment, reason: str) -> None:
    """End the run the clean way: the load shape's request_stop (the SIGTERM path), else the runner's stop; headless,
    the runner's quit (as -t does), so the process ends now rather than at -t."""
    shape = environment.shape_class
    runner = environment.runner
    if shape is not None and hasattr(shape, "request_stop"):
        shape.request_stop(reason)
    elif runner is not None:
        logger.warning("stopping the run: %s", reason)
        config = config_state(environment).config
        headless = config is not None and config.headless
        gevent.spawn(runner.quit if headless else runner.stop)


def unknown_tool_names(stats: Any) -> list[str]:
    """Request names of Locust's errors whose code is `unknown_tool` (the server has no such tool)."""
    names = []
    for error in list(stats.errors.values()):
        text = error.error if isinstance(error.error, str) else repr(error.error)
        if text.startswith("unknown_tool"):
            names.append(error.name)
    return sorted(set(names))


def fetch_server_stats(control_url: str) -> dict[str, Any] | None:
    """GET the reference server's /stats (None when it does not answer: maybe not the reference server)."""
    try:
        with urllib.request.urlopen(control_url.rstrip("/") + "/stats", timeout=SERVER_STATS_TIMEOUT_S) as answer:
            data = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def error_counts(environment: Environment) -> dict[str, int]:
    """Occurrences of each error Locust grouped, by `name: error text` (as its error report names them)."""
    counts: dict[str, int] = {}
    for error in list(environment.stats.errors.values()):
        text = f"{error.name}: {error.error if isinstance(error.error, str) else repr(error.error)}"
        counts[text] = counts.get(text, 0) + int(error.occurrences)
    return counts


class RunTerminal:
    """Per run: a greenlet printing progress and judging thresholds; the summary and the verdict at test_stop."""

    def __init__(self, reporter: Any, load_source: LoadSource | None) -> None:
        self.reporter = reporter
        self.load_source = load_source
        self.watch = ThresholdWatch([])
        self._greenlet: gevent.Greenlet | None = None
        self._started = time.monotonic()
        self._server_before: dict[str, Any] | None = None
        self._unknown_reported = False
        self._aborted = False
        self.stop_reason = ""
        """Why the run stopped itself (a failed threshold with --abort-on-threshold, an unknown tool); "" if not."""

    def _active(self, environment: Environment) -> bool:
        state = config_state(environment)
        has_options = state.config is not None or state.error is not None
        return has_options and not isinstance(environment.runner, WorkerRunner)

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if not self._active(environment):
            return
        state = config_state(environment)
        config = state.config
        self._started = time.monotonic()
        self._unknown_reported = False
        self._aborted = False
        self.stop_reason = ""
        if config is None:  # checked at init and by the web UI's form: only options changed some other way get here
            logger.error("error: %s; stopping the run", state.error)
            self.stop_reason = "bad option"
            request_run_stop(environment, "bad option")
            config = RunConfig()
        self.watch = ThresholdWatch(
            parse_thresholds(config.threshold), abort=config.abort_on_threshold, grace_s=config.abort_grace
        )
        self._server_before = None
        control_url = config.server_control_url
        if control_url:
            self._server_before = fetch_server_stats(control_url)
        self._greenlet = gevent.spawn(self._run, environment)

    def _stage(self) -> str:
        point = self.load_source.point() if self.load_source is not None else None
        return point.stage if point is not None else ""

    def _sample(self, environment: Environment) -> Sample:
        elapsed = time.monotonic() - self._started
        return Sample(elapsed, self.reporter.snapshot(), call_totals(environment.stats)[0], error_counts(environment))

    def _run(self, environment: Environment) -> None:
        config = current_config(environment)
        interval = config.progress_interval
        printing = prints_progress(config)
        every = interval if interval > 0 else DEFAULT_PROGRESS_S
        previous = self._sample(environment)
        next_line = self._started + every
        while True:
            gevent.sleep(WATCH_EVERY_S)
            self._check_unknown_tools(environment)
            if time.monotonic() < next_line:
                continue
            next_line += every
            current = self._sample(environment)
            if printing:
                console.info(progress_line(previous, current, self._stage()))
            previous = current
            if self.watch.thresholds:
                self._judge_live(environment, current)

    def _judge_live(self, environment: Environment, current: Sample) -> None:
        already = set(self.watch.failed_live)
        figures = run_figures(environment.stats, current.counters, current.elapsed_s)
        for judgement in self.watch.check(figures, current.elapsed_s):
            if judgement.passed is False and judgement.threshold.text not in already:
                logger.warning("threshold %s", judgement.describe())
        if self.watch.abort_reason and not self._aborted:
            self._aborted = True
            self.stop_reason = self.watch.abort_reason
            request_run_stop(environment, self.watch.abort_reason)

    def _check_unknown_tools(self, environment: Environment) -> None:
        if self._unknown_reported:
            return
        names = unknown_tool_names(environment.stats)
        if not names:
            return
        self._unknown_reported = True
        tools = ", ".join(n.removeprefix("call_tool:") for n in names)
        sys.stderr.write(
            f"error: the server has no tool {tools} (calls fail unknown_tool): check --tools; stopping the run\n"
        )
        environment.process_exit_code = EXIT_UNKNOWN_TOOL
        self.stop_reason = f"unknown tool {tools}"
        request_run_stop(environment, f"unknown tool {tools}")

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        """After the reporter's own test_stop (final counters are in): summary, final thresholds, exit code."""
        if not self._active(environment) or self._greenlet is None:
            return
        self._greenlet.kill(block=True)
        self._greenlet = None
        self._check_unknown_tools(environment)
        duration = time.monotonic() - self._started
        counters = self.reporter.snapshot()
        for line in summary_lines(counters, duration, name_figures(environment.stats), self._server_check(environment)):
            console.info(line)
        if not self.watch.thresholds:
            return
        judgements = judge_all(self.watch.thresholds, run_figures(environment.stats, counters, duration))
        aborted = self._aborted
        passed = final_verdict(judgements) and not aborted
        for judgement in judgements:
            console.info(f"threshold {judgement.describe()}")
        console.info(f"thresholds {'passed' if passed else 'FAILED'}" + (" (run aborted)" if aborted else ""))
        if environment.process_exit_code != EXIT_UNKNOWN_TOOL:
            # k6's rule: with thresholds, they decide the exit code, not Locust's "any failure exits 1" rule
            environment.process_exit_code = 0 if passed else EXIT_THRESHOLD_FAILED

    def _server_check(self, environment: Environment) -> ServerCheck | None:
        config = config_state(environment).config
        control_url = config.server_control_url if config is not None else ""
        if not control_url:
            return None
        after = fetch_server_stats(control_url)
        return server_delta(self._server_before, after, f"no /stats answer from {control_url}")


def register_terminal(events: Any, reporter: Any, load_source: LoadSource | None = None) -> RunTerminal:
    """Attach options, progress, thresholds and the summary; register after the reporter (its test_stop first)."""
    terminal = RunTerminal(reporter, load_source)
    events.init.add_listener(quiet_key_length_warnings)
    events.init.add_listener(quiet_locust_table)
    events.test_start.add_listener(terminal.on_test_start)
    events.test_stop.add_listener(terminal.on_test_stop)
    return terminal
