"""What the exporters (Prometheus, OpenTelemetry) read: the run's summed counters, Locust's stats, thresholds."""

from __future__ import annotations

import time
from typing import Any

from locust.env import Environment

from analysis.thresholds import ThresholdError, judge_all, parse_thresholds
from users.load.config import current_config
from users.telemetry.prometheus_export import RunSources
from users.telemetry.thresholds import run_figures


class RunReadings:
    """The sources an exporter reads on each collection, and the run's clock (for rate thresholds)."""

    def __init__(self, reporting: Any) -> None:
        self.reporting = reporting
        self._started = time.monotonic()
        self._stopped: float | None = None

    def sources(self, environment: Environment) -> RunSources:
        """The same summed counters PREFIX_ws.csv is written from, Locust's (aggregated) stats, users, thresholds."""
        return RunSources(
            counters=self.reporting.snapshot,
            stats=lambda: environment.stats,
            users=lambda: environment.runner.user_count if environment.runner is not None else 0,
            thresholds=lambda: self.thresholds(environment),
        )

    def thresholds(self, environment: Environment) -> dict[str, bool]:
        """Each --threshold's text -> failing now (judged on the run so far)."""
        try:
            thresholds = parse_thresholds(current_config(environment).threshold)
        except ThresholdError:
            return {}
        if not thresholds:
            return {}
        end = self._stopped if self._stopped is not None else time.monotonic()
        figures = run_figures(environment.stats, self.reporting.snapshot(), max(end - self._started, 1e-9))
        return {j.threshold.text: j.passed is False for j in judge_all(thresholds, figures)}

    def on_test_start(self, **_: Any) -> None:
        self._started = time.monotonic()
        self._stopped = None

    def on_test_stop(self, **_: Any) -> None:
        self._stopped = time.monotonic()
