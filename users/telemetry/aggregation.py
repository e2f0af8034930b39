"""Pure aggregation of the WebSocket counters that workers report to the master (no locust, no clock).

Each worker reports a snapshot of its cumulative `WsCounters` with every Locust
worker report (`events.report_to_master`), and a final one when its users have
stopped. The master keeps each worker's latest snapshot and sums them:
counters are cumulative per worker, so the sum of the latest snapshots is the
run's total, and a worker that leaves keeps its last counters in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_KEYS = frozenset({"schedule_lag_ms", "rate_target", "active_users"})
"""Taken as the maximum over workers: the worst lag behind the schedule, and the plan's own values (the same
in every worker)."""

WINDOW_PEAK_KEYS = frozenset({"schedule_lag_ms", "users_sending_peak"})
"""Gauges a worker resets after each report (the worst value since its last report): the master keeps the
highest value received since its own last row, so a report that arrives between two rows is not lost."""

LIVE_ONLY_KEYS = frozenset({"connections_open", "users_sending_peak", "schedule_lag_ms"})
"""Gauges about the present: a worker that is gone (missing, quit) adds 0 to them. Its calls in flight stay in
`calls_in_flight`: they were sent and never settled, so the ledger `sent = ok + failed + timeout + lost + in flight`
still holds at the master."""

WS_REPORT_KEY = "ws"
"""Key of our payload in a Locust worker report."""


@dataclass
class WorkerState:
    """What the master knows about one worker's counters in the current run."""

    worker_id: str
    counters: dict[str, float]
    rss_bytes: int = 0
    final: bool = False
    reports: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    received_wall: float = 0.0
    """Wall-clock time (the master's) the latest snapshot was received."""
    taken_at: float = 0.0
    """When the latest snapshot's counters were taken, in the master's clock (see `update`)."""
    clock_offset: float | None = None
    """Least (receipt - the worker's own snapshot time) seen: the worker's clock offset plus the shortest delay."""
    peaks: dict[str, float] = field(default_factory=dict)
    storms: list[dict[str, Any]] = field(default_factory=list)


def worker_payload(
    counters: Mapping[str, float],
    rss_bytes: int,
    final: bool,
    storms: Iterable[Mapping[str, Any]] = (),
    at: float | None = None,
) -> dict[str, Any]:
    """The payload a worker adds to its report under WS_REPORT_KEY; `at`: its wall-clock time of the snapshot."""
    payload = {"counters": dict(counters), "rss_bytes": int(rss_bytes), "final": bool(final), "storms": list(storms)}
    if at is not None:
        payload["at"] = float(at)
    return payload


class WorkerTotals:
    """The master's view: each worker's latest snapshot, and their sum. Time is passed in."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = list(keys)
        self.workers: dict[str, WorkerState] = {}

    def reset(self) -> None:
        """Forget every worker (a new run starts)."""
        self.workers = {}

    def update(self, worker_id: str, payload: Mapping[str, Any], now: float, wall: float = 0.0) -> WorkerState:
        """Record a worker's report (`now` monotonic, `wall` wall-clock time of receipt); the latest snapshot
        replaces the previous one (counters are cumulative)."""
        counters = {k: payload["counters"].get(k, 0) for k in self.keys}
        state = self.workers.get(worker_id)
        if state is None:
            state = self.workers[worker_id] = WorkerState(worker_id, counters, first_at=now)
        state.counters = counters
        state.rss_bytes = int(payload.get("rss_bytes", 0))
        state.final = state.final or bool(payload.get("final"))
        state.reports += 1
        state.last_at = now
        state.received_wall = wall
        state.taken_at = wall
        at = payload.get("at")
        if at is not None:
            # A busy worker or master delays a report; the worker's own snapshot time, moved into the master's
            # clock by the least delay seen (as NTP filters by the shortest round trip), says when it was taken.
            delay = wall - float(at)
            state.clock_offset = delay if state.clock_offset is None else min(state.clock_offset, delay)
            state.taken_at = float(at) + state.clock_offset
        if payload.get("storms"):
            state.storms = list(payload["storms"])
        for key in WINDOW_PEAK_KEYS:
            state.peaks[key] = max(state.peaks.get(key, 0), counters.get(key, 0))
        return state

    def pending(self, alive: Iterable[str]) -> list[str]:
        """Workers in `alive` that have not sent their final snapshot yet."""
        return [w for w in alive if not (w in self.workers and self.workers[w].final)]

    def totals(self, gone: Iterable[str] = (), take_peaks: bool = False) -> dict[str, float]:
        """The sum over workers (max for MAX_KEYS); `gone` workers without a final snapshot add nothing to the
        LIVE_ONLY_KEYS gauges (their connections died with them).

        With `take_peaks`, WINDOW_PEAK_KEYS are the highest values reported since the previous call with
        `take_peaks` (one metrics row to the next), and that window starts again.
        """
        gone = set(gone)
        total: dict[str, float] = dict.fromkeys(self.keys, 0)
        for state in self.workers.values():
            vanished = state.worker_id in gone and not state.final
            for key in self.keys:
                value = state.counters.get(key, 0)
                if key in WINDOW_PEAK_KEYS and take_peaks:
                    value = state.peaks.get(key, value)
                if vanished and key in LIVE_ONLY_KEYS:
                    value = 0
                if key in MAX_KEYS:
                    total[key] = max(total[key], value)
                else:
                    total[key] += value
            if take_peaks:
                state.peaks = {}
        return total

    def data_time(self, gone: Iterable[str] = ()) -> float | None:
        """When the summed counters were taken: the mean snapshot time of the workers still reporting (or final).

        Workers report once a second each, at their own moments, so a row stamped with this time has counters
        consistent with its timestamp: the rate between any two rows is true, the last one (final reports a
        fraction of a second after the previous row) included. A gone worker's frozen counters add nothing
        to any interval, so its old time does not count. None before any report.
        """
        gone = set(gone)
        times = [s.taken_at for s in self.workers.values() if s.final or s.worker_id not in gone]
        return sum(times) / len(times) if times else None

    @property
    def rss_bytes(self) -> int:
        """Summed resident memory of the workers, as last reported."""
        return sum(state.rss_bytes for state in self.workers.values())


def merge_storms(storms_by_worker: Iterable[Iterable[Mapping[str, Any]]], within_s: float = 1.0) -> list[dict]:
    """One storm per moment: workers' storms (`at` wall-clock s) within `within_s` of each other are the same one.

    The merged storm starts at the earliest worker's, its baseline is the summed
    calls/s before it, and it has recovered when the slowest worker has (None
    when any worker had not recovered by the end of the run).
    """
    flat = sorted((dict(s) for storms in storms_by_worker for s in storms), key=lambda s: s["at"])
    merged: list[dict[str, Any]] = []
    for storm in flat:
        if merged and storm["at"] - merged[-1]["at"] <= within_s:
            group = merged[-1]
            group["baseline_per_s"] += storm["baseline_per_s"]
            if group["recovered_after_s"] is not None:
                recovered = storm["recovered_after_s"]
                group["recovered_after_s"] = None if recovered is None else max(group["recovered_after_s"], recovered)
            group["workers"] += 1
        else:
            merged.append({**storm, "workers": 1})
    return merged
