"""Every touch of Locust's internals, installed by one call that first checks Locust's version.

`install()` (the locustfile's first act) applies PATCHES on the Locust versions the tests prove
(TESTED_LOCUST); on any other version it warns once and keeps Locust's own code paths, except its documented
extension point `bucket_response_time` (the 0.01 ms buckets), which any version may replace. Nothing else in
this project reads or replaces a private name of Locust's: runner messages, events and web UI hooks are its
public API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import locust
import locust.argument_parser
import locust.runners
import locust.stats
from locust.env import Environment

from users.integration import csv_rows, stats_path, task_queue

logger = logging.getLogger(__name__)

TESTED_LOCUST = ((2, 47),)
"""(major, minor) versions of Locust the test suite runs against (requirements.txt pins one of them)."""
WORKER_REPORT_INTERVAL_S = 1.0
"""Workers send Locust's report (request stats and our counters) this often; Locust's default is 3 s, which
would make the master's one-second PREFIX_ws.csv rows move in three-second steps."""


@dataclass(frozen=True)
class Patch:
    """One replacement of Locust's code: what it replaces and why."""

    name: str
    replaces: str
    why: str
    internal: bool
    """True when it touches a private name (installed only on TESTED_LOCUST versions)."""


PATCHES = (
    Patch("fine buckets", "locust.stats.bucket_response_time", "0.01 ms latency resolution below 10 ms", False),
    Patch("fused logging", "StatsEntry.log, RequestStats.log_request", "one clock read and bucket per request", True),
    Patch("CSV percentiles", "StatsCSV._percentile_fields", "percentiles with two decimals below 100 ms", True),
    Patch("final CSV rows", "StatsCSVFileWriter.close_files", "the run's last second in PREFIX_stats.csv", True),
    Patch(
        "CSV overwrite warning",
        "StatsCSVFileWriter.__init__",
        "one warning line when --csv PREFIX already holds an earlier run's files (Locust truncates them silently)",
        True,
    ),
    Patch(
        "CSV writer ends first",
        "StatsCSVFileWriter.stats_writer",
        "its greenlet is ended before the files close, not left to write to a closed file during shutdown",
        True,
    ),
    Patch("report interval", "locust.runners.WORKER_REPORT_INTERVAL", "workers report each second, not 3 s", True),
    Patch(
        "quiet stats table",
        "locust.stats.CONSOLE_STATS_INTERVAL_SEC",
        "headless progress lines instead of Locust's request table every 2 s (kept with --stats-table)",
        True,
    ),
    Patch(
        "request shortcut", "EventHook._handlers (read only)", "skip the event while Locust's stats listen alone", True
    ),
    Patch(
        "spawn message options",
        "locust.argument_parser.default_args_dict",
        "memoized: a worker rebuilt Locust's whole parser for every option of every spawn message, stalling it "
        "for about half a second each",
        True,
    ),
    Patch("final worker report", "the worker->master 'stats' message", "a worker's last report sent on stop", True),
    Patch(
        "small task queue",
        "TaskSet.__init__ (its _task_queue)",
        "a list, not a deque whose first block is about 700 B per user (idle connections: memory per connection)",
        True,
    ),
)


@dataclass(frozen=True)
class Mirror:
    """Code of ours that copies a private behaviour of Locust's (it exposes no API for it): run only on
    TESTED_LOCUST versions (`tested()`), whose behaviour the tests prove it matches."""

    name: str
    mirrors: str
    why: str


MIRRORS = (
    Mirror(
        "start form values",
        "WebUI's POST /swarm turning form values into parsed options (web_ui.swarm_options)",
        "the form's values are checked like the command line before /swarm: a bad value is one message in the "
        "form, not a stopped run",
    ),
)


ORIGINAL_DEFAULT_ARGS = locust.argument_parser.default_args_dict
_DEFAULT_ARGS: list[dict[str, Any]] = []


def memoized_default_args() -> dict[str, Any]:
    """Locust's `default_args_dict()` (its own options' defaults), built once: callers test membership in it, and
    a worker calls it once per option of every spawn message (runners.WorkerRunner.handle_message)."""
    if not _DEFAULT_ARGS:
        _DEFAULT_ARGS.append(ORIGINAL_DEFAULT_ARGS())
    return dict(_DEFAULT_ARGS[0])


class _State:
    version: str | None = None
    internals = False
    warned = False


def supported(version: str) -> bool:
    """Whether `version` (e.g. "2.47.0") is one the tests prove."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) in TESTED_LOCUST


def tested() -> bool:
    """Whether the Locust version install() was given (before it, the installed one) is one the tests prove:
    MIRRORS run only then."""
    return supported(_State.version or locust.__version__)


def install(version: str = locust.__version__) -> bool:
    """Apply PATCHES for Locust `version`; True when the internal ones went in, False (and one warning) when
    this version is untested and Locust's own code paths stay. Idempotent."""
    stats_path.install_fine_buckets()
    _State.version = version
    _State.internals = supported(version)
    if not _State.internals:
        if not _State.warned:
            _State.warned = True
            tested = ", ".join(f"{major}.{minor}.x" for major, minor in TESTED_LOCUST)
            logger.warning(
                "Locust %s is not a version this toolkit is tested with (%s): using Locust's own statistics "
                "path (slower, 2-significant-digit CSV percentiles, no final CSV rows); web UI form values are "
                "checked when the users start, not before",
                version,
                tested,
            )
        return False
    stats_path.install_fused_logging()
    stats_path.install_csv_percentiles()
    csv_rows.install_final_csv_rows()
    task_queue.install_small_task_queue()
    locust.argument_parser.default_args_dict = memoized_default_args
    return True


def uninstall() -> None:
    """Locust's own code paths everywhere (for tests and benchmarks)."""
    stats_path.restore()
    csv_rows.restore()
    task_queue.restore()
    locust.argument_parser.default_args_dict = ORIGINAL_DEFAULT_ARGS
    _State.internals = False


def internals_installed() -> bool:
    """Whether the internal patches are in."""
    return _State.internals


def request_fire(environment: Environment) -> Callable[..., Any]:
    """How clients fire Locust's request event: the shortcut on tested versions, `events.request.fire` else."""
    if _State.internals:
        return stats_path.request_fire(environment)
    return environment.events.request.fire


def report_each_second() -> None:
    """On a worker: send Locust's report every WORKER_REPORT_INTERVAL_S (tested versions only)."""
    if _State.internals:
        locust.runners.WORKER_REPORT_INTERVAL = WORKER_REPORT_INTERVAL_S


def quiet_console_table(seconds: float = 365 * 24 * 3600) -> None:
    """Headless, with our progress lines: Locust's periodic request table every `seconds` instead of 2 s (its
    stats printer reads the constant at each sleep; its final tables still print). Tested versions only."""
    if _State.internals:
        locust.stats.CONSOLE_STATS_INTERVAL_SEC = seconds


def send_worker_report(runner: Any, data: dict[str, Any]) -> None:
    """Worker: send `data` (filled by `events.report_to_master`) to the master now, as Locust's own periodic
    report (its "stats" message, handled there as `events.worker_report`)."""
    runner.send_message("stats", data)
