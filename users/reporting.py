"""Locust hooks: fail fast on bad options, and report each run by the process's role (local, worker, master).

A single process (LocalRunner) samples its own counters every 100 ms and writes
PREFIX_ws.csv each second. A worker samples the same way but writes no CSV: its
counters ride on Locust's worker reports, and a final report follows when its
users have stopped. The master sums them (users.telemetry.master_reporter). `Reporting`
is what the locustfile registers: it picks the role at init and is what the web
UI tab and the terminal read.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
import psutil
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from run_files import STORMS_CSV, run_file
from users import integration
from users.engine.load_control import LoadSource
from users.load.config import config_state, current_config, install_config, refresh_config
from users.load.memory_bound import machine_memory, memory_warning
from users.load.rate_share import follow_rate_share
from users.load.runtime import runtime_for
from users.telemetry.aggregation import WS_REPORT_KEY, worker_payload
from users.telemetry.exports import register_exports
from users.telemetry.master_reporter import STOP_MESSAGE, MasterReporter
from users.telemetry.run_log import log_rate_stages, log_storms, log_summary
from users.telemetry.run_record import RunRecorder
from users.telemetry.sampler import SAMPLE_EVERY_S, RunSampler, reset_window_gauges
from users.telemetry.terminal import register_terminal
from users.telemetry.ws_csv import WsCsvWriter, write_storms, ws_csv_for
from users.web.web_form import PlanCheck
from users.web.web_tab import install_web_tab
from users.wire.metrics import WsCounters

logger = logging.getLogger(__name__)

ROWS_EVERY_SAMPLES = 10


def warn_on_memory(environment: Environment, **_: Any) -> None:
    """`init` listener (after install_config, which ends Locust on a bad option): one warning line when users x
    --max-message-bytes exceeds this machine's memory (a single process: a master's users run elsewhere)."""
    config = config_state(environment).config
    if config is None or isinstance(environment.runner, (WorkerRunner, MasterRunner)):
        return
    warning = memory_warning(config.num_users, config.max_message_bytes, machine_memory())
    if warning:
        logger.warning(warning)


class ProcessReporter:
    """What a process with users does each run: count from zero, sample every 100 ms, log the end."""

    def __init__(self, environment: Environment, load_source: LoadSource | None) -> None:
        self.environment = environment
        self.load_source = load_source
        self.sampler = RunSampler(load_source)
        self._process = psutil.Process()
        self._greenlet: gevent.Greenlet | None = None
        self._started_wall = time.time()

    @property
    def counters(self) -> WsCounters:
        """This process's counters for the current run."""
        return runtime_for(self.environment).counters

    def snapshot(self) -> dict[str, float]:
        """The counters this process shows."""
        return self.counters.snapshot()

    def workers_line(self) -> str | None:
        """Only a master has workers."""
        return None

    def on_test_start(self, new_run: bool = True) -> None:
        """Count from zero (unless users already count: a run that started before init) and sample every
        SAMPLE_EVERY_S."""
        if new_run:
            runtime_for(self.environment).new_run()
        self.sampler = RunSampler(self.load_source)
        self._started_wall = time.time()
        self._greenlet = gevent.spawn(self._sample_forever, self.counters)

    def _sample_forever(self, counters: WsCounters) -> None:
        next_tick = time.perf_counter()
        samples = 0
        while True:
            next_tick += SAMPLE_EVERY_S
            gevent.sleep(max(0.0, next_tick - time.perf_counter()))
            stage = self.sampler.sample(counters, time.perf_counter())
            samples += 1
            if samples % ROWS_EVERY_SAMPLES == 0:
                self.every_second(counters, stage)

    def every_second(self, counters: WsCounters, stage: str) -> None:
        """Called after every tenth sample."""

    def stop_sampling(self) -> None:
        """End the sampling greenlet."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None


class LocalReporter(ProcessReporter):
    """A single process: PREFIX_ws.csv rows each second and a final one, the ledger and storms at the end."""

    def __init__(self, environment: Environment, load_source: LoadSource | None) -> None:
        super().__init__(environment, load_source)
        self._writer: WsCsvWriter | None = None

    def on_test_start(self, new_run: bool = True) -> None:
        super().on_test_start(new_run)
        self._writer = ws_csv_for(current_config(self.environment), self._started_wall)

    def every_second(self, counters: WsCounters, stage: str) -> None:
        if self._writer is not None:
            self._writer.write_row(time.time(), counters.snapshot(), stage, self._process.memory_info().rss)
        reset_window_gauges(counters)

    def on_test_stop(self) -> None:
        self.stop_sampling()
        counters = self.counters
        if self._writer is not None:
            self._writer.write_row(time.time(), counters.snapshot(), "", self._process.memory_info().rss)
            self._writer.close()
            self._writer = None
        log_summary(counters.snapshot())
        log_rate_stages(self.sampler.rate_hold.results())
        storms = self.sampler.storms()
        log_storms(storms)
        prefix = current_config(self.environment).csv_prefix
        if prefix and storms:
            write_storms(run_file(prefix, STORMS_CSV), storms, self._started_wall)


class WorkerReporter(ProcessReporter):
    """A worker: its counters ride on Locust's reports to the master; a final report when its users stop."""

    def __init__(self, environment: Environment, load_source: LoadSource | None) -> None:
        super().__init__(environment, load_source)
        self._reporting = False
        self._last_final: dict[str, Any] | None = None
        runner = environment.runner
        assert isinstance(runner, WorkerRunner)
        self.runner = runner
        integration.report_each_second()
        environment.events.report_to_master.add_listener(self.on_report_to_master)
        runner.register_message(STOP_MESSAGE, self.on_stop_message)
        follow_rate_share(environment)

    def on_test_start(self, new_run: bool = True) -> None:
        super().on_test_start(new_run)
        self._reporting = True
        self._last_final = None

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        """Add this process's counters to Locust's report while a run is going."""
        if self._reporting:
            data[WS_REPORT_KEY] = self._payload(final=False)

    def _payload(self, final: bool) -> dict[str, Any]:
        counters = self.counters
        storms = self.sampler.storms() if final else []
        payload = worker_payload(counters.snapshot(), self._process.memory_info().rss, final, storms, time.time())
        reset_window_gauges(counters)
        return payload

    def on_test_stop(self) -> None:
        self.stop_sampling()
        if self._reporting:
            log_summary(self.counters.snapshot(), "this worker's ")
            self._send_final_report()

    def _send_final_report(self) -> None:
        """One Locust report now, with the last request stats and our final counters."""
        data: dict[str, Any] = {}
        self._reporting = False
        self.environment.events.report_to_master.fire(client_id=self.runner.client_id, data=data)
        data[WS_REPORT_KEY] = self._last_final = self._payload(final=True)
        integration.send_worker_report(self.runner, data)

    def on_stop_message(self, environment: Environment, msg: Any, **_: Any) -> None:
        """The master wants the final report now; stop the users (the report follows) or resend it."""
        runner = self.runner
        if runner.state in (STATE_SPAWNING, STATE_RUNNING):
            gevent.spawn(runner.stop)  # its test_stop sends the final report
            return
        if self._reporting:
            return  # stopping right now: the final report follows from test_stop
        data: dict[str, Any] = {}
        environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        data[WS_REPORT_KEY] = self._last_final or worker_payload(self.counters.snapshot(), 0, True)
        integration.send_worker_report(runner, data)


