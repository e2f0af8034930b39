"""The master's reporter: sums its workers' counters into PREFIX_ws.csv and collects their final reports.

Each worker adds a snapshot of its cumulative counters to every Locust worker
report (`events.report_to_master`, once a second) and sends a final one when its
users have stopped. The master keeps each worker's latest snapshot
(`events.worker_report`, users.telemetry.aggregation), writes PREFIX_ws.csv from their sum
with the same columns as a single process, each row stamped with the time its
counters were taken, and writes its last row only once every live worker's final
snapshot is in (bounded wait; see `MasterReporter.collect_finals`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner

from run_files import STORMS_CSV, WORKERS_CSV, run_file
from users.engine.load_control import LoadSource
from users.integration.workers import worker_states
from users.load.config import current_config
from users.load.rate_hold import RateHold
from users.load.rate_share import relay_rate_shares
from users.telemetry.aggregation import WS_REPORT_KEY, WorkerTotals, merge_storms
from users.telemetry.run_log import log_rate_stages, log_storms, log_summary
from users.telemetry.ws_csv import COUNTER_KEYS, WsCsvWriter, write_storms, write_workers, ws_csv_for

logger = logging.getLogger("users.reporting")

ROW_EVERY_S = 1.0
STOP_MESSAGE = "ws_stop"
"""Master -> worker: stop your users now and send your final report (Locust's headless quit tells workers to
stop only after the master's test_stop, too late for the master's last row)."""
FINAL_WAIT_SLACK_S = 5.0
"""The master waits for final reports up to the call timeout (users drain that long) plus this."""
STOP_RESEND_S = 2.0
"""How often the master asks workers that have not sent their final report yet."""
MISSING_WORKER_WAIT_S = 5.0
"""...but for a worker Locust marks missing (no heartbeat for 3 s), only this long: it may be busy or dead."""


class MasterReporter:
    """One master's view of a distributed run: the workers' summed counters, rows, finals and the end's logs."""

    def __init__(self, environment: Environment, load_source: LoadSource | None) -> None:
        self.environment = environment
        self.load_source = load_source
        self.totals = WorkerTotals(COUNTER_KEYS)
        self.rate_hold = RateHold()
        self._writer: WsCsvWriter | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._collecting = False
        self._last_row_time = 0.0
        self._started_wall = time.time()
        runner = environment.runner
        assert isinstance(runner, MasterRunner)
        self.runner = runner
        environment.events.worker_report.add_listener(self.on_worker_report)
        gevent.spawn(relay_rate_shares, runner)

    # ------------------------------------------------------------- the run
    def on_test_start(self) -> None:
        """A run starts: forget the last one's workers, open PREFIX_ws.csv, write a row each second."""
        self.totals.reset()
        self.rate_hold = RateHold()
        self._last_row_time = 0.0
        self._started_wall = time.time()
        self._collecting = True
        self._writer = ws_csv_for(current_config(self.environment), self._started_wall)
        self._greenlet = gevent.spawn(self._rows)

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        """Keep the latest snapshot of each worker of this run."""
        payload = data.get(WS_REPORT_KEY)
        if payload is not None and self._collecting:
            self.totals.update(client_id, payload, time.monotonic(), wall=time.time())

    def _rows(self) -> None:
        next_tick = time.perf_counter()
        while True:
            next_tick += ROW_EVERY_S
            gevent.sleep(max(0.0, next_tick - time.perf_counter()))
            point = self.load_source.point() if self.load_source is not None else None
            self._row(point.stage if point else "", final=False)

    def _row(self, stage: str, final: bool) -> dict[str, float]:
        """One PREFIX_ws.csv row of the summed counters, stamped with the time they were taken
        (WorkerTotals.data_time), so the rate between any two rows is true. A periodic row waits for news."""
        totals = self.snapshot(take_peaks=True)
        data_time = self.totals.data_time(self.gone_workers())
        if data_time is None or (not final and data_time <= self._last_row_time):
            return totals
        point = self.load_source.point() if self.load_source is not None else None
        if point is not None and not final:
            elapsed = point.stage_elapsed_s - (time.time() - data_time)  # into the stage when the data was taken
            self.rate_hold.observe(
                data_time, point.stage_index, point.stage, point.rate or 0.0, totals["calls_sent"], elapsed
            )
        if self._writer is not None:
            self._writer.write_row(data_time, totals, stage, self.totals.rss_bytes)
        self._last_row_time = max(self._last_row_time, data_time)
        return totals

    # -------------------------------------------------------------- views
    def snapshot(self, take_peaks: bool = False) -> dict[str, float]:
        """The workers' summed counters; plan gauges from the master's own plan when one runs."""
        totals = self.totals.totals(self.gone_workers(), take_peaks=take_peaks)
        point = self.load_source.point() if self.load_source is not None else None
        if point is not None:
            totals["rate_target"] = point.rate or 0.0
            totals["active_users"] = point.active_users
        return totals

    def gone_workers(self) -> set[str]:
        """Workers that reported in this run and are no longer connected (missing, quit, stopped)."""
        states = worker_states(self.runner)
        return {w for w in self.totals.workers if states.get(w, STATE_MISSING) == STATE_MISSING}

    def workers_line(self) -> str:
        """How many workers report, for the web UI."""
        gone = self.gone_workers()
        states = self.totals.workers.values()
        finished = sum(1 for s in states if s.final)
        vanished = sum(1 for s in states if not s.final and s.worker_id in gone)
        parts = [f"{len(states) - finished - vanished} reporting"]
        if finished:
            parts.append(f"{finished} finished")
        if vanished:
            parts.append(f"{vanished} gone (last counters kept)")
        return ", ".join(parts)

    # ------------------------------------------------------------- the end
    def final_candidates(self) -> tuple[list[str], set[str]]:
        """Workers whose final report to wait for, and which of them Locust marks missing.

        That is every worker still connected that runs users or reported in this run, missing ones included:
        on a loaded machine a live worker can miss three heartbeats and still send its final report. A worker
        no longer among Locust's clients has stopped (its final report came first) or left.
        """
        states = worker_states(self.runner)
        # A worker paused (a busy machine) before its first report is missing: waited for too, at most
        # MISSING_WORKER_WAIT_S unless it comes back.
        active = {w for w, state in states.items() if state in (STATE_RUNNING, STATE_SPAWNING, STATE_MISSING)}
        candidates = active | {w for w in self.totals.workers if w in states}
        missing = {w for w in candidates if states[w] == STATE_MISSING}
        return sorted(candidates), missing

    def collect_finals(self) -> None:
        """Make every worker of this run stop and send its final report; wait for them, bounded.

        Live workers get the users' drain time (the call timeout) plus the stop timeout and some slack; workers
        Locust marks missing get at most MISSING_WORKER_WAIT_S of that, so a killed worker costs little.
        """
        environment = self.environment
        candidates, missing = self.final_candidates()
        pending = self.totals.pending(candidates)
        call_timeout = current_config(environment).call_timeout
        limit = call_timeout + float(environment.stop_timeout or 0) + FINAL_WAIT_SLACK_S
        started = time.monotonic()
        asked_at = -STOP_RESEND_S
        while pending:
            waited = time.monotonic() - started
            if waited >= limit or (waited >= MISSING_WORKER_WAIT_S and set(pending) <= missing):
                break
            if waited - asked_at >= STOP_RESEND_S:
                # Asked again now and then: a worker that was paused (a busy machine) may have missed the first
                # ask; a worker already stopping ignores it, one already stopped sends its final report again.
                for worker in pending:
                    self.runner.send_message(STOP_MESSAGE, None, client_id=worker)
                asked_at = waited
            gevent.sleep(0.05)
            candidates, missing = self.final_candidates()  # a missing worker can come back, a live one go
            pending = self.totals.pending(candidates)
        if pending:
            logger.warning(
                "ws metrics: no final report from %s within %.0f s%s",
                ", ".join(pending),
                time.monotonic() - started,
                " (missing: no heartbeat)" if set(pending) <= missing else "",
            )

    def on_test_stop(self) -> None:
        """Collect the finals, write the last row, PREFIX_workers.csv and PREFIX_storms.csv, log the run."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None
        if not self._collecting:
            return
        self.collect_finals()
        self._collecting = False
        gone = self.gone_workers()
        self._warn_vanished(gone)
        totals = self._row("", final=True)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        finals = sum(1 for s in self.totals.workers.values() if s.final)
        logger.info("ws metrics: summed over %d workers (%d sent a final report)", len(self.totals.workers), finals)
        log_summary(totals)
        log_rate_stages(self.rate_hold.results())
        storms = merge_storms(s.storms for s in self.totals.workers.values())
        log_storms(storms)
        prefix = current_config(self.environment).csv_prefix
        if prefix:
            write_workers(run_file(prefix, WORKERS_CSV), self.totals.workers, gone, time.monotonic())
            if storms:
                write_storms(run_file(prefix, STORMS_CSV), storms, self._started_wall)

    def _warn_vanished(self, gone: set[str]) -> None:
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
