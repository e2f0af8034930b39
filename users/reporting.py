"""Locust hooks: fail fast on bad options, write PREFIX_ws.csv each second, log the call ledger at stop."""

from __future__ import annotations

import csv
import logging
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import gevent
from locust.env import Environment
from locust.runners import MasterRunner

from users.base import counters_for
from users.metrics import WsCounters
from users.options import OptionError, check_options

logger = logging.getLogger(__name__)

WS_CSV_COLUMNS = ["timestamp", "elapsed_s", "stage", *WsCounters().snapshot()]
"""Columns of PREFIX_ws.csv: cumulative counters (take differences for rates) and open-now gauges."""


class WsCsvWriter:
    """Appends one row of the counters per call to `write_row`; time is passed in."""

    def __init__(self, stream: TextIO, counters: WsCounters, started_at: float) -> None:
        self._stream = stream
        self._writer = csv.writer(stream)
        self._counters = counters
        self._started_at = started_at
        self._writer.writerow(WS_CSV_COLUMNS)

    def write_row(self, now: float, stage: str = "") -> None:
        """One row for the counters as they are at `now` (Unix seconds)."""
        snapshot = self._counters.snapshot()
        self._writer.writerow([f"{now:.3f}", f"{now - self._started_at:.3f}", stage, *snapshot.values()])
        self._stream.flush()


def exit_on_bad_options(environment: Environment, **_: Any) -> None:
    """`init` listener: one clear line and exit code 2 before any load when an option cannot work."""
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, MasterRunner):
        return
    try:
        check_options(options)
    except OptionError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


class RunReporter:
    """Owns the per-second WebSocket CSV of one run and the closing ledger line."""

    def __init__(self) -> None:
        self._greenlet: gevent.Greenlet | None = None
        self._stream: TextIO | None = None
        self._writer: WsCsvWriter | None = None

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, MasterRunner):
            return
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if not prefix:
            return
        path = Path(f"{prefix}_ws.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = path.open("w", newline="")
        self._writer = WsCsvWriter(self._stream, counters_for(environment), time.time())
        self._greenlet = gevent.spawn(self._every_second)

    def _every_second(self) -> None:
        assert self._writer is not None
        next_tick = time.time()
        while True:
            next_tick += 1.0
            gevent.sleep(max(0.0, next_tick - time.time()))
            self._writer.write_row(time.time())

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, MasterRunner):
            return
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None
        if self._writer is not None and self._stream is not None:
            self._writer.write_row(time.time())
            self._stream.close()
            self._writer = self._stream = None
        calls = counters_for(environment).calls
        identity = "holds" if calls.in_flight == 0 else f"{calls.in_flight} still in flight"
        logger.info(
            "ws calls: sent=%d ok=%d failed=%d timeout=%d lost=%d (sent = ok + failed + timeout + lost: %s); "
            "late=%d unknown=%d",
            calls.sent,
            calls.ok,
            calls.failed,
            calls.timeout,
            calls.lost,
            identity,
            calls.late_results,
            calls.unknown_results,
        )


def register_reporting(events: Any) -> RunReporter:
    """Attach option checking and run reporting to Locust's events."""
    reporter = RunReporter()
    events.init.add_listener(exit_on_bad_options)
    events.test_start.add_listener(reporter.on_test_start)
    events.test_stop.add_listener(reporter.on_test_stop)
    return reporter
