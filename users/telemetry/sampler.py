"""What a user process samples every 100 ms: plan gauges, the sending peak, storm recovery and rate stages."""

from __future__ import annotations

import time
from typing import Any

from users.engine.load_control import LoadSource
from users.load.rate_hold import RateHold
from users.load.recovery import RecoveryTracker
from users.load.storms import StormEdges
from users.wire.metrics import WsCounters

SAMPLE_EVERY_S = 0.1
STORM_MODES = ("client", "server")
"""Storms of both modes start a recovery measurement."""


class RunSampler:
    """One run's samples of one process; `sample` is called with the time (perf_counter) passed in."""

    def __init__(self, load_source: LoadSource | None) -> None:
        self.load_source = load_source
        self.recovery = RecoveryTracker()
        self.rate_hold = RateHold()
        self._storm_edges = StormEdges(STORM_MODES)
        self._wall_offset = time.time() - time.perf_counter()

    def sample(self, counters: WsCounters, now: float) -> str:
        """Update plan gauges, storm recovery and rate stages; returns the current stage name."""
        point = self.load_source.point() if self.load_source is not None else None
        stage = ""
        if point is not None:
            stage = point.stage
            counters.rate_target = point.rate or 0.0
            counters.active_users = point.active_users
            self.rate_hold.observe(
                now, point.stage_index, point.stage, counters.rate_target, counters.calls.sent, point.stage_elapsed_s
            )
        if self._storm_edges.storm_now(point):
            self.recovery.storm(now)
        self.recovery.sample(now, counters.calls.ok)
        sending = len(counters.sending)
        counters.sending.clear()
        if sending > counters.users_sending_peak:
            counters.users_sending_peak = sending
        return stage

    def storms(self) -> list[dict[str, Any]]:
        """The storms seen, `at` in wall-clock seconds."""
        return [
            {
                "at": s.at + self._wall_offset,
                "baseline_per_s": s.baseline_per_s,
                "recovered_after_s": s.recovered_after_s,
            }
            for s in self.recovery.storms
        ]


def reset_window_gauges(counters: WsCounters) -> None:
    """Start a new window for the gauges that hold the worst value since the last row or report."""
    counters.schedule_lag_ms = 0.0
    counters.users_sending_peak = 0
