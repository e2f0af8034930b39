"""Make Locust's CSV files final (internal to users.integration): write the last stats, failures and history rows when the files close.

Locust rewrites PREFIX_stats.csv once a second from a greenlet and, at shutdown,
only closes the files, so the last second of a run (including every call
drained when users stop) is missing from them. This writes them once more.

That greenlet also outlives the files: Locust closes them and then exits, and
anything that yields on the way out (an atexit handler, a `--processes` master
waiting for its workers) lets it wake and write to a closed file
(`ValueError: I/O operation on closed file` after "Shutting down"). Here it is
ended before the files close.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust import stats as locust_stats

from run_files import EARLIER_RUN_SUFFIXES, run_file

logger = logging.getLogger("users.reporting")

_ORIGINAL_CLOSE = locust_stats.StatsCSVFileWriter.close_files
_ORIGINAL_WRITER = locust_stats.StatsCSVFileWriter.stats_writer
_ORIGINAL_INIT = locust_stats.StatsCSVFileWriter.__init__
LOADED_AT = time.time()
"""When the locustfile loaded this (before a --processes master forks its workers): files older are an earlier
run's."""


def earlier_run_files(prefix: str, started_at: float) -> list[str]:
    """Names of files at `prefix` written before `started_at` (when this run's locustfile loaded): an earlier run's,
    not those a --processes worker of this run made a moment ago."""
    found = []
    for suffix in EARLIER_RUN_SUFFIXES:
        path = run_file(prefix, suffix)
        try:
            if path.stat().st_mtime < started_at:
                found.append(path.name)
        except OSError:
            continue
    return found


def _init_warning_of_overwrites(self: Any, environment: Any, percentiles: Any, base_filepath: str,
                                *args: Any, **kwargs: Any) -> None:  # fmt: skip
    options = getattr(environment, "parsed_options", None)
    if not getattr(options, "worker", False):
        earlier = earlier_run_files(base_filepath, LOADED_AT)
        if earlier:
            logger.warning(
                "--csv %s: overwriting an earlier run's files (%s); give a new prefix to keep them",
                base_filepath,
                ", ".join(earlier),
            )
    _ORIGINAL_INIT(self, environment, percentiles, base_filepath, *args, **kwargs)


WRITER_ATTRIBUTE = "_ws_writer_greenlet"


def _tracked_stats_writer(self: Any) -> None:
    """Locust's stats_writer loop, remembering the greenlet it runs in (so closing the files can end it)."""
    setattr(self, WRITER_ATTRIBUTE, gevent.getcurrent())
    _ORIGINAL_WRITER(self)


def _end_writer(self: Any) -> None:
    writer = getattr(self, WRITER_ATTRIBUTE, None)
    if isinstance(writer, gevent.Greenlet) and writer is not gevent.getcurrent() and not writer.dead:
        writer.kill(block=True)


def _close_files_with_final_rows(self: Any) -> None:
    _end_writer(self)
    if not self.requests_csv_filehandle.closed:
        for handle, write_all, writer in (
            (self.requests_csv_filehandle, self.requests_csv, self.requests_csv_writer),
            (self.failures_csv_filehandle, self.failures_csv, self.failures_csv_writer),
            (self.exceptions_csv_filehandle, self.exceptions_csv, self.exceptions_csv_writer),
        ):
            handle.seek(0)
            write_all(writer)
            handle.truncate()
        self._stats_history_data_rows(self.stats_history_csv_writer, time.time())
    _ORIGINAL_CLOSE(self)


def install_final_csv_rows() -> None:
    """Patch `StatsCSVFileWriter.close_files` to write final rows first; idempotent."""
    locust_stats.StatsCSVFileWriter.close_files = _close_files_with_final_rows  # type: ignore[method-assign]
    locust_stats.StatsCSVFileWriter.stats_writer = _tracked_stats_writer  # type: ignore[method-assign]
    locust_stats.StatsCSVFileWriter.__init__ = _init_warning_of_overwrites  # type: ignore[method-assign]


def restore() -> None:
    """Locust's own `close_files`."""
    locust_stats.StatsCSVFileWriter.close_files = _ORIGINAL_CLOSE  # type: ignore[method-assign]
    locust_stats.StatsCSVFileWriter.stats_writer = _ORIGINAL_WRITER  # type: ignore[method-assign]
    locust_stats.StatsCSVFileWriter.__init__ = _ORIGINAL_INIT  # type: ignore[method-assign]