Role = LocalReporter | WorkerReporter | MasterReporter


class Reporting:
    """What the locustfile registers: picks the role at init and passes the run's events to it."""

    def __init__(self, load_source: LoadSource | None = None) -> None:
        self.load_source = load_source
        self.role: Role | None = None

    def on_init(self, environment: Environment, **_: Any) -> None:
        """The role follows the runner."""
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            self.role = MasterReporter(environment, self.load_source)
        elif isinstance(runner, WorkerRunner):
            self.role = WorkerReporter(environment, self.load_source)
            if runner.worker_state in (STATE_SPAWNING, STATE_RUNNING):
                # A worker joining a run can get its spawn message, and start its users, before init: its
                # users already count, so this run is reported from here on without counting from zero.
                self.role.on_test_start(new_run=False)
        else:
            self.role = LocalReporter(environment, self.load_source)

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if self.role is not None:
            self.role.on_test_start()

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if self.role is not None:
            self.role.on_test_stop()

    def snapshot(self) -> dict[str, float]:
        """The counters this process shows: its own, or (master) every worker's summed."""
        return self.role.snapshot() if self.role is not None else WsCounters().snapshot()

    def workers_line(self) -> str | None:
        """Master: how many workers report, for the web UI; None elsewhere."""
        return self.role.workers_line() if self.role is not None else None

    def workers_without_final(self) -> list[str]:
        """Master: workers of this run whose final report never came; empty elsewhere."""
        if not isinstance(self.role, MasterReporter):
            return []
        return sorted(w for w, state in self.role.totals.workers.items() if not state.final)


def register_reporting(
    events: Any, load_source: LoadSource | None = None, plan_check: PlanCheck | None = None
) -> Reporting:
    """Attach option checking, run reporting and the web UI tab to Locust's events; `plan_check` (the scenarios'
    plan_for, from the locustfile) checks the plan a web UI start form makes."""
    reporting = Reporting(load_source)
    events.init.add_listener(install_config)  # first: every other part reads the RunConfig it builds
    events.test_start.add_listener(refresh_config)  # first: the options of the run that starts
    events.init.add_listener(warn_on_memory)
    events.init.add_listener(reporting.on_init)
    events.init.add_listener(lambda environment, **_: install_web_tab(environment, load_source, reporting, plan_check))
    events.test_start.add_listener(reporting.on_test_start)
    events.test_stop.add_listener(reporting.on_test_stop)
    terminal = register_terminal(events, reporting, load_source)  # after the reporter: its final counters first
    register_exports(events, reporting)  # Prometheus and OpenTelemetry read the same summed counters as ws.csv
    recorder = RunRecorder(lambda: terminal.stop_reason, reporting.workers_without_final)
    events.test_start.add_listener(recorder.on_test_start)
    events.test_stop.add_listener(recorder.on_test_stop)  # last: after the final row and the verdict
    return reporting
