"""Fixtures of the users tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from locust import stats as locust_stats

from tests.support.stats_state import Clock
from users.integration import stats_path


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A clock for Locust's stats and users.integration.stats_path; their logging functions are put back afterwards."""
    clock = Clock(1_800_000_000.25)
    fake_time = SimpleNamespace(time=clock.time)
    monkeypatch.setattr(locust_stats, "time", fake_time)
    monkeypatch.setattr(stats_path, "time", fake_time)
    monkeypatch.setattr(locust_stats.StatsEntry, "log", locust_stats.StatsEntry.log)
    monkeypatch.setattr(locust_stats.RequestStats, "log_request", locust_stats.RequestStats.log_request)
    return clock
