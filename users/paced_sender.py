"""Pure: one user's open-model schedule: its intended send times, with skipped and late calls counted."""

from __future__ import annotations

from users.load_control import RatePacer
from users.metrics import WsCounters

LATE_AFTER_S = 0.010
"""A paced call sent more than this after its intended time counts as sent late."""


class PacedSender:
    """Wraps a RatePacer for one user: `due` gives the calls to send now and counts what the schedule missed."""

    def __init__(self, max_backlog_s: float, phase: float) -> None:
        self.pacer = RatePacer(max_backlog_s=max_backlog_s)
        self.phase = phase
        self._skipped_seen = 0

    def pause(self) -> None:
        """Stop pacing: an idle, closed-loop or reconnecting user accumulates no backlog."""
        self.pacer.pause()

    def next_due(self) -> float:
        """The intended time of the next call (inf when paused)."""
        return self.pacer.next_due()

    def due(self, now: float, rate: float, room: int, counters: WsCounters) -> list[float]:
        """Intended times of the calls to send at `now` pacing `rate` calls/s, at most `room` of them; calls
        skipped as hopelessly late, the worst lag and calls sent late go into `counters`."""
        pacer = self.pacer
        pacer.set_rate(rate, now, self.phase)
        due = pacer.take_due(now, room)
        if pacer.skipped != self._skipped_seen:
            counters.calls_skipped += pacer.skipped - self._skipped_seen
            self._skipped_seen = pacer.skipped
        if due:
            lag = now - due[0]
            if lag * 1000.0 > counters.schedule_lag_ms:
                counters.schedule_lag_ms = lag * 1000.0
            if lag > LATE_AFTER_S:
                counters.calls_sent_late += sum(1 for t in due if now - t > LATE_AFTER_S)
        return due
