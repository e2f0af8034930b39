"""users.integration.web_ui.swarm_options: the start form's values applied as Locust's own POST /swarm applies them
(compared with Locust's route itself, through Flask's test client), and only on the Locust versions the tests prove."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Iterator

import pytest
from locust.env import Environment
from werkzeug.datastructures import MultiDict

from tests.users.web.test_web_form import parsed
from users import integration
from users.integration.web_ui import FormValueError, swarm_options
from users.web.web_form import form_error


@pytest.fixture(autouse=True)
def as_installed_by_the_locustfile() -> Iterator[None]:
    yield
    integration.install()


FORM = MultiDict([
    ("user_count", "3"), ("spawn_rate", "1.5"), ("host", "ws://<b>127.0.0.1:9</b>"), ("run_time", "1m30s"),
    ("profile", "nightly"), ("in_flight", "4"), ("rate", "2.5"), ("tools", "echo:2"), ("insecure", "true"),
    ("compression", "deflate"), ("tags", "a"), ("ports", "3,4"), ("names", "x"), ("names", "y"),
    ("user_classes", "ToolCallUser"), ("user_classes", "Other"), ("not_an_option", "1"),
])  # fmt: skip
"""A start form touching every branch of Locust's conversion: its own fields, bool, int, float, str, None-valued,
list-valued (ints and strings, comma-separated or repeated), and a field that is no option."""


def with_lists(options: argparse.Namespace) -> argparse.Namespace:
    options.ports, options.names = [1, 2], ["a"]  # no option of ours is a list: two stand-ins for Locust's branch
    return options


def test_the_form_is_applied_as_locusts_own_swarm_applies_it() -> None:
    options = with_lists(parsed("--jwt-secret", "s" * 32))
    ours = swarm_options(copy.deepcopy(options), FORM)
    environment = Environment(parsed_options=options)  # no runner: Locust applies the form, then answers
    web_ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)
    answer = web_ui.app.test_client().post("/swarm", data=FORM).get_json()
    assert answer["success"] is False and answer["message"] == "No runner"
    assert ours is not None and vars(ours) == vars(environment.parsed_options)
    assert (ours.num_users, ours.spawn_rate, ours.run_time, ours.host) == (3, 1.5, 90, "ws://b127.0.0.1:9/b")
    assert (ours.in_flight, ours.rate, ours.tools, ours.insecure, ours.tags) == (4, 2.5, "echo:2", True, "a")
    assert (ours.ports, ours.names, ours.user_classes) == ([3, 4], ["x", "y"], ["ToolCallUser", "Other"])


def test_the_options_given_are_not_changed_and_a_plain_mapping_serves() -> None:
    options = parsed()
    ours = swarm_options(options, {"in_flight": "4", "user_classes": "ToolCallUser", "run_time": ""})
    assert ours is not None and (ours.in_flight, ours.user_classes, ours.run_time) == (4, ["ToolCallUser"], None)
    assert options.in_flight == 1 and options.user_classes == []


def test_a_value_swarm_cannot_convert_names_its_field() -> None:
    options = parsed()
    with pytest.raises(FormValueError, match=r"^--in-flight must be a whole number, got 'abc'$"):
        swarm_options(options, {"in_flight": "abc"})
    with pytest.raises(FormValueError, match=r"^--rate must be a number, got 'fast'$"):
        swarm_options(options, {"rate": "fast"})
    with pytest.raises(FormValueError, match=r"^Ramp up must be a number, got 'x'$"):
        swarm_options(options, {"spawn_rate": "x"})
    with pytest.raises(
        FormValueError, match=r"^Run time must be a time span such as 90, 30s, 3m or 1h20m, got 'soon'$"
    ):
        swarm_options(options, {"run_time": "soon"})


@pytest.mark.parametrize("version", ["2.48.0", "3.0.1"])
def test_on_an_untested_locust_the_form_is_left_to_the_users_check_at_start(version: str) -> None:
    options = parsed()
    assert form_error(options, {"in_flight": "abc"}, {}, master=True) is not None
    integration.install(version)
    assert not integration.tested()
    assert swarm_options(options, {"in_flight": "4"}) is None
    assert form_error(options, {"in_flight": "abc"}, {}, master=True) is None
    integration.install()
    assert integration.tested() and swarm_options(options, {"in_flight": "4"}) is not None


def test_every_mirror_says_what_it_copies_and_why() -> None:
    assert [m.name for m in integration.MIRRORS] == ["start form values"]
    assert all("swarm_options" in m.mirrors and m.why for m in integration.MIRRORS)
