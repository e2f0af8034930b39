"""SIGTERM or Ctrl+C ends a headless run cleanly: the shape stops at its next tick and every report is written.

Locust installs its own SIGTERM handler only after a headless load shape has
finished (locust.main runs the shape to its end first), so a `docker stop` or
`kill` of a headless master or single process would end it at once, with no
final CSV rows, ws.csv total or HTML report. Its Ctrl+C path stops the users
without draining their calls in flight. Here the first signal ends the plan
(users drain, workers send final reports, reports are written, exit code 0);
a second Ctrl+C quits at once, as in k6.

Workers get the same Ctrl+C as their master when they share its terminal
(`--processes`: SIGINT goes to the whole process group). Locust would let it
kill them with a traceback and lose their counters; here a worker leaves the
ending to its master, and stops cleanly by itself only if no stop comes.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from typing import Any, Protocol

import gevent
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_RUNNING, STATE_SPAWNING, WorkerRunner

from scenarios.options import run_options

logger = logging.getLogger(__name__)

FORCED_EXIT_CODE = 130
"""Exit code of a second Ctrl+C (128 + SIGINT, as a shell reports it)."""
MASTER_GRACE_S = 3.0
"""A worker interrupted mid-run waits this long for its master's stop before stopping by itself."""


class StoppableShape(Protocol):
    """A load shape that can be told to end the run at its next tick."""

    def request_stop(self, reason: str) -> None: ...


class GracefulStop:
    """The first SIGTERM/SIGINT ends the shape; a second SIGINT exits at once. Before the run has started (a master
    still waiting for --expect-workers) there is nothing to end: the first signal quits (`quit_now`)."""

    def __init__(
        self, shape: StoppableShape, not_started: Callable[[], bool] = lambda: False, quit_now: Any = None
    ) -> None:
        self.shape = shape
        self.received = 0
        self._not_started = not_started
        self._quit_now = quit_now

    def __call__(self, signum: int) -> None:
        self.received += 1
        if self.received == 1 and self._quit_now is not None and self._not_started():
            logger.warning("%s received before the run started: quitting", signal.Signals(signum).name)
            self._quit_now()
        elif self.received == 1:
            self.shape.request_stop(f"{signal.Signals(signum).name} received (Ctrl+C again to quit at once)")
        elif signum == signal.SIGINT:
            logger.error("second Ctrl+C: quitting at once; the reports of this run are incomplete")
            logging.shutdown()
            os._exit(FORCED_EXIT_CODE)


def end_shape_on_signals(environment: Environment) -> list[Any]:
    """On a headless master or single process running a stoppable shape, SIGTERM and SIGINT end the shape.
    Returns the signal watchers (none on workers and in web UI runs: Locust's own handling serves those)."""
    shape = environment.shape_class
    options = run_options(environment)
    if isinstance(environment.runner, WorkerRunner) or options is None or not getattr(options, "headless", False):
        return []
    if shape is None or not hasattr(shape, "request_stop"):
        return []
    runner = environment.runner
    stop = GracefulStop(shape, lambda: runner is not None and runner.state == STATE_INIT, lambda: quit_idle(runner))
    return [gevent.signal_handler(signum, stop, signum) for signum in (signal.SIGTERM, signal.SIGINT)]


def quit_idle(runner: Any) -> None:
    """Quit a runner that never started a run (workers that did connect are told to quit), exit code 130.

    SystemExit raised in a gevent callback is thrown into the main greenlet (gevent's hub treats it as a system
    error), ending Locust's wait for workers there."""
    if runner is not None:
        runner.quit()
    raise SystemExit(FORCED_EXIT_CODE)


class WorkerInterrupt:
    """Ctrl+C on a worker: mid-run, wait MASTER_GRACE_S for the master's stop, then stop cleanly (users drain,
    the final report goes out) and quit; idle, quit cleanly at once; a second Ctrl+C mid-run quits at once."""

    def __init__(self, runner: Any, spawn_later: Any = gevent.spawn_later) -> None:
        self.runner = runner
        self.received = 0
        self._spawn_later = spawn_later

    def running(self) -> bool:
        """Whether this worker's users are running (not stopping, not idle)."""
        return self.runner.state in (STATE_SPAWNING, STATE_RUNNING)

    def __call__(self) -> None:
        self.received += 1
        if not self.running():
            logger.info("Ctrl+C: this worker is idle; quitting")
            self._spawn_later(0, self.runner.quit)
        elif self.received == 1:
            logger.info(
                "Ctrl+C: this worker's master ends the run (else it stops by itself in %.0f s); Ctrl+C again to "
                "quit at once",
                MASTER_GRACE_S,
            )
            self._spawn_later(MASTER_GRACE_S, self._stop_unless_stopped)
        else:
            logger.error("second Ctrl+C: quitting at once; this worker's final report is lost")
            logging.shutdown()
            os._exit(FORCED_EXIT_CODE)

    def _stop_unless_stopped(self) -> None:
        if self.running():
            logger.warning("no stop from the master: stopping this worker's users and quitting")
            self.runner.quit()


def workers_leave_ctrl_c_to_the_master(environment: Environment) -> Any:
    """On a worker, SIGINT goes through WorkerInterrupt instead of a KeyboardInterrupt; returns the watcher."""
    if not isinstance(environment.runner, WorkerRunner):
        return None
    return gevent.signal_handler(signal.SIGINT, WorkerInterrupt(environment.runner))
