"""The start form of the web UI: which options it shows, in what order, with short labels, and its values checked.

The options a person changes first come first; options that belong to a
deployment (credentials, TLS, keepalive, the scenario's fine print) are left
to the command line, locust.conf and LOCUST_* environment variables. Values
from the form are checked with the same rules as the command line before any
user starts, so a bad value is one message in the form, not a stopped run.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from users.integration.web_ui import swarm_options
from users.load.live_options import LIVE_OPTIONS
from users.load.options import check_options, with_local_credentials
from users.wire.protocols import PROTOCOLS

GROUPS: dict[str, tuple[str, ...]] = {
    "Load": ("tools", "in_flight", "rate", "subscribe"),
    "Protocol": ("protocol", "compression", "mcp_protocol_version", "rpc_hello"),
    "Scenario": ("scenario", "stage_duration", "burst_height", "burst_width", "burst_period", "storm_interval",
                 "storm_fraction", "storm_mode", "step_users", "step_rate", "step_duration", "max_users", "max_rate"),
    "Thresholds": ("threshold", "abort_on_threshold", "abort_grace"),
    "Advanced": ("call_timeout", "max_in_flight"),
}  # fmt: skip
"""The form's sections, in order, each with its options in order; an option not named here goes to Advanced."""
FOLDED = frozenset(GROUPS["Scenario"][2:])
"""Shown folded under "Stage settings" (each stage kind's knobs): open it to change them."""
FIRST = GROUPS["Load"]
"""Shown first: what a person changes from one run to the next."""
CLI_ONLY = frozenset({
    "jwt_private_key", "jwt_subject", "jwt_scope", "jwt_ttl", "jwt_audience", "bad_token_fraction",
    "session_prefix", "connect_timeout", "hello_timeout", "ping_interval", "ping_timeout", "max_message_bytes",
    "ca_file", "insecure", "plan", "server_control_url", "knee_p99_ms", "knee_error_rate",
})  # fmt: skip
"""Not in the form: set them on the command line, in locust.conf or as LOCUST_* env vars (docs/web-ui.md)."""
NAMES = {
    "tools": "Tools", "in_flight": "In flight", "rate": "Rate", "subscribe": "Subscribe",
    "protocol": "Protocol", "compression": "Compression", "mcp_protocol_version": "MCP version",
    "rpc_hello": "JSON-RPC hello", "scenario": "Stages", "stage_duration": "Stage duration",
    "burst_height": "Burst users", "burst_width": "Burst length", "burst_period": "Burst period",
    "storm_interval": "Storm interval", "storm_fraction": "Storm fraction", "storm_mode": "Storm mode",
    "step_users": "Step users", "step_rate": "Step rate", "step_duration": "Step length", "max_users": "Max users",
    "max_rate": "Max rate", "threshold": "Thresholds", "abort_on_threshold": "Stop when a threshold fails",
    "abort_grace": "Abort grace", "call_timeout": "Call timeout", "max_in_flight": "Max in flight",
}  # fmt: skip
"""Each field's label: short, in the case a person writes it."""
LABELS = {
    "tools": 'NAME[:WEIGHT][=JSON], e.g. echo:8,sleep:1={"ms":5}',
    "in_flight": "calls outstanding per connection; 1 = closed loop",
    "scenario": "stages, e.g. sustained,burst,reconnect; empty = plain load",
    "rate": "target calls/s for the run; 0 = closed loop",
    "stage_duration": "of each stage, e.g. 30s, 2m",
    "subscribe": "push stream TOPIC[:RATE[:COUNT]], e.g. ticks:100:1000; empty = none",
    "protocol": "toolcall (PROTOCOL.md), jsonrpc (JSON-RPC 2.0) or mcp",
    "compression": "deflate: offer permessage-deflate",
    "mcp_protocol_version": "protocol mcp: protocolVersion sent in initialize",
    "rpc_hello": 'protocol jsonrpc: METHOD[=JSON] sent first, e.g. auth={"user":"load"}',
    "call_timeout": "seconds without a result before a call times out",
    "max_in_flight": "rate mode: most calls outstanding per connection",
    "burst_height": "burst stage: users added per spike; 0 = number of users",
    "burst_width": "burst stage: spike length",
    "burst_period": "burst stage: time from spike to spike",
    "storm_interval": "reconnect stage: time between storms",
    "storm_fraction": "reconnect stage: fraction of connections dropped",
    "storm_mode": "reconnect stage: who drops, client or server",
    "step_users": "step/ramp stage: users added per step; 0 = number of users",
    "step_rate": "step/ramp stage: calls/s added per step; 0 = rate",
    "step_duration": "step/ramp stage: length of a step",
    "max_users": "step/ramp stage: user ceiling; 0 = none",
    "max_rate": "step/ramp stage: calls/s ceiling; 0 = none",
    "threshold": "e.g. p99<100ms, errors<1%, msgs>=50K/s",
    "abort_grace": "seconds into the run before a failed threshold may stop it",
}
"""Help shown under each field."""
PlanCheck = Callable[[argparse.Namespace], object]
"""Builds the run's plan from options, raising ValueError when it cannot run (scenarios.options.plan_for, handed
in by the locustfile: users/ does not import scenarios/)."""
CHOICES = {"protocol": tuple(PROTOCOLS), "compression": ("", "deflate")}
"""Fields shown as a list to pick from (storm_mode has argparse choices, which Locust passes on itself)."""


