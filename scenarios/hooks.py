"""Locust hooks for scenarios: register options, refuse a bad plan before any load, deliver plans to user processes."""

from __future__ import annotations

import sys
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner

from scenarios.clock import PLAN_MESSAGE, PlanClock
from scenarios.options import add_scenario_arguments, plan_for
from scenarios.plan_builder import PlanError


def register_scenarios(events: Any, clock: PlanClock) -> None:
    """Wire scenario options and plan delivery into Locust's events; `clock` is what users read."""

    def on_init(environment: Environment, **_: Any) -> None:
        options = environment.parsed_options
        if options is not None:
            try:
                plan_for(options)
            except PlanError as exc:
                sys.stderr.write(f"error: {exc}\n")
                sys.exit(2)
        runner = environment.runner
        if runner is not None and not isinstance(runner, MasterRunner):
            runner.register_message(PLAN_MESSAGE, clock.on_message)

    def on_test_stop(environment: Environment, **_: Any) -> None:
        clock.stop()

    events.init_command_line_parser.add_listener(add_scenario_arguments)
    events.init.add_listener(on_init)
    events.test_stop.add_listener(on_test_stop)
