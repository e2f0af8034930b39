"""Locust's request event, fired; while Locust's own stats listener is its only listener, without the machinery.

`events.request.fire(**kwargs)` copies the listener list, loops, and calls
Locust's listener (a closure in `Runner.__init__`) with keyword arguments,
which calls `stats.log_request` and, for a failure, `stats.log_error`. At 80K
calls/s per process that wrapping cost about a tenth of the worker's CPU
(`python -m bench.cpu_profile`). `request_fire` returns a function with the
event's keyword signature that, whenever that listener is the only one, makes
exactly its two calls itself; the moment anything else listens (a plugin, a
test, your own `@events.request.add_listener`), every request goes through
`events.request.fire` again, so every listener sees every request. Tested
against the event itself: tests/users/test_request_events.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from locust import log as locust_log
from locust.env import Environment

logger = logging.getLogger(__name__)

LOCUST_STATS_LISTENER = "Runner.__init__.<locals>.on_request"
"""The qualified name of the listener every Locust runner adds to the request event (locust/runners.py)."""


def locust_stats_listener(environment: Environment) -> Callable[..., Any] | None:
    """The runner's own request listener, if the event has it; None otherwise (then nothing is bypassed)."""
    for handler in environment.events.request._handlers:
        if getattr(handler, "__qualname__", "") == LOCUST_STATS_LISTENER:
            return handler
    return None


def request_fire(environment: Environment) -> Callable[..., None]:
    """`environment.events.request.fire`, or its equivalent shortcut while Locust's stats listener is alone."""
    hook = environment.events.request
    listener = locust_stats_listener(environment)
    if listener is None:
        return hook.fire
    handlers = hook._handlers  # Locust adds and removes listeners in place: this list stays current
    stats = environment.stats
    fire = hook.fire

    def fire_request(
        *,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int,
        exception: BaseException | None = None,
        **extra: Any,
    ) -> None:
        if len(handlers) == 1 and handlers[0] is listener:
            try:
                stats.log_request(request_type, name, response_time, response_length)  # type: ignore[arg-type]
                if exception:
                    stats.log_error(request_type, name, exception)
            except Exception:  # as EventHook.fire: a listener's error is logged, never raised into the caller
                logger.exception("Uncaught exception in Locust's request statistics")
                locust_log.unhandled_greenlet_exception = True
            return
        fire(
            request_type=request_type,
            name=name,
            response_time=response_time,
            response_length=response_length,
            exception=exception,
            **extra,
        )

    return fire_request
