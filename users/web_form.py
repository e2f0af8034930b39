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
"""Not in the form: set them on the command line, in locust.conf or as LOCUST_* env vars (README, Web UI)."""
LABELS = {
    "tools": 'Tools: NAME[:WEIGHT][=JSON], e.g. echo:8,sleep:1={"ms":5}',
    "in_flight": "In flight: calls outstanding per connection (1 = closed loop)",
    "scenario": "Scenario: stages, e.g. sustained,burst,reconnect (empty: plain load)",
    "rate": "Rate: target calls/s for the run (0 = closed loop)",
    "stage_duration": "Stage duration (e.g. 30s, 2m)",
    "subscribe": "Subscribe: TOPIC[:RATE[:COUNT]] push stream (empty: none)",
    "call_timeout": "Call timeout (s)",
    "max_in_flight": "Rate mode: most calls in flight per connection",
    "burst_height": "Burst: users added per spike (0 = -u)",
    "burst_width": "Burst: spike length",
    "burst_period": "Burst: time between spikes",
    "storm_interval": "Reconnect: time between storms",
    "storm_fraction": "Reconnect: fraction of connections dropped",
    "storm_mode": "Reconnect: who drops (client/server)",
    "step_users": "Step/ramp: users added per step (0 = -u)",
    "step_rate": "Step/ramp: calls/s added per step (0 = rate)",
    "step_duration": "Step/ramp: step length",
    "max_users": "Step/ramp: user ceiling (0 = none)",
    "max_rate": "Step/ramp: rate ceiling (0 = none)",
}
"""Short help shown after each option's name (Locust's form truncates long help text)."""


def form_options(extra_options: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Locust's `extra_options` template argument, reordered (FIRST, then the rest as registered), with short
    help, and without the CLI_ONLY options."""
    order = [k for k in FIRST if k in extra_options]
    order += [k for k in extra_options if k not in FIRST and k not in CLI_ONLY]
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
