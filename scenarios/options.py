"""Scenario command-line options (each with a LOCUST_* env var, shown in the web UI) and the plan they describe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from option_table import Option, add_options, register
from scenarios.plan_builder import PlanError, ScenarioOptions, plan_from_options, plan_from_toml
from scenarios.profile import Plan, Stage

OPTIONS: tuple[Option, ...] = register((
    Option("--scenario", "", "Stages run one after another, e.g. sustained,burst,reconnect (kinds: sustained, "
           "burst, reconnect, step, ramp, soak, rate, churn). Empty: plain -u/-r/-t load. Each stage lasts "
           "--stage-duration with -u users.",
           group="Scenario", order=10, label="Stages",
           hint="stages, e.g. sustained,burst,reconnect; empty = plain load"),
    Option("--plan", "", "TOML plan file with [[stage]] tables (overrides --scenario).",
           visibility="cli"),
    Option("--stage-duration", "30s", "Length of each --scenario stage.",
           group="Scenario", order=20, label="Stage duration", hint="of each stage, e.g. 30s, 2m"),
    Option("--rate", 0.0, "Open model: target calls/s for the whole run, split over the users connected now (and "
           "workers); calls are sent at their intended times and latency counts from then. 0: closed loop "
           "(--in-flight).", type=float,
           group="Load", order=30, label="Rate", hint="target calls/s for the run; 0 = closed loop"),
    Option("--burst-height", 0, "Users added in each burst spike (default: -u).", type=int,
           group="Scenario", order=30, label="Burst users",
           hint="burst stage: users added per spike; 0 = number of users", visibility="folded"),
    Option("--burst-width", "1s", "Length of each burst spike (e.g. 500ms).",
           group="Scenario", order=40, label="Burst length", hint="burst stage: spike length", visibility="folded"),
    Option("--burst-period", "10s", "Time from one burst spike to the next.",
           group="Scenario", order=50, label="Burst period",
           hint="burst stage: time from spike to spike", visibility="folded"),
    Option("--storm-interval", "10s", "Time between reconnect storms.",
           group="Scenario", order=60, label="Storm interval",
           hint="reconnect stage: time between storms", visibility="folded"),
    Option("--storm-fraction", 1.0, "Fraction of connections dropped in each reconnect storm (1 = all).",
           type=float,
           group="Scenario", order=70, label="Storm fraction",
           hint="reconnect stage: fraction of connections dropped", visibility="folded"),
    Option("--storm-mode", "client", "Who drops connections in a storm: the client, or the server via "
           "--server-control-url.", choices=("client", "server"),
           group="Scenario", order=80, label="Storm mode",
           hint="reconnect stage: who drops, client or server", visibility="folded"),
    Option("--server-control-url", "", "Reference server metrics URL (http://HOST:MPORT) whose /control/drop a "
           "server-mode storm calls.",
           visibility="cli"),
    Option("--step-users", 0, "Users added per step (default: -u).", type=int,
           group="Scenario", order=90, label="Step users",
           hint="step/ramp stage: users added per step; 0 = number of users", visibility="folded"),
    Option("--step-rate", 0.0, "Calls/s added per step (default: --rate).", type=float,
           group="Scenario", order=100, label="Step rate",
           hint="step/ramp stage: calls/s added per step; 0 = rate", visibility="folded"),
    Option("--step-duration", "10s", "Length of each step of step/ramp.",
           group="Scenario", order=110, label="Step length",
           hint="step/ramp stage: length of a step", visibility="folded"),
    Option("--max-users", 0, "Step/ramp user ceiling (0: none).", type=int,
           group="Scenario", order=120, label="Max users",
           hint="step/ramp stage: user ceiling; 0 = none", visibility="folded"),
    Option("--max-rate", 0.0, "Step/ramp rate ceiling (0: none).", type=float,
           group="Scenario", order=130, label="Max rate",
           hint="step/ramp stage: calls/s ceiling; 0 = none", visibility="folded"),
    Option("--session-rate", 0.0, "Churn stages: new sessions/s for the whole run (an open model for "
           "connections: each session connects, says hello, makes --session-calls calls (at least 1) and closes "
           "with 1000; one that cannot start on time, all users busy, starts late and is counted).", type=float),
    Option("--knee-p99-ms", 100.0, "Step/ramp stops at the first step whose call p99 is above this.", type=float,
           visibility="cli"),
    Option("--knee-error-rate", 0.01, "Step/ramp stops at the first step whose failed-call fraction is above "
           "this.", type=float,
           visibility="cli"),
))  # fmt: skip
"""Every scenario option, declared once (option_table.Option); values are checked by the plan builder."""


def run_options(environment: Any) -> argparse.Namespace | None:
    """The options `environment` runs with now (Locust's parsed options; the web UI's form and a worker's spawn
    messages change them in place): scenarios/'s one reader of them."""
    return environment.parsed_options


def add_scenario_arguments(parser: Any) -> None:
    """Register the options on Locust's parser (`events.init_command_line_parser` listener)."""
    add_options(parser, OPTIONS)


def scenario_options(options: argparse.Namespace) -> ScenarioOptions:
    """The scenario values out of Locust's parsed options."""
    return ScenarioOptions(  # without -u / -r: Locust's headless defaults (1, 1/s), which it sets before the shape
        scenario=options.scenario,  # runs: the plan checked here at init is the plan that runs
        stage_duration=options.stage_duration,
        users=options.num_users or 1,
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
        session_rate=options.session_rate,
    )


def plan_for(options: argparse.Namespace) -> Plan | None:
    """The plan the options ask for; None for plain -u/-r/-t load. Raises PlanError naming the option."""
    if options.rate < 0:
        raise PlanError(f"--rate must be positive calls/s (or 0 for closed loop), got {options.rate:g}")
    if options.session_rate < 0:
        raise PlanError(f"--session-rate must be positive sessions/s, got {options.session_rate:g}")
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
