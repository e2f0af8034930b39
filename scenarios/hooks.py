"""Locust hooks for scenarios: register options, refuse a bad plan before any load, deliver plans to user processes.

The shape (on the master, or the only process) sends the plan with its
wall-clock start to every user process as a runner message. In a distributed
run the master also follows the plan itself (its PREFIX_ws.csv `stage` column
and web UI tab), and a worker that joins mid-run asks the master for the plan
in force as soon as it can receive the answer (at its init, and at a test start
without a plan): a plan pushed on Locust's `worker_connect` could reach the
worker before its init registered the message handler, and be dropped.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from option_table import exit_bad_option
from scenarios.options import add_scenario_arguments, plan_for, run_options
from scenarios.profile import PLAN_MESSAGE, PlanClock, PlanError
from scenarios.termination import end_shape_on_signals, workers_leave_ctrl_c_to_the_master

logger = logging.getLogger(__name__)

PLAN_REQUEST = "ws_plan_request"
"""Worker -> master: send me the plan in force (answered with PLAN_MESSAGE to that worker only)."""


class PlanRelay:
    """On the master: follows the plan the shape broadcasts (ScenarioShape.on_plan) and resends it to workers
    that ask."""

    def __init__(self, runner: MasterRunner, clock: PlanClock) -> None:
        self.runner = runner
        self.clock = clock
        self.current: dict[str, Any] | None = None
        runner.register_message(PLAN_REQUEST, self.on_request)

    def on_plan(self, data: dict[str, Any]) -> None:
        """The shape broadcast `data` (PLAN_MESSAGE's payload): note it and follow it here too."""
        self.current = data
        self.clock.on_message(self.runner.environment, SimpleNamespace(data=data))

    def on_request(self, environment: Environment, msg: Any, **_: Any) -> None:
        """A worker asked for the plan: send the one in force, if a run is going."""
        if self.current is not None:
            logger.debug("sending the plan in force to worker %s", msg.node_id)
            self.runner.send_message(PLAN_MESSAGE, self.current, msg.node_id)

    def stop(self) -> None:
        """The run is over: nothing to resend."""
        self.current = None


def register_scenarios(events: Any, clock: PlanClock) -> None:
    """Wire scenario options and plan delivery into Locust's events; `clock` is what users read."""
    relays: list[PlanRelay] = []

    def on_init(environment: Environment, **_: Any) -> None:
        options = run_options(environment)
        if options is not None:
            try:
                plan_for(options)
            except PlanError as exc:
                exit_bad_option(exc, getattr(options, "csv_prefix", None))
        end_shape_on_signals(environment)
        workers_leave_ctrl_c_to_the_master(environment)
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            relay = PlanRelay(runner, clock)
            relays.append(relay)
            shape = environment.shape_class
            if shape is not None and hasattr(shape, "on_plan"):
                shape.on_plan = relay.on_plan
        elif runner is not None:
            runner.register_message(PLAN_MESSAGE, clock.on_message)
            if isinstance(runner, WorkerRunner):
                runner.send_message(PLAN_REQUEST)  # a run may already be going: join its plan

    def on_test_start(environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, WorkerRunner) and clock.plan is None:
            runner.send_message(PLAN_REQUEST)

    def on_test_stop(environment: Environment, **_: Any) -> None:
        clock.stop()
        for relay in relays:
            relay.stop()

    events.init_command_line_parser.add_listener(add_scenario_arguments)
    events.init.add_listener(on_init)
    events.test_start.add_listener(on_test_start)
    events.test_stop.add_listener(on_test_stop)