def form_options(extra_options: Mapping[str, dict[str, Any]], current: argparse.Namespace | None = None, *,
                 running: bool = False) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Locust's `extra_options` template argument in GROUPS order, each with its label, help, group, choices, and
    the value the process runs with now (`current`), without the CLI_ONLY options; while a test runs (the Edit
    dialog), only the options a running test takes (users/load/live_options.py)."""
    placed = [name for names in GROUPS.values() for name in names]
    order = [name for name in placed if name in extra_options]
    order += [name for name in extra_options if name not in order and name not in CLI_ONLY]
    shown: dict[str, dict[str, Any]] = {}
    for name in order:
        if running and name not in LIVE_OPTIONS:
            continue
        option = dict(extra_options[name])
        option["label"] = NAMES.get(name, name.replace("_", " ").capitalize())
        option["help_text"] = LABELS.get(name, option.get("help_text") or "")
        option["group"] = next((group for group, names in GROUPS.items() if name in names), "Advanced")
        option["folded"] = name in FOLDED
        if name in CHOICES:
            option["choices"] = list(CHOICES[name])
        if current is not None and hasattr(current, name):
            option["default_value"] = getattr(current, name)
        shown[name] = option
    return shown


def form_error(options: argparse.Namespace, form: Mapping[str, str], environ: Mapping[str, str], *,
               master: bool, plan_check: PlanCheck | None = None) -> str | None:  # fmt: skip
    """The one message for the first form value that cannot work (as `error: ...` on the command line), or None;
    with `plan_check`, the plan the values make is checked too. The values are applied as Locust's /swarm applies
    them (users.integration.web_ui.swarm_options): on a Locust version the tests do not prove, they are not
    checked here (None), only when the users start."""
    try:
        candidate = swarm_options(options, form)
        if candidate is None:
            return None
        check_options(with_local_credentials(candidate, environ), need_credentials=not master)
        if plan_check is not None:
            plan_check(candidate)
    except ValueError as exc:  # OptionError, a value /swarm cannot convert, run_time, a plan that cannot run
        return f"error: {exc}"
    return None


def error_field(message: str, fields: Iterable[str]) -> str | None:
    """The form field an error line is about (it names the option as --flag), or None."""
    shown = set(fields)
    for flag in re.findall(r"--([a-z][a-z0-9-]*)", message):
        if flag.replace("-", "_") in shown:
            return flag.replace("-", "_")
    return None
