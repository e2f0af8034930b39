"""users.integration.install: every patch on a tested Locust version, Locust's own code paths on any other."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import locust
import locust.runners
import pytest
from locust import stats as locust_stats
from locust.env import Environment

from users import integration
from users.integration import _State as State
from users.integration import csv_rows, stats_path


@pytest.fixture(autouse=True)
def as_installed_by_the_locustfile(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from Locust's own code and leaves the locustfile's installation as it found it."""
    monkeypatch.setattr(locust.runners, "WORKER_REPORT_INTERVAL", locust.runners.WORKER_REPORT_INTERVAL)
    monkeypatch.setattr(State, "warned", False)
    integration.uninstall()
    yield
    integration.install()


def test_the_pinned_locust_is_a_tested_version() -> None:
    assert integration.supported(locust.__version__), locust.__version__
    assert integration.install() is True


def test_a_tested_version_gets_every_patch(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert integration.install("2.47.3") is True
    assert not caplog.records
    assert locust_stats.StatsEntry.log is stats_path.log
    assert locust_stats.RequestStats.log_request is stats_path.log_request
    assert locust_stats.bucket_response_time is stats_path.fine_bucket_response_time
    assert locust_stats.StatsCSV._percentile_fields is stats_path._percentile_fields
    assert locust_stats.StatsCSVFileWriter.close_files is csv_rows._close_files_with_final_rows
    assert locust.argument_parser.default_args_dict is integration.memoized_default_args
    environment = Environment(events=locust.events)
    environment.create_local_runner()
    assert integration.request_fire(environment) is not environment.events.request.fire
    integration.report_each_second()
    assert locust.runners.WORKER_REPORT_INTERVAL == integration.WORKER_REPORT_INTERVAL_S


@pytest.mark.parametrize("version", ["2.48.0", "3.0.1", "2.46.9", "dev"])
def test_another_version_warns_once_and_keeps_locusts_own_paths(caplog: pytest.LogCaptureFixture,
                                                                version: str) -> None:  # fmt: skip
    interval = locust.runners.WORKER_REPORT_INTERVAL
    with caplog.at_level(logging.WARNING):
        assert integration.install(version) is False
        assert integration.install(version) is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"Locust {version} is not a version" in warnings[0]
    assert locust_stats.StatsEntry.log is stats_path.ORIGINAL_LOG
    assert locust_stats.RequestStats.log_request is stats_path.ORIGINAL_LOG_REQUEST
    assert locust_stats.StatsCSV._percentile_fields is stats_path.ORIGINAL_PERCENTILE_FIELDS
    assert locust_stats.StatsCSVFileWriter.close_files is csv_rows._ORIGINAL_CLOSE
    assert locust.argument_parser.default_args_dict is integration.ORIGINAL_DEFAULT_ARGS
    assert locust_stats.bucket_response_time is stats_path.fine_bucket_response_time  # documented: any version
    environment = Environment(events=locust.events)
    assert integration.request_fire(environment) == environment.events.request.fire
    integration.report_each_second()
    assert locust.runners.WORKER_REPORT_INTERVAL == interval


def test_every_patch_says_what_it_replaces() -> None:
    assert len({p.name for p in integration.PATCHES}) == len(integration.PATCHES)
    assert all(p.replaces and p.why for p in integration.PATCHES)
    assert [p.name for p in integration.PATCHES if not p.internal] == ["fine buckets"]


def test_locusts_default_options_are_built_once_and_stay_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = integration.ORIGINAL_DEFAULT_ARGS

    def counting() -> dict:
        calls.append(1)
        return original()

    monkeypatch.setattr(integration, "ORIGINAL_DEFAULT_ARGS", counting)
    monkeypatch.setattr(integration, "_DEFAULT_ARGS", [])
    first = integration.memoized_default_args()
    first["num_users"] = -1  # a caller's change does not leak into the next answer
    second = integration.memoized_default_args()
    assert calls == [1]
    assert second == original() and second["num_users"] != -1


def test_every_replacement_install_makes_is_listed() -> None:
    replaced = " ".join(p.replaces for p in integration.PATCHES)
    for name in ("bucket_response_time", "StatsEntry.log", "_percentile_fields", "close_files", "stats_writer",
                 "WORKER_REPORT_INTERVAL", "CONSOLE_STATS_INTERVAL_SEC", "_handlers", "default_args_dict", "'stats'"):  # fmt: skip
        assert name in replaced, name
