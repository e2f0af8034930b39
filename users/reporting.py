"""Locust hooks: fail fast on bad options, sample the run (PREFIX_ws.csv, storm recovery), log the ledger at stop.

One process (LocalRunner) samples its own counters and writes PREFIX_ws.csv.
In a distributed run (--master/--worker, --processes) workers write no CSV:
each adds a snapshot of its cumulative counters to every Locust worker report
(`events.report_to_master`, once a second) and sends a final one when its users
have stopped. The master keeps each worker's latest snapshot
(`events.worker_report`, users.aggregation), writes PREFIX_ws.csv from their sum
with the same columns, and writes its last row only once every live worker's
final snapshot is in (bounded wait; see `RunReporter._collect_finals`).
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import gevent
import psutil
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from users import integration
from users.aggregation import WS_REPORT_KEY, WorkerTotals, merge_storms, worker_payload
from users.base import counters_for
from users.load_control import LoadSource
from users.metrics import WsCounters
from users.options import DEFAULTS, OptionError, check_options
from users.rate_hold import RateHold
from users.rate_share import follow_rate_share, relay_rate_shares
from users.recovery import RecoveryTracker
from users.runtime import runtime_for
from users.storms import StormEdges
from users.terminal import register_terminal
from users.web_tab import install_web_tab

logger = logging.getLogger(__name__)

SAMPLE_EVERY_S = 0.1
ROWS_EVERY_SAMPLES = 10
ROW_EVERY_S = SAMPLE_EVERY_S * ROWS_EVERY_SAMPLES

STOP_MESSAGE = "ws_stop"
"""Master -> worker: stop your users now and send your final report (Locust's headless quit tells workers to
stop only after the master's test_stop, too late for the master's last row)."""
FINAL_WAIT_SLACK_S = 5.0
"""The master waits for final reports up to the call timeout (users drain that long) plus this."""
MISSING_WORKER_WAIT_S = 5.0
"""...but for a worker Locust marks missing (no heartbeat for 3 s), only this long: it may be busy or dead."""

STORM_MODES = ("client", "server")
"""Storms of both modes start a recovery measurement."""
WS_CSV_COLUMNS = ["timestamp", "elapsed_s", "stage", *WsCounters().snapshot(), "rss_bytes"]
"""Columns of PREFIX_ws.csv: cumulative counters (take differences for rates), gauges, and the process RSS."""
COUNTER_KEYS = list(WsCounters().snapshot())
WORKERS_CSV_COLUMNS = ["worker", "end", "reports", "first_report_s", "last_report_s", *COUNTER_KEYS, "rss_bytes"]
"""Columns of the master's PREFIX_workers.csv: one row per worker with its last counters."""


class WsCsvWriter:
    """Appends one row of counters per call to `write_row`; time is passed in."""

    def __init__(self, stream: TextIO, started_at: float) -> None:
        self._stream = stream
        self._writer = csv.writer(stream)
        self._started_at = started_at
        self._writer.writerow(WS_CSV_COLUMNS)

    def write_row(self, now: float, snapshot: Mapping[str, float], stage: str = "", rss_bytes: int = 0) -> None:
        """One row for `snapshot` (WsCounters.snapshot() keys) as it is at `now` (Unix seconds)."""
        values = [round(snapshot[k], 3) if k == "schedule_lag_ms" else snapshot[k] for k in COUNTER_KEYS]
        self._writer.writerow([f"{now:.3f}", f"{now - self._started_at:.3f}", stage, *values, rss_bytes])
        self._stream.flush()


def exit_on_bad_options(environment: Environment, **_: Any) -> None:
    """`init` listener: one clear line and exit code 2 before any load when an option cannot work.

    Checked where the run is started (a single process, or the master): Locust
    sends the master's options, these included, to every worker with each spawn
    message, and they replace the worker's own, so a worker checks nothing here.
    """
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return
    try:
        # A master may run without credentials: each worker then uses its own LOCUST_JWT_SECRET/TOKEN.
        check_options(options, need_credentials=not isinstance(environment.runner, MasterRunner))
    except OptionError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


def _open_csv(path: Path) -> TextIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", newline="")


