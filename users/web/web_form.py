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

from option_table import Option, registered
from users.integration.web_ui import swarm_options
from users.load.config import LIVE_OPTIONS, build_config
from users.wire.protocols import PROTOCOLS

SECTIONS = ("Load", "Protocol", "Scenario", "Thresholds", "Advanced")
"""The form's sections, in order; each option row (option_table.Option) names its section, its place in it, its
label, its hint and whether the form shows it; an option without a row goes to Advanced."""


def form_rows() -> list[Option]:
    """The rows the form shows (registered by users/ and scenarios/), in form order."""
    rows = list(registered().values())
    shown = [(SECTIONS.index(row.group) if row.group in SECTIONS else len(SECTIONS), row.order, i, row)
             for i, row in enumerate(rows) if row.in_form]  # fmt: skip
    return [row for *_, row in sorted(shown, key=lambda item: item[:3])]


PlanCheck = Callable[[argparse.Namespace], object]
"""Builds the run's plan from options, raising ValueError when it cannot run (scenarios.options.plan_for, handed
in by the locustfile: users/ does not import scenarios/)."""
CHOICES = {"protocol": tuple(PROTOCOLS), "compression": ("", "deflate")}
"""Fields shown as a list to pick from (storm_mode has argparse choices, which Locust passes on itself)."""


def form_options(extra_options: Mapping[str, dict[str, Any]], current: argparse.Namespace | None = None, *,
                 running: bool = False) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Locust's `extra_options` template argument in form order (`form_rows`), each with its label, help, group,
    choices, and the value the process runs with now (`current`), without the command-line-only options; while a
    test runs (the Edit dialog), only the options a running test takes (users/load/config.py)."""
    rows = registered()
    order = [row.dest for row in form_rows() if row.dest in extra_options]
    order += [name for name in extra_options if name not in order and (name not in rows or rows[name].in_form)]
    shown: dict[str, dict[str, Any]] = {}
    for name in order:
        if running and name not in LIVE_OPTIONS:
            continue
        option = dict(extra_options[name])
        row = rows.get(name)
        option["label"] = (row.label if row else "") or name.replace("_", " ").capitalize()
        option["help_text"] = (row.hint if row else "") or option.get("help_text") or ""
        option["group"] = row.group if row and row.group in SECTIONS else "Advanced"
        option["folded"] = row is not None and row.visibility == "folded"
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
        build_config(candidate, environ, need_credentials=not master)
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
