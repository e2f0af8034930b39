"""Options a run may change while it runs (the web UI's Edit): the run's parsed options are their one source."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from users.load.options import DEFAULTS

LIVE_OPTIONS = ("tools", "in_flight", "max_in_flight")
"""Read again by every user at each task run, so an Edit of the running test applies to every user, old and new.
The others shape a connection or the run's plan and take effect at the next start."""


def user_values(user_class: type, options: argparse.Namespace | None, names: Iterable[str]) -> dict[str, Any]:
    """Each option's value for a user of `user_class`: the option where it differs from the shared default,
    otherwise the class attribute (a subclass's own setting)."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(options, name, None) if options is not None else None
        values[name] = value if value is not None and value != DEFAULTS[name] else getattr(user_class, name)
    return values


def live_key(options: argparse.Namespace | None) -> tuple[Any, ...]:
    """The live options' values now: a user compares it with the one it last applied."""
    return tuple(getattr(options, name, None) for name in LIVE_OPTIONS) if options is not None else ()
