"""The start form of the web UI: which options it shows, in what order, with short labels, and its values checked.

The options a person changes first come first; options that belong to a
deployment (credentials, TLS, keepalive, the scenario's fine print) are left
to the command line, locust.conf and LOCUST_* environment variables. Values
from the form are checked with the same rules as the command line before any
user starts, so a bad value is one message in the form, not a stopped run.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from locust.util.timespan import parse_timespan

from scenarios.options import plan_for
from scenarios.plan_builder import PlanError
from users.options import OptionError, check_options, with_local_credentials

FIRST = ("tools", "in_flight", "scenario", "rate", "stage_duration", "subscribe")
"""Shown first, in this order: what a person changes from one run to the next."""
CLI_ONLY = frozenset({
    "jwt_private_key", "jwt_subject", "jwt_scope", "jwt_ttl", "jwt_audience", "bad_token_fraction",
    "session_prefix", "connect_timeout", "hello_timeout", "ping_interval", "ping_timeout", "max_message_bytes",
    "ca_file", "insecure", "plan", "server_control_url", "knee_p99_ms", "knee_error_rate",
})  # fmt: skip
"""Not in the form: set them on the command line, in locust.conf or as LOCUST_* env vars (docs/how-to/own-server.md, The web UI)."""
SECOND = (
    "call_timeout", "max_in_flight", "burst_height", "burst_width", "burst_period", "storm_interval",
    "storm_fraction", "storm_mode", "step_users", "step_rate", "step_duration", "max_users", "max_rate",
)  # fmt: skip
"""Then these, grouped by the scenario stage they tune; options not named here follow as Locust lists them."""
LABELS = {
    "tools": 'NAME[:WEIGHT][=JSON], e.g. echo:8,sleep:1={"ms":5}',
    "in_flight": "calls outstanding per connection; 1 = closed loop",
    "scenario": "stages, e.g. sustained,burst,reconnect; empty = plain load",
    "rate": "target calls/s for the run; 0 = closed loop",
    "stage_duration": "of each stage, e.g. 30s, 2m",
    "subscribe": "push stream TOPIC[:RATE[:COUNT]], e.g. ticks:100:1000; empty = none",
    "call_timeout": "seconds",
    "max_in_flight": "rate mode: most calls outstanding per connection",
    "burst_height": "burst stage: users added per spike; 0 = -u",
    "burst_width": "burst stage: spike length",
    "burst_period": "burst stage: time from spike to spike",
    "storm_interval": "reconnect stage: time between storms",
    "storm_fraction": "reconnect stage: fraction of connections dropped",
    "storm_mode": "reconnect stage: who drops, client or server",
    "step_users": "step/ramp stage: users added per step; 0 = -u",
    "step_rate": "step/ramp stage: calls/s added per step; 0 = rate",
    "step_duration": "step/ramp stage: length of a step",
    "max_users": "step/ramp stage: user ceiling; 0 = none",
    "max_rate": "step/ramp stage: rate ceiling; 0 = none",
}
"""Short help shown after each option's name (Locust's form shows `Name (help)` and truncates long help)."""


def form_options(extra_options: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Locust's `extra_options` template argument, reordered (FIRST, SECOND, then the rest as registered), with
    short help, and without the CLI_ONLY options."""
    order = [k for k in (*FIRST, *SECOND) if k in extra_options]
    order += [k for k in extra_options if k not in order and k not in CLI_ONLY]
    shown: dict[str, dict[str, Any]] = {}
    for name in order:
        option = dict(extra_options[name])
        if name in LABELS:
            option["help_text"] = LABELS[name]
        shown[name] = option
    return shown


def _converted(current: Any, value: str) -> Any:
    """A form value with the type the option has now, as Locust's /swarm converts it."""
    if isinstance(current, bool):
        return value == "true"
    if current is None or isinstance(current, list):
        return value
    return type(current)(value)


def options_from_form(options: argparse.Namespace, form: Mapping[str, str]) -> argparse.Namespace:
    """`options` with the form's values applied (a copy); OptionError for a value of the wrong type."""
    values = dict(vars(options))
    for key, value in form.items():
        if key == "user_count":
            values["num_users"] = _number(int, "Number of users", value)
        elif key == "spawn_rate":
            values["spawn_rate"] = _number(float, "Ramp up", value)
        elif key == "run_time":
            if value:
                values["run_time"] = parse_timespan(value)
        elif key in values and key not in ("host", "user_classes", "profile"):
            try:
                values[key] = _converted(values[key], value)
            except ValueError:
                kind = {int: "a whole number", float: "a number"}.get(type(values[key]), "valid")
                raise OptionError(f"--{key.replace('_', '-')} must be {kind}, got {value!r}") from None
    return argparse.Namespace(**values)


def _number(kind: type, label: str, value: str) -> float:
    try:
        return kind(value)
    except ValueError:
        raise OptionError(f"{label} must be a number, got {value!r}") from None


def form_error(options: argparse.Namespace, form: Mapping[str, str], environ: Mapping[str, str], *,
               master: bool) -> str | None:  # fmt: skip
    """The one message for the first form value that cannot work (as `error: ...` on the command line), or None."""
    try:
        candidate = options_from_form(options, form)
        check_options(with_local_credentials(candidate, environ), need_credentials=not master)
        plan_for(candidate)
    except (OptionError, PlanError) as exc:
        return f"error: {exc}"
    except ValueError as exc:  # run_time
        return f"error: {exc}"
    return None