class RunReporter:
    """Samples one run every 100 ms (plan gauges, storm recovery) and reports it: PREFIX_ws.csv rows each second
    in a single process, worker reports in a worker, the workers' sum in the master."""

    def __init__(self, load_source: LoadSource | None = None) -> None:
        self.load_source = load_source
        self.recovery = RecoveryTracker()
        self.rate_hold = RateHold()
        self._last_row_time = 0.0
        self.totals = WorkerTotals(COUNTER_KEYS)
        self.mode = "local"
        self.environment: Environment | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._stream: TextIO | None = None
        self._writer: WsCsvWriter | None = None
        self._process = psutil.Process()
        self._storm_edges = StormEdges(STORM_MODES)
        self._started = time.perf_counter()
        self._started_wall = time.time()
        self._reporting = False
        self._last_final: dict[str, Any] | None = None
        self._collecting = False

    # ------------------------------------------------------------------ init
    def on_init(self, environment: Environment, **_: Any) -> None:
        """Pick the mode from the runner and hook the worker/master report events."""
        self.environment = environment
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            self.mode = "master"
            environment.events.worker_report.add_listener(self.on_worker_report)
            gevent.spawn(relay_rate_shares, runner)
        elif isinstance(runner, WorkerRunner):
            self.mode = "worker"
            integration.report_each_second()
            environment.events.report_to_master.add_listener(self.on_report_to_master)
            runner.register_message(STOP_MESSAGE, self.on_stop_message)
            follow_rate_share(environment)

    # ----------------------------------------------------------------- start
    def on_test_start(self, environment: Environment, **_: Any) -> None:
        self.environment = environment
        self.recovery = RecoveryTracker()
        self.rate_hold = RateHold()
        self._storm_edges = StormEdges(STORM_MODES)
        self._last_row_time = 0.0
        self._started = time.perf_counter()
        self._started_wall = time.time()
        if self.mode == "master":
            self.totals.reset()
            self._collecting = True
            self._open_ws_csv(environment)
            self._greenlet = gevent.spawn(self._master_rows)
            return
        runtime_for(environment).new_run()  # each run counts from zero
        if self.mode == "local":
            self._open_ws_csv(environment)
        self._reporting = True
        self._last_final = None
        self._greenlet = gevent.spawn(self._sample_forever, counters_for(environment))

    def _open_ws_csv(self, environment: Environment) -> None:
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if prefix:
            self._stream = _open_csv(Path(f"{prefix}_ws.csv"))
            self._writer = WsCsvWriter(self._stream, self._started_wall)

    # --------------------------------------------------------------- sampling
    def _sample_forever(self, counters: WsCounters) -> None:
        next_tick = time.perf_counter()
        samples = 0
        while True:
            next_tick += SAMPLE_EVERY_S
            gevent.sleep(max(0.0, next_tick - time.perf_counter()))
            stage = self._sample(counters, time.perf_counter())
            samples += 1
            if samples % ROWS_EVERY_SAMPLES == 0 and self.mode == "local":
                self._write_row(counters, stage)

    def _sample(self, counters: WsCounters, now: float) -> str:
        """Update plan gauges and storm recovery; returns the current stage name."""
        point = self.load_source.point() if self.load_source is not None else None
        stage = ""
        if point is not None:
            stage = point.stage
            counters.rate_target = point.rate or 0.0
            counters.active_users = point.active_users
            self.rate_hold.observe(now, point.stage_index, point.stage, counters.rate_target, counters.calls.sent)
        if self._storm_edges.storm_now(point):
            self.recovery.storm(now)
        self.recovery.sample(now, counters.calls.ok)
        sending = len(counters.sending)
        counters.sending.clear()
        if sending > counters.users_sending_peak:
            counters.users_sending_peak = sending
        return stage

    def _write_row(self, counters: WsCounters, stage: str) -> None:
        if self._writer is not None:
            self._writer.write_row(time.time(), counters.snapshot(), stage, self._process.memory_info().rss)
        _reset_window_gauges(counters)

    # ----------------------------------------------------------------- worker
    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        """Worker: add this process's counters to Locust's report while a run is going."""
        if self._reporting and self.environment is not None:
            data[WS_REPORT_KEY] = self._worker_payload(final=False)

    def _worker_payload(self, final: bool) -> dict[str, Any]:
        assert self.environment is not None
        counters = counters_for(self.environment)
        storms = self._storms_wall_clock() if final else []
        payload = worker_payload(counters.snapshot(), self._process.memory_info().rss, final, storms)
        _reset_window_gauges(counters)
        return payload

    def _storms_wall_clock(self) -> list[dict[str, Any]]:
        offset = time.time() - time.perf_counter()
        return [
            {
                "at": storm.at + offset,
                "baseline_per_s": storm.baseline_per_s,
                "recovered_after_s": storm.recovered_after_s,
            }
            for storm in self.recovery.storms
        ]

    def _send_final_report(self, environment: Environment) -> None:
        """Worker: one Locust report now, with the last request stats and our final counters."""
        runner = environment.runner
        assert isinstance(runner, WorkerRunner)
        data: dict[str, Any] = {}
        self._reporting = False
        environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        data[WS_REPORT_KEY] = self._last_final = self._worker_payload(final=True)
        integration.send_worker_report(runner, data)

    def on_stop_message(self, environment: Environment, msg: Any, **_: Any) -> None:
        """Worker: the master wants the final report now; stop the users (the report follows) or resend it."""
        runner = environment.runner
        if runner is None:
            return
        if runner.state in (STATE_SPAWNING, STATE_RUNNING):
            gevent.spawn(runner.stop)  # its test_stop sends the final report
            return
        if self._reporting:
            return  # stopping right now: the final report follows from test_stop
        data: dict[str, Any] = {}
        environment.events.report_to_master.fire(client_id=getattr(runner, "client_id", ""), data=data)
        data[WS_REPORT_KEY] = self._last_final or worker_payload(counters_for(environment).snapshot(), 0, True)
        integration.send_worker_report(runner, data)

    # ----------------------------------------------------------------- master
    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        """Master: keep the latest snapshot of each worker of this run."""
        payload = data.get(WS_REPORT_KEY)
        if payload is not None and self._collecting:
            self.totals.update(client_id, payload, time.monotonic(), wall=time.time())

    def _gone_workers(self) -> set[str]:
        """Workers that reported in this run and are no longer connected (missing, quit, stopped)."""
        runner = self.environment.runner if self.environment is not None else None
        clients = getattr(runner, "clients", {})
        return {w for w in self.totals.workers if w not in clients or clients[w].state == STATE_MISSING}

    def _final_candidates(self) -> tuple[list[str], set[str]]:
        """Master: workers whose final report to wait for, and which of them Locust marks missing.

        That is every worker still connected that runs users or reported in this run, missing ones included:
        on a loaded machine a live worker can miss three heartbeats and still send its final report. A worker
        no longer among Locust's clients has stopped (its final report came first) or left.
        """
        runner = self.environment.runner if self.environment is not None else None
        clients = getattr(runner, "clients", None)
        if clients is None:
            return [], set()
        active = {c.id for c in clients.all if c.state in (STATE_RUNNING, STATE_SPAWNING)}
        reported = {w for w in self.totals.workers if w in clients}
        missing = {w for w in reported if clients[w].state == STATE_MISSING}
        return sorted(active | reported), missing

    def master_snapshot(self, take_peaks: bool = False) -> dict[str, float]:
        """Master: the workers' summed counters; plan gauges from the master's own plan when one runs."""
        totals = self.totals.totals(self._gone_workers(), take_peaks=take_peaks)
        point = self.load_source.point() if self.load_source is not None else None
        if point is not None:
            totals["rate_target"] = point.rate or 0.0
            totals["active_users"] = point.active_users
        return totals

    def snapshot(self) -> dict[str, float]:
        """The counters this process shows: its own, or (master) every worker's summed."""
        if self.mode == "master":
            return self.master_snapshot()
        assert self.environment is not None
        return counters_for(self.environment).snapshot()

    def workers_line(self) -> str | None:
        """Master: how many workers report, for the web UI; None elsewhere."""
        if self.mode != "master":
            return None
        gone = self._gone_workers()
        states = self.totals.workers.values()
        finished = sum(1 for s in states if s.final)
        vanished = sum(1 for s in states if not s.final and s.worker_id in gone)
        parts = [f"{len(states) - finished - vanished} reporting"]
        if finished:
            parts.append(f"{finished} finished")
        if vanished:
            parts.append(f"{vanished} gone (last counters kept)")
        return ", ".join(parts)

    def _master_rows(self) -> None:
        next_tick = time.perf_counter()
        while True:
            next_tick += ROW_EVERY_S
            gevent.sleep(max(0.0, next_tick - time.perf_counter()))
            point = self.load_source.point() if self.load_source is not None else None
            self._master_row(point.stage if point else "", final=False)

    def _master_row(self, stage: str, final: bool) -> dict[str, float]:
        """Master: one PREFIX_ws.csv row of the summed counters, stamped with the time they were taken
        (WorkerTotals.data_time), so the rate between any two rows is true. A periodic row waits for news."""
        totals = self.master_snapshot(take_peaks=True)
        data_time = self.totals.data_time(self._gone_workers())
        if data_time is None or (not final and data_time <= self._last_row_time):
            return totals
        point = self.load_source.point() if self.load_source is not None else None
        if point is not None and not final:
            self.rate_hold.observe(data_time, point.stage_index, point.stage, point.rate or 0.0, totals["calls_sent"])
        if self._writer is not None:
            self._writer.write_row(data_time, totals, stage, self.totals.rss_bytes)
        self._last_row_time = max(self._last_row_time, data_time)
        return totals

    def _collect_finals(self, environment: Environment) -> None:
        """Master: make every worker of this run stop and send its final report; wait for them, bounded.

        Live workers get the users' drain time (the call timeout) plus the stop timeout and some slack; workers
        Locust marks missing get at most MISSING_WORKER_WAIT_S of that, so a killed worker costs little.
        """
        runner = environment.runner
        assert isinstance(runner, MasterRunner)
        candidates, missing = self._final_candidates()
        pending = self.totals.pending(candidates)
        for worker in pending:
            runner.send_message(STOP_MESSAGE, None, client_id=worker)
        call_timeout = float(getattr(environment.parsed_options, "call_timeout", None) or DEFAULTS["call_timeout"])
        limit = call_timeout + float(environment.stop_timeout or 0) + FINAL_WAIT_SLACK_S
        started = time.monotonic()
        while pending:
            waited = time.monotonic() - started
            if waited >= limit or (waited >= MISSING_WORKER_WAIT_S and set(pending) <= missing):
                break
            gevent.sleep(0.05)
            candidates, missing = self._final_candidates()  # a missing worker can come back, a live one go
            pending = self.totals.pending(candidates)
        if pending:
            logger.warning(
                "ws metrics: no final report from %s within %.0f s%s",
                ", ".join(pending),
                time.monotonic() - started,
                " (missing: no heartbeat)" if set(pending) <= missing else "",
            )

    # ------------------------------------------------------------------- stop
    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None
        if self.mode == "master":
            self._stop_master(environment)
            return
        counters = counters_for(environment)
        if self.mode == "worker":
            if self._reporting:
                self._log_summary(counters.snapshot(), "this worker's ")
                self._send_final_report(environment)
            return
        if self._writer is not None and self._stream is not None:
            self._writer.write_row(time.time(), counters.snapshot(), "", self._process.memory_info().rss)
            self._close_csv()
        self._log_summary(counters.snapshot())
        self._log_rate_hold()
        offset = self._started_wall - self._started
        storms = [
            {"at": s.at + offset, "baseline_per_s": s.baseline_per_s, "recovered_after_s": s.recovered_after_s}
            for s in self.recovery.storms
        ]
        self._log_storms(storms)
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if prefix and storms:
            self._write_storms(Path(f"{prefix}_storms.csv"), storms)

    def _stop_master(self, environment: Environment) -> None:
        if not self._collecting:
            return
        self._collect_finals(environment)
        self._collecting = False
        gone = self._gone_workers()
        for worker in sorted(gone):
            state = self.totals.workers[worker]
            if not state.final:
                logger.warning(
                    "ws metrics: worker %s went away without a final report; its last counters (%.1f s before the "
                    "end: calls_sent=%d, calls_in_flight=%d) stay in the totals",
                    worker,
                    time.monotonic() - state.last_at,
                    state.counters.get("calls_sent", 0),
                    state.counters.get("calls_in_flight", 0),
                )
        totals = self._master_row("", final=True)
        self._close_csv()
        finals = sum(1 for s in self.totals.workers.values() if s.final)
        logger.info("ws metrics: summed over %d workers (%d sent a final report)", len(self.totals.workers), finals)
        self._log_summary(totals)
        self._log_rate_hold()
        storms = merge_storms(s.storms for s in self.totals.workers.values())
        self._log_storms(storms)
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if prefix:
            self._write_workers(Path(f"{prefix}_workers.csv"), gone)
            if storms:
                self._write_storms(Path(f"{prefix}_storms.csv"), storms)

    def _close_csv(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._writer = self._stream = None

    def _write_workers(self, path: Path, gone: set[str]) -> None:
        now = time.monotonic()
        first = min((s.first_at for s in self.totals.workers.values()), default=now)
        with _open_csv(path) as f:
            writer = csv.writer(f)
            writer.writerow(WORKERS_CSV_COLUMNS)
            for worker, state in sorted(self.totals.workers.items()):
                end = "final" if state.final else ("gone" if worker in gone else "no_final")
                writer.writerow([worker, end, state.reports, f"{state.first_at - first:.3f}",
                                 f"{state.last_at - first:.3f}", *(state.counters[k] for k in COUNTER_KEYS),
                                 state.rss_bytes])  # fmt: skip

    @staticmethod
    def _log_summary(totals: Mapping[str, float], whose: str = "") -> None:
        in_flight = int(totals["calls_in_flight"])
        identity = "holds" if in_flight == 0 else f"{in_flight} still in flight"
        logger.info(
            "%sws calls: sent=%d ok=%d failed=%d timeout=%d lost=%d (sent = ok + failed + timeout + lost: %s); "
            "late=%d unknown=%d",
            whose,
            totals["calls_sent"],
            totals["calls_ok"],
            totals["calls_failed"],
            totals["calls_timeout"],
            totals["calls_lost"],
            identity,
            totals["calls_late_results"],
            totals["calls_unknown_results"],
        )
        if totals["calls_sent_late"] or totals["calls_skipped"]:
            logger.warning(
                "rate schedule: %d calls sent more than 10 ms after their intended time, %d skipped as hopelessly "
                "late: the load generator could not keep up (latency still counts from the intended times)",
                totals["calls_sent_late"],
                totals["calls_skipped"],
            )
        if totals["reconnect_attempts"]:
            logger.info(
                "reconnects: %d of %d attempts succeeded; storm drops by the client: %d",
                totals["reconnects"],
                totals["reconnect_attempts"],
                totals["storm_drops"],
            )

    def _log_rate_hold(self) -> None:
        """One line per rate stage: achieved calls/s against its target (a warning when not held)."""
        for stage in self.rate_hold.results():
            if stage.held:
                logger.info("%s", stage.describe())
            else:
                logger.warning(
                    "%s (too few connections for --max-in-flight, a saturated generator or a slow server: see "
                    "calls_sent_late, calls_skipped and calls_in_flight in PREFIX_ws.csv)",
                    stage.describe(),
                )

    @staticmethod
    def _log_storms(storms: list[dict[str, Any]]) -> None:
        for number, storm in enumerate(storms, start=1):
            after = storm["recovered_after_s"]
            recovered = "not within the run" if after is None else f"{after:.2f} s"
            logger.info(
                "storm %d: calls/s before %.0f, back within 10%% after %s", number, storm["baseline_per_s"], recovered
            )

    def _write_storms(self, path: Path, storms: list[dict[str, Any]]) -> None:
        with _open_csv(path) as f:
            writer = csv.writer(f)
            writer.writerow(["storm", "at_s", "baseline_calls_per_s", "recovered_after_s"])
            for number, storm in enumerate(storms, start=1):
                recovered = "" if storm["recovered_after_s"] is None else f"{storm['recovered_after_s']:.3f}"
                at_s = storm["at"] - self._started_wall
                writer.writerow([number, f"{at_s:.3f}", f"{storm['baseline_per_s']:.1f}", recovered])


def _reset_window_gauges(counters: WsCounters) -> None:
    """Start a new window for the gauges that hold the worst value since the last row or report."""
    counters.schedule_lag_ms = 0.0
    counters.users_sending_peak = 0


def register_reporting(events: Any, load_source: LoadSource | None = None) -> RunReporter:
    """Attach option checking, run reporting and the web UI tab to Locust's events."""
    reporter = RunReporter(load_source)
    events.init.add_listener(exit_on_bad_options)
    events.init.add_listener(reporter.on_init)
    events.init.add_listener(lambda environment, **_: install_web_tab(environment, load_source, reporter))
    events.test_start.add_listener(reporter.on_test_start)
    events.test_stop.add_listener(reporter.on_test_stop)
    register_terminal(events, reporter, load_source)  # after the reporter: its final counters come first
    return reporter
