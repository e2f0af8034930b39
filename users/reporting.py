"""Locust hooks: fail fast on bad options, sample the run (PREFIX_ws.csv, storm recovery), log the ledger at stop."""

from __future__ import annotations

import csv
import logging
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import gevent
import psutil
from locust.env import Environment
from locust.runners import MasterRunner

from users.base import counters_for
from users.load_control import LoadSource
from users.metrics import WsCounters
from users.options import OptionError, check_options
from users.recovery import RecoveryTracker
from users.web_tab import install_web_tab

logger = logging.getLogger(__name__)

SAMPLE_EVERY_S = 0.1
ROWS_EVERY_SAMPLES = 10

WS_CSV_COLUMNS = ["timestamp", "elapsed_s", "stage", *WsCounters().snapshot(), "rss_bytes"]
"""Columns of PREFIX_ws.csv: cumulative counters (take differences for rates), gauges, and the process RSS."""


class WsCsvWriter:
    """Appends one row of the counters per call to `write_row`; time is passed in."""

    def __init__(self, stream: TextIO, counters: WsCounters, started_at: float) -> None:
        self._stream = stream
        self._writer = csv.writer(stream)
        self._counters = counters
        self._started_at = started_at
        self._writer.writerow(WS_CSV_COLUMNS)

    def write_row(self, now: float, stage: str = "", rss_bytes: int = 0) -> None:
        """One row for the counters as they are at `now` (Unix seconds)."""
        snapshot = self._counters.snapshot()
        snapshot["schedule_lag_ms"] = round(snapshot["schedule_lag_ms"], 3)
        self._writer.writerow([f"{now:.3f}", f"{now - self._started_at:.3f}", stage, *snapshot.values(), rss_bytes])
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
    """Samples one run every 100 ms: plan gauges, storm recovery, and a PREFIX_ws.csv row each second."""

    def __init__(self, load_source: LoadSource | None = None) -> None:
        self.load_source = load_source
        self.recovery = RecoveryTracker()
        self._greenlet: gevent.Greenlet | None = None
        self._stream: TextIO | None = None
        self._writer: WsCsvWriter | None = None
        self._process = psutil.Process()
        self._storm_key: tuple[int, int] | None = None
        self._started = time.perf_counter()

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, MasterRunner):
            return
        self.recovery = RecoveryTracker()
        self._storm_key = None
        self._started = time.perf_counter()
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if prefix:
            path = Path(f"{prefix}_ws.csv")
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = path.open("w", newline="")
            self._writer = WsCsvWriter(self._stream, counters_for(environment), time.time())
        self._greenlet = gevent.spawn(self._sample_forever, counters_for(environment))

    def _sample_forever(self, counters: WsCounters) -> None:
        next_tick = time.perf_counter()
        samples = 0
        while True:
            next_tick += SAMPLE_EVERY_S
            gevent.sleep(max(0.0, next_tick - time.perf_counter()))
            stage = self._sample(counters, time.perf_counter())
            samples += 1
            if samples % ROWS_EVERY_SAMPLES == 0:
                self._write_row(counters, stage)

    def _sample(self, counters: WsCounters, now: float) -> str:
        """Update plan gauges and storm recovery; returns the current stage name."""
        point = self.load_source.point() if self.load_source is not None else None
        stage = ""
        if point is not None:
            stage = point.stage
            counters.rate_target = point.rate or 0.0
            counters.active_users = point.active_users
            key = (point.stage_index, point.storm_epoch)
            if point.storm_fraction > 0 and self._storm_key is not None and key != self._storm_key:
                if key[0] == self._storm_key[0]:
                    self.recovery.storm(now)
            self._storm_key = key
        self.recovery.sample(now, counters.calls.ok)
        sending = len(counters.sending)
        counters.sending.clear()
        if sending > counters.users_sending_peak:
            counters.users_sending_peak = sending
        return stage

    def _write_row(self, counters: WsCounters, stage: str) -> None:
        if self._writer is not None:
            self._writer.write_row(time.time(), stage, self._process.memory_info().rss)
        counters.schedule_lag_ms = 0.0
        counters.users_sending_peak = 0

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, MasterRunner):
            return
        counters = counters_for(environment)
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None
        if self._writer is not None and self._stream is not None:
            self._writer.write_row(time.time(), "", self._process.memory_info().rss)
            self._stream.close()
            self._writer = self._stream = None
        self._log_summary(counters)
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if prefix and self.recovery.storms:
            self._write_storms(Path(f"{prefix}_storms.csv"))

    def _log_summary(self, counters: WsCounters) -> None:
        calls = counters.calls
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
        if counters.calls_sent_late or counters.calls_skipped:
            logger.warning(
                "rate schedule: %d calls sent more than 10 ms after their intended time, %d skipped as hopelessly "
                "late: the load generator could not keep up (latency still counts from the intended times)",
                counters.calls_sent_late,
                counters.calls_skipped,
            )
        if counters.reconnect_attempts:
            logger.info(
                "reconnects: %d of %d attempts succeeded; storm drops by the client: %d",
                counters.reconnects,
                counters.reconnect_attempts,
                counters.storm_drops,
            )
        for number, storm in enumerate(self.recovery.storms, start=1):
            recovered = "not within the run" if storm.recovered_after_s is None else f"{storm.recovered_after_s:.2f} s"
            logger.info(
                "storm %d: calls/s before %.0f, back within 10%% after %s", number, storm.baseline_per_s, recovered
            )

    def _write_storms(self, path: Path) -> None:
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["storm", "at_s", "baseline_calls_per_s", "recovered_after_s"])
            for number, storm in enumerate(self.recovery.storms, start=1):
                recovered = "" if storm.recovered_after_s is None else f"{storm.recovered_after_s:.3f}"
                writer.writerow([number, f"{storm.at - self._started:.3f}", f"{storm.baseline_per_s:.1f}", recovered])


def register_reporting(events: Any, load_source: LoadSource | None = None) -> RunReporter:
    """Attach option checking, run reporting and the web UI tab to Locust's events."""
    reporter = RunReporter(load_source)
    events.init.add_listener(exit_on_bad_options)
    events.init.add_listener(lambda environment, **_: install_web_tab(environment, load_source))
    events.test_start.add_listener(reporter.on_test_start)
    events.test_stop.add_listener(reporter.on_test_stop)
    return reporter
