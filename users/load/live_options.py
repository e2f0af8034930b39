"""Options a run may change while it runs (the web UI's Edit), and each user class's values of the run's options."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from users.load.config import RunConfig
from users.load.options import DEFAULTS
from users.load.runtime import Runtime

LIVE_OPTIONS = ("tools", "in_flight", "max_in_flight")
"""Taken again by every user at its next task run after the run's RunConfig changed, so an Edit of the running test
applies to every user, old and new. The others shape a connection or the run's plan and take effect at the next
start."""


def user_values(user_class: type, config: RunConfig | None, names: Iterable[str]) -> dict[str, Any]:
    """Each option's value for a user of `user_class`: the option where it differs from the shared default,
    otherwise the class attribute (a subclass's own setting, such as `in_flight = 4`)."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(config, name) if config is not None else None
        values[name] = value if value is not None and value != DEFAULTS[name] else getattr(user_class, name)
    return values


def class_values(runtime: Runtime, user_class: type, config: RunConfig) -> dict[str, Any]:
    """`user_values` of every user option for `user_class` under `config`, computed once per class per RunConfig
    (the process's users share it)."""
    cached = runtime.class_values.get(user_class)
    if cached is None or cached[0] is not config:
        cached = runtime.class_values[user_class] = (config, user_values(user_class, config, DEFAULTS))
    return cached[1]
