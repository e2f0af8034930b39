"""Closing Locust's CSV files ends its writer greenlet first: nothing writes to a closed file during shutdown."""

from __future__ import annotations

from pathlib import Path

import gevent
import locust
import pytest
from locust import stats as locust_stats
from locust.env import Environment

from users import integration
from users.integration import csv_rows


@pytest.fixture
def writer(tmp_path: Path) -> locust_stats.StatsCSVFileWriter:
    assert integration.install() is True
    environment = Environment(events=locust.events)
    environment.create_local_runner()
    return locust_stats.StatsCSVFileWriter(environment, locust_stats.PERCENTILES_TO_REPORT, str(tmp_path / "run"))


def test_the_writer_greenlet_is_ended_before_the_files_close(writer: locust_stats.StatsCSVFileWriter) -> None:
    errors: list[BaseException] = []
    greenlet = gevent.spawn(writer.stats_writer)
    greenlet.link_exception(lambda g: errors.append(g.exception))
    gevent.sleep(0.05)  # it wrote its headers and sleeps for a second
    writer.close_files()
    gevent.sleep(locust_stats.CSV_STATS_INTERVAL_SEC + 0.5)  # where it used to wake and write to a closed file
    assert greenlet.dead and not errors, errors
    assert writer.requests_csv_filehandle.closed


def test_without_the_patch_the_race_is_real(writer: locust_stats.StatsCSVFileWriter) -> None:
    """Locust's own close_files leaves the greenlet to fail: what the patch prevents."""
    integration.uninstall()
    try:
        greenlet = gevent.spawn(writer.stats_writer)
        gevent.sleep(0.05)
        writer.close_files()
        gevent.sleep(locust_stats.CSV_STATS_INTERVAL_SEC + 0.5)
        assert greenlet.dead and isinstance(greenlet.exception, ValueError)
    finally:
        integration.install()
    assert locust_stats.StatsCSVFileWriter.stats_writer is csv_rows._tracked_stats_writer
