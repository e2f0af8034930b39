"""users.load.live_options: the run's parsed options are the one source of the options an Edit changes mid-run."""

from __future__ import annotations

import argparse

from users.base import ToolCallUser
from users.load.live_options import LIVE_OPTIONS, live_key, user_values


class Pipelined(ToolCallUser):
    abstract = True
    in_flight = 5


def test_an_option_off_its_default_wins_and_the_default_gives_the_class_its_own_value() -> None:
    edited = argparse.Namespace(tools="echo:2", in_flight=10, max_in_flight=1000)
    assert user_values(Pipelined, edited, LIVE_OPTIONS) == {"tools": "echo:2", "in_flight": 10, "max_in_flight": 1000}
    back = argparse.Namespace(tools="echo", in_flight=1, max_in_flight=1000)
    assert user_values(Pipelined, back, LIVE_OPTIONS)["in_flight"] == 5
    assert user_values(ToolCallUser, None, LIVE_OPTIONS)["in_flight"] == 1


def test_the_key_changes_when_a_live_option_changes() -> None:
    options = argparse.Namespace(tools="echo", in_flight=4, max_in_flight=1000, protocol="toolcall")
    before = live_key(options)
    options.protocol = "mcp"  # not live: a connection's, taken at the next start
    assert live_key(options) == before
    options.in_flight = 8
    assert live_key(options) != before and live_key(None) == ()
