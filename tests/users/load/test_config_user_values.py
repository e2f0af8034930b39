"""users.load.config: a user class's values of the run's RunConfig, computed once per class per config."""

from __future__ import annotations

from dataclasses import replace

from users.base import ToolCallUser
from users.load.config import LIVE_OPTIONS, ConfigState, RunConfig, class_values, user_values


class Pipelined(ToolCallUser):
    abstract = True
    in_flight = 5


def test_an_option_off_its_default_wins_and_the_default_gives_the_class_its_own_value() -> None:
    edited = RunConfig(tools="echo:2", in_flight=10)
    assert user_values(Pipelined, edited, LIVE_OPTIONS) == {"tools": "echo:2", "in_flight": 10, "max_in_flight": 1000}
    assert user_values(Pipelined, RunConfig(), LIVE_OPTIONS)["in_flight"] == 5
    assert user_values(ToolCallUser, None, LIVE_OPTIONS)["in_flight"] == 1


def test_class_values_are_computed_once_per_class_per_config() -> None:
    state = ConfigState()
    config = RunConfig(in_flight=8)
    first = class_values(state, Pipelined, config)
    assert first["in_flight"] == 8 and class_values(state, Pipelined, config) is first
    assert class_values(state, ToolCallUser, config) is not first
    edited = replace(config, in_flight=1)  # back to the default: the class's own 5 again
    assert class_values(state, Pipelined, edited)["in_flight"] == 5
