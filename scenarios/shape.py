"""ScenarioShape: Locust's load shape for plans; plain -u/-r/-t load when no scenario is given."""

from __future__ import annotations

import csv
import json
import logging
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import gevent
from locust import LoadTestShape

from analysis.histograms import call_totals, histogram_delta
from run_files import STEPS_CSV, STEPS_CSV_COLUMNS, run_file
from scenarios.knee import StepVerdict, StepWindow, judge_step
from scenarios.options import plan_for, run_options
from scenarios.profile import PLAN_MESSAGE, Plan, PlanError, Point, plan_message

logger = logging.getLogger(__name__)


class ScenarioShape(LoadTestShape):
    """Runs the plan from --scenario/--plan/--rate; without one, holds -u users at -r until -t, like Locust."""

    use_common_options = True
    on_plan: Callable[[dict[str, Any]], None] | None = None
    """Called with each plan broadcast (the master's own plan relay follows it there)."""

    def __init__(self) -> None:
        super().__init__()
        self.ticker: object | None = None
        """The greenlet that ran the last tick (Locust's shape worker), until a fresh start."""
        self.reset_time()

    def reset_time(self) -> None:
        """A fresh start (Locust's start_shape, from outside the shape worker), or, called from the greenlet that
        ticks, Locust's restart of shape time when the first users start (MasterRunner.start): the plan restarts
        with it."""
        super().reset_time()
        if getattr(self, "started", False) and self.ticker is not None and gevent.getcurrent() is self.ticker:
            self._broadcast(plan_message(self.plan, time.time()))
            return
        self.ticker = None
        self.plan: Plan | None = None
        self.started = False
        self.stopping_reason: str | None = None
        self.verdicts: list[StepVerdict] = []
        self._step_key: tuple[int, int] | None = None
        self._step_snapshot: tuple[dict[float, int], int, int] = ({}, 0, 0)
        self._storm_key: tuple[int, int] | None = None

    def tick(self) -> tuple[int, float] | None:
        self.ticker = gevent.getcurrent()
        options = run_options(self.runner.environment)
        if not self.started:
            try:
                self._start(options)
            except PlanError as exc:  # only the web UI form can get here: the command line is checked at init
                logger.error("error: %s; stopping the run", exc)
                return None
        if self.stopping_reason:
            return None
        elapsed = self.get_run_time()
        if options.run_time and elapsed >= options.run_time:
            return None
        if self.plan is None:
            return int(options.num_users or 1), float(options.spawn_rate or 1)
        point = self.plan.at(elapsed)
        self._watch_steps(point, options)
        if point is None or self.stopping_reason:
            return None
        self._watch_storms(point, options)
        return point.users, point.spawn_rate

    def _broadcast(self, data: dict[str, Any]) -> None:
        """Send the plan to every user process (the runner's own too, in a single process), and to `on_plan`."""
        self.runner.send_message(PLAN_MESSAGE, data)
        if self.on_plan is not None:
            self.on_plan(data)

    def request_stop(self, reason: str) -> None:
        """End the run at the next tick, as when a plan runs out (e.g. on SIGTERM: scenarios.termination)."""
        if not self.stopping_reason:
            self.stopping_reason = reason
            logger.warning("stopping the run: %s", reason)

    # ------------------------------------------------------------------ start
    def _start(self, options: Any) -> None:
        self.started = True
        self.plan = plan_for(options)  # checked at init; the web UI form may have changed options since
        t0 = time.time() - self.get_run_time()
        self._broadcast(plan_message(self.plan, t0))
        if self.plan is not None:
            stages = ", ".join(f"{s.label} {s.duration_s:g}s" for s in self.plan.stages)
            logger.info("scenario plan: %s", stages)

    # ----------------------------------------------------------------- storms
    def _watch_storms(self, point: Point, options: Any) -> None:
        key = (point.stage_index, point.storm_epoch)
        if point.storm_mode != "server" or point.storm_fraction <= 0:
            return
        if self._storm_key is None or self._storm_key[0] != point.stage_index:
            self._storm_key = key  # a stage's first epoch is its start, not a storm
            return
        if key != self._storm_key:
            self._storm_key = key
            gevent.spawn(self._server_drop, options.server_control_url, point.storm_fraction)

    @staticmethod
    def _server_drop(base_url: str, fraction: float) -> None:
        body = json.dumps({"fraction": fraction, "mode": "close", "code": 1012}).encode()
        request = urllib.request.Request(
            base_url.rstrip("/") + "/control/drop", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                logger.info("server-initiated storm: %s", response.read().decode(errors="replace"))
        except OSError as exc:
            logger.error("server-initiated storm failed: %s", exc)

    # ------------------------------------------------------------------ knees
    def _watch_steps(self, point: Point | None, options: Any) -> None:
        """Judge each finished step of a step/ramp stage; a crossed limit stops the run at the knee."""
        assert self.plan is not None
        key = None
        if point is not None and self.plan.stages[point.stage_index].kind in ("step", "ramp"):
            key = (point.stage_index, point.step_index)
        if key == self._step_key:
            return
        stats = self.runner.environment.stats
        totals = call_totals(stats)
        if self._step_key is not None:
            self._judge(self._step_key, totals, options)
        self._step_key = key
        self._step_snapshot = totals

    def _judge(self, key: tuple[int, int], totals: tuple[dict[float, int], int, int], options: Any) -> None:
        assert self.plan is not None
        stage_index, step_index = key
        stage = self.plan.stages[stage_index]
        before = self._step_snapshot
        window = StepWindow(histogram_delta(totals[0], before[0]), totals[1] - before[1], totals[2] - before[2])
        load = stage.point(step_index * stage.step_s, stage_index)
        verdict = judge_step(
            window,
            step_index=step_index,
            users=load.users,
            rate=load.rate,
            p99_limit_ms=stage.knee_p99_ms,
            error_limit=stage.knee_error_rate,
        )
        self.verdicts.append(verdict)
        logger.info("%s: %s", stage.label, verdict.describe())
        if verdict.crossed and not self.stopping_reason:
            self.stopping_reason = f"{stage.label}: {verdict.describe()}"
            logger.warning("stopping at the knee: %s", self.stopping_reason)
        self._write_steps(options)

    def _write_steps(self, options: Any) -> None:
        prefix = getattr(options, "csv_prefix", None)
        if not prefix:
            return
        with run_file(prefix, STEPS_CSV).open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(STEPS_CSV_COLUMNS)
            for v in self.verdicts:
                writer.writerow([v.step_index, v.users, v.rate or "", v.p99_ms if v.p99_ms is not None else "",
                                 f"{v.error_rate:.6f}", v.requests, v.crossed or ""])  # fmt: skip
