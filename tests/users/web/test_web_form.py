"""The web UI start form (users.web.web_form): options in order with short labels, form values checked like the CLI."""

from __future__ import annotations

import argparse

from locust.argument_parser import parse_options

from option_table import registered
from scenarios.options import add_scenario_arguments, plan_for
from users.load.config import LIVE_OPTIONS
from users.load.options import add_user_arguments
from users.web.web_form import SECTIONS, error_field, form_error, form_options, form_rows

FIRST = ("tools", "in_flight", "rate", "subscribe")
"""The Load section, in order: what a person changes from one run to the next."""


def parsed(*argv: str) -> argparse.Namespace:
    from locust import events

    events.init_command_line_parser.add_listener(add_user_arguments)
    events.init_command_line_parser.add_listener(add_scenario_arguments)
    try:
        return parse_options(["-f", "locustfile.py", *argv])
    finally:
        events.init_command_line_parser.remove_listener(add_user_arguments)
        events.init_command_line_parser.remove_listener(add_scenario_arguments)


def extra(*names: str) -> dict[str, dict[str, object]]:
    return {name: {"default_value": "", "help_text": "a long help text " * 5} for name in names}


def test_options_come_in_groups_and_cli_only_ones_are_left_out() -> None:
    shown = form_options(extra("burst_width", "subscribe", "jwt_ttl", "call_timeout", "tools", "rate", "scenario",
                               "stage_duration", "in_flight", "ca_file", "threshold", "protocol", "new_one"))  # fmt: skip
    assert list(shown) == [*FIRST, "protocol", "scenario", "stage_duration", "burst_width", "threshold",
                           "call_timeout", "new_one"]  # fmt: skip
    assert [shown[name]["group"] for name in ("tools", "protocol", "burst_width", "threshold", "new_one")] == [
        "Load", "Protocol", "Scenario", "Thresholds", "Advanced"]  # fmt: skip
    assert (shown["tools"]["help_text"], shown["in_flight"]["label"]) == (registered()["tools"].hint, "In flight")
    assert shown["new_one"]["help_text"] == "a long help text " * 5  # an option we do not know keeps its help
    assert shown["new_one"]["label"] == "New one"
    assert shown["protocol"]["choices"] == ["toolcall", "jsonrpc", "mcp"]
    assert (shown["scenario"]["folded"], shown["burst_width"]["folded"]) == (False, True)
    assert [row.dest for row in form_rows() if row.group == "Load"] == list(FIRST)
    assert "session_prefix" not in [row.dest for row in form_rows()]  # visibility="cli"


def test_the_form_holds_the_running_values_and_edit_only_the_live_options() -> None:
    options = parsed("--in-flight", "10", "--tools", "echo:9", "--scenario", "sustained,reconnect")
    names = ("tools", "in_flight", "scenario", "protocol", "stage_duration")
    shown = form_options(extra(*names), options)
    assert [shown[name]["default_value"] for name in names] == ["echo:9", 10, "sustained,reconnect", "toolcall", "30s"]
    assert list(form_options(extra(*names), options, running=True)) == [n for n in names if n in LIVE_OPTIONS]


def test_an_error_names_its_field() -> None:
    assert error_field("--stage-duration: not a duration: 'x'", ["scenario", "stage_duration"]) == "stage_duration"
    assert error_field("set --jwt-secret or --token", ["tools"]) is None


def test_every_form_row_has_a_section_a_place_and_short_labels() -> None:
    options = vars(parsed())
    rows = form_rows()
    assert {row.dest for row in rows} <= set(options)
    assert all(row.group in SECTIONS for row in registered().values())
    placed = [row for row in rows if row.group != "Advanced" or row.order < 1000]
    assert len({(row.group, row.order) for row in placed}) == len(placed)  # no two share a place
    assert all(len(row.hint) <= 70 and len(row.label) <= 28 for row in registered().values())
    assert all(row.label for row in placed)


def test_a_bad_form_value_is_one_error_line() -> None:
    options = parsed("--jwt-secret", "s" * 32)
    environ: dict[str, str] = {}
    assert form_error(options, {"tools": "echo:8", "in_flight": "2"}, environ, master=False) is None
    assert form_error(options, {"tools": "echo:abc"}, environ, master=False) == (
        "error: --tools: expected a whole-number weight after 'echo:' in 'echo:abc'"
    )
    assert form_error(options, {"in_flight": "abc"}, environ, master=False) == (
        "error: --in-flight must be a whole number, got 'abc'"
    )
    assert (
        form_error(options, {"in_flight": "0"}, environ, master=False) == "error: --in-flight must be at least 1, got 0"
    )
    bad_plan = {"scenario": "sustained,nope"}
    assert form_error(options, bad_plan, environ, master=False, plan_check=plan_for).startswith("error: ")
    assert form_error(options, bad_plan, environ, master=False) is None  # the plan is checked by what it is given
    assert form_error(options, {"user_count": "x"}, environ, master=False) == (
        "error: Number of users must be a number, got 'x'"
    )


def test_credentials_come_from_this_process_or_the_workers() -> None:
    options = parsed()
    assert form_error(options, {}, {}, master=False).startswith("error: set --jwt-secret")
    assert form_error(options, {}, {"LOCUST_JWT_SECRET": "s" * 32}, master=False) is None
    assert form_error(options, {}, {}, master=True) is None  # each worker brings its own
