"""SIGTERM or Ctrl+C ends a headless run cleanly: the shape stops at its next tick and every report is written.

Locust installs its own SIGTERM handler only after a headless load shape has
finished (locust.main runs the shape to its end first), so a `docker stop` or
`kill` of a headless master or single process would end it at once, with no
final CSV rows, ws.csv total or HTML report. Its Ctrl+C path stops the users
without draining their calls in flight. Here the first signal ends the plan
(users drain, workers send final reports, reports are written, exit code 0);
a second Ctrl+C quits at once, as in k6.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any, Protocol

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

logger = logging.getLogger(__name__)

FORCED_EXIT_CODE = 130
"""Exit code of a second Ctrl+C (128 + SIGINT, as a shell reports it)."""


class StoppableShape(Protocol):
    """A load shape that can be told to end the run at its next tick."""

    def request_stop(self, reason: str) -> None: ...


class GracefulStop:
    """The first SIGTERM/SIGINT ends the shape; a second SIGINT exits at once."""

    def __init__(self, shape: StoppableShape) -> None:
        self.shape = shape
        self.received = 0

    def __call__(self, signum: int) -> None:
        self.received += 1
        if self.received == 1:
            self.shape.request_stop(f"{signal.Signals(signum).name} received (Ctrl+C again to quit at once)")
        elif signum == signal.SIGINT:
            logger.error("second Ctrl+C: quitting at once; the reports of this run are incomplete")
            logging.shutdown()
            os._exit(FORCED_EXIT_CODE)


def end_shape_on_signals(environment: Environment) -> list[Any]:
    """On a headless master or single process running a stoppable shape, SIGTERM and SIGINT end the shape.
    Returns the signal watchers (none on workers and in web UI runs: Locust's own handling serves those)."""
    shape = environment.shape_class
    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or options is None or not getattr(options, "headless", False):
        return []
    if shape is None or not hasattr(shape, "request_stop"):
        return []
    stop = GracefulStop(shape)
    return [gevent.signal_handler(signum, stop, signum) for signum in (signal.SIGTERM, signal.SIGINT)]
