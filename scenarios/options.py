"""Scenario command-line options (each with a LOCUST_* env var, shown in the web UI) and the plan they describe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from option_table import Option, add_options, register
from scenarios.durations import parse_duration
from scenarios.plan_file import plan_from_toml
from scenarios.profile import STAGE_KINDS, Plan, PlanError, Stage, named_plan, stage_problems

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
"""Every scenario option, declared once (option_table.Option); values are checked by the plan they describe."""


def run_options(environment: Any) -> argparse.Namespace | None:
    """The options `environment` runs with now (Locust's parsed options; the web UI's form and a worker's spawn
    messages change them in place): scenarios/'s one reader of them."""
    return environment.parsed_options


def add_scenario_arguments(parser: Any) -> None:
    """Register the options on Locust's parser (`events.init_command_line_parser` listener)."""
    add_options(parser, OPTIONS)


# Stage field -> the option that sets it in --scenario mode (for error messages).
_OPTION_OF_FIELD = {
    "kind": "--scenario",
    "duration_s": "--stage-duration",
    "users": "--users",
    "spawn_rate": "--spawn-rate",
    "rate": "--rate",
    "height": "--burst-height",
    "width_s": "--burst-width",
    "period_s": "--burst-period",
    "interval_s": "--storm-interval",
    "fraction": "--storm-fraction",
    "mode": "--storm-mode",
    "step_users": "--step-users",
    "step_rate": "--step-rate",
    "step_s": "--step-duration",
    "max_users": "--max-users",
    "max_rate": "--max-rate",
    "knee_p99_ms": "--knee-p99-ms",
    "knee_error_rate": "--knee-error-rate",
    "session_rate": "--session-rate",
}


def plan_from_options(opts: argparse.Namespace) -> Plan:
    """The plan `--scenario a,b,c` describes, read from parsed options `opts` (no Locust needed); PlanError names
    the first option at fault."""
    users = opts.num_users if opts.num_users is not None else 1  # without -u / -r: Locust's headless defaults
    spawn_rate = opts.spawn_rate if opts.spawn_rate is not None else 1.0  # (1, 1/s), which it sets before the
    # shape runs: the plan checked here at init is the plan that runs
    kinds = [k.strip() for k in opts.scenario.split(",") if k.strip()]
    if not kinds:
        raise PlanError("--scenario: name at least one stage kind, e.g. sustained,burst,reconnect")

    def seconds(option: str, value: str) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise PlanError(f"{option}: {exc}") from None

    common = {
        "duration_s": seconds("--stage-duration", opts.stage_duration),
        "users": users,
        "spawn_rate": spawn_rate,
        "rate": opts.rate or None,
        "height": opts.burst_height or users,
        "width_s": seconds("--burst-width", opts.burst_width),
        "period_s": seconds("--burst-period", opts.burst_period),
        "interval_s": seconds("--storm-interval", opts.storm_interval),
        "fraction": opts.storm_fraction,
        "mode": opts.storm_mode,
        "step_users": opts.step_users or (users if not opts.rate else 0),
        "step_rate": opts.step_rate or (opts.rate or 0.0),
        "step_s": seconds("--step-duration", opts.step_duration),
        "max_users": opts.max_users,
        "max_rate": opts.max_rate,
        "knee_p99_ms": opts.knee_p99_ms,
        "knee_error_rate": opts.knee_error_rate,
        "session_rate": opts.session_rate or None,
    }
    if opts.rate < 0:
        raise PlanError(f"--rate must be positive calls/s (or 0 for closed loop), got {opts.rate:g}")
    stages = []
    for kind in kinds:
        if kind not in STAGE_KINDS:
            raise PlanError(f"--scenario: unknown stage {kind!r} (one of {', '.join(STAGE_KINDS)})")
        stage = Stage(kind=kind, **common)
        for name, message in stage_problems(stage):
            raise PlanError(f"{_OPTION_OF_FIELD.get(name, name)}: {kind}: {message}")
        stages.append(stage)
    return named_plan(stages)


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
        plan = plan_from_options(options)
    elif options.rate:
        users = options.num_users or 10
        duration = float(options.run_time) if options.run_time else float("inf")
        plan = Plan((Stage("rate", duration, users, float(options.spawn_rate or users), rate=options.rate),))
    else:
        return None
    if any(s.kind == "reconnect" and s.mode == "server" for s in plan.stages) and not options.server_control_url:
        raise PlanError("--storm-mode server needs --server-control-url (the reference server's http://HOST:MPORT)")
    return plan
