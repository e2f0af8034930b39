"""The web UI start form (users.web_form): options in order with short labels, form values checked like the CLI."""

from __future__ import annotations

import argparse

from locust.argument_parser import parse_options

from scenarios.options import add_scenario_arguments
from users.options import add_user_arguments
from users.web_form import CLI_ONLY, FIRST, LABELS, SECOND, form_error, form_options, options_from_form


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


def test_first_options_lead_in_order_and_cli_only_ones_are_left_out() -> None:
    shown = form_options(extra("burst_width", "subscribe", "jwt_ttl", "call_timeout", "tools", "rate", "scenario",
                               "stage_duration", "in_flight", "ca_file", "threshold"))  # fmt: skip
    assert list(shown) == [*FIRST, "call_timeout", "burst_width", "threshold"]
    assert shown["tools"]["help_text"] == LABELS["tools"]
    assert shown["threshold"]["help_text"] == "a long help text " * 5  # an option we do not know keeps its help
    assert not CLI_ONLY & set(FIRST)


def test_every_registered_option_is_placed_and_labels_are_short() -> None:
    options = vars(parsed())
    for name in [*FIRST, *SECOND, *CLI_ONLY, *LABELS]:
        assert name in options, name
    assert all(len(label) <= 70 for label in LABELS.values())


def test_form_values_take_the_options_types() -> None:
    options = options_from_form(parsed(), {"in_flight": "4", "rate": "2.5", "tools": "echo:2", "insecure": "true",
                                           "user_count": "3", "spawn_rate": "1.5", "run_time": "1m"})  # fmt: skip
    assert (options.in_flight, options.rate, options.tools, options.insecure) == (4, 2.5, "echo:2", True)
    assert (options.num_users, options.spawn_rate, options.run_time) == (3, 1.5, 60)


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
    assert form_error(options, {"scenario": "sustained,nope"}, environ, master=False).startswith("error: ")
    assert form_error(options, {"user_count": "x"}, environ, master=False) == (
        "error: Number of users must be a number, got 'x'"
    )


def test_credentials_come_from_this_process_or_the_workers() -> None:
    options = parsed()
    assert form_error(options, {}, {}, master=False).startswith("error: set --jwt-secret")
    assert form_error(options, {}, {"LOCUST_JWT_SECRET": "s" * 32}, master=False) is None
    assert form_error(options, {}, {}, master=True) is None  # each worker brings its own
