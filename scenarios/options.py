"""Scenario command-line options (each with a LOCUST_* env var, shown in the web UI) and the plan they describe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scenarios.plan_builder import PlanError, ScenarioOptions, plan_from_options, plan_from_toml
from scenarios.profile import Plan, Stage


def add_scenario_arguments(parser: Any) -> None:
    """Register the options on Locust's parser (`events.init_command_line_parser` listener)."""
    add = parser.add_argument
    add(
        "--scenario",
        env_var="LOCUST_SCENARIO",
        default="",
        help="Stages run one after another, e.g. sustained,burst,reconnect (kinds: sustained, burst, reconnect, "
        "step, ramp, soak, rate). Empty: plain -u/-r/-t load. Each stage lasts --stage-duration with -u users.",
    )
    add(
        "--plan", env_var="LOCUST_PLAN", default="", help="TOML plan file with [[stage]] tables (overrides --scenario)."
    )
    add("--stage-duration", env_var="LOCUST_STAGE_DURATION", default="30s", help="Length of each --scenario stage.")
    add(
        "--rate",
        env_var="LOCUST_RATE",
        type=float,
        default=0.0,
        help="Open model: target calls/s for the whole run, spread over users (and workers); calls are sent at "
        "their intended times and latency counts from then. 0: closed loop (--in-flight).",
    )
    add(
        "--burst-height",
        env_var="LOCUST_BURST_HEIGHT",
        type=int,
        default=0,
        help="Users added in each burst spike (default: -u).",
    )
    add("--burst-width", env_var="LOCUST_BURST_WIDTH", default="1s", help="Length of each burst spike (e.g. 500ms).")
    add("--burst-period", env_var="LOCUST_BURST_PERIOD", default="10s", help="Time from one burst spike to the next.")
    add("--storm-interval", env_var="LOCUST_STORM_INTERVAL", default="10s", help="Time between reconnect storms.")
    add(
        "--storm-fraction",
        env_var="LOCUST_STORM_FRACTION",
        type=float,
        default=1.0,
        help="Fraction of connections dropped in each reconnect storm (1 = all).",
    )
    add(
        "--storm-mode",
        env_var="LOCUST_STORM_MODE",
        default="client",
        choices=["client", "server"],
        help="Who drops connections in a storm: the client, or the server via --server-control-url.",
    )
    add(
        "--server-control-url",
        env_var="LOCUST_SERVER_CONTROL_URL",
        default="",
        help="Reference server metrics URL (http://HOST:MPORT) whose /control/drop a server-mode storm calls.",
    )
    add("--step-users", env_var="LOCUST_STEP_USERS", type=int, default=0, help="Users added per step (default: -u).")
    add(
        "--step-rate",
        env_var="LOCUST_STEP_RATE",
        type=float,
        default=0.0,
        help="Calls/s added per step (default: --rate).",
    )
    add("--step-duration", env_var="LOCUST_STEP_DURATION", default="10s", help="Length of each step of step/ramp.")
    add("--max-users", env_var="LOCUST_MAX_USERS", type=int, default=0, help="Step/ramp user ceiling (0: none).")
    add("--max-rate", env_var="LOCUST_MAX_RATE", type=float, default=0.0, help="Step/ramp rate ceiling (0: none).")
    add(
        "--knee-p99-ms",
        env_var="LOCUST_KNEE_P99_MS",
        type=float,
        default=100.0,
        help="Step/ramp stops at the first step whose call p99 is above this.",
    )
    add(
        "--knee-error-rate",
        env_var="LOCUST_KNEE_ERROR_RATE",
        type=float,
        default=0.01,
        help="Step/ramp stops at the first step whose failed-call fraction is above this.",
    )


def scenario_options(options: argparse.Namespace) -> ScenarioOptions:
    """The scenario values out of Locust's parsed options."""
    return ScenarioOptions(
        scenario=options.scenario,
        stage_duration=options.stage_duration,
        users=options.num_users or 10,
        spawn_rate=options.spawn_rate or 1.0,
        rate=options.rate,
        burst_height=options.burst_height,
        burst_width=options.burst_width,
        burst_period=options.burst_period,
        storm_interval=options.storm_interval,
        storm_fraction=options.storm_fraction,
        storm_mode=options.storm_mode,
        step_users=options.step_users,
        step_rate=options.step_rate,
        step_duration=options.step_duration,
        max_users=options.max_users,
        max_rate=options.max_rate,
        knee_p99_ms=options.knee_p99_ms,
        knee_error_rate=options.knee_error_rate,
    )


def plan_for(options: argparse.Namespace) -> Plan | None:
    """The plan the options ask for; None for plain -u/-r/-t load. Raises PlanError naming the option."""
    if options.rate < 0:
        raise PlanError(f"--rate must be positive calls/s (or 0 for closed loop), got {options.rate:g}")
    if options.plan:
        defaults: dict[str, Any] = {"users": options.num_users or 10}
        if options.spawn_rate:
            defaults["spawn_rate"] = float(options.spawn_rate)
        plan = plan_from_toml(Path(options.plan), defaults)
    elif options.scenario:
        plan = plan_from_options(scenario_options(options))
    elif options.rate:
        users = options.num_users or 10
        duration = float(options.run_time) if options.run_time else float("inf")
        plan = Plan((Stage("rate", duration, users, float(options.spawn_rate or users), rate=options.rate),))
    else:
        return None
    if any(s.kind == "reconnect" and s.mode == "server" for s in plan.stages) and not options.server_control_url:
        raise PlanError("--storm-mode server needs --server-control-url (the reference server's http://HOST:MPORT)")
    return plan
