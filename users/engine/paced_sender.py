"""Pure: the process's open-model schedule: intended send times, with skipped and late calls counted."""

from __future__ import annotations

from users.engine.load_control import RatePacer
from users.wire.metrics import WsCounters

LATE_AFTER_S = 0.010
"""A paced call sent more than this after its intended time counts as sent late."""


class PacedSender:
    """Wraps a RatePacer: `take` gives the calls due now, `give_back` returns those no connection could take,
    `sent` counts how late the others went out."""

    def __init__(self, max_backlog_s: float, phase: float = 0.0) -> None:
        self.pacer = RatePacer(max_backlog_s=max_backlog_s)
        self.phase = phase
        self._skipped_seen = 0

    def pause(self) -> None:
        """Stop pacing: with no connection to pace on, no backlog accumulates."""
        self.pacer.pause()

    def next_due(self) -> float:
        """The intended time of the next call (inf when paused)."""
        return self.pacer.next_due()

    def take(self, now: float, rate: float, limit: int, counters: WsCounters) -> list[float]:
        """Intended times of the calls due at `now` pacing `rate` calls/s, at most `limit`; calls skipped as
        hopelessly late go into `counters`."""
        pacer = self.pacer
        pacer.set_rate(rate, now, self.phase)
        due = pacer.take_due(now, limit)
        if pacer.skipped != self._skipped_seen:
            counters.calls_skipped += pacer.skipped - self._skipped_seen
            self._skipped_seen = pacer.skipped
        return due

    def give_back(self, unsent: list[float]) -> None:
        """The tail of what `take` gave that was not sent: due again from its first."""
        if unsent:
            self.pacer.rewind(unsent[0])

    @staticmethod
    def sent(now: float, first: float, count: int, late: int, counters: WsCounters) -> None:
        """`count` calls sent at `now`, the oldest intended at `first`, `late` of them more than LATE_AFTER_S
        behind: the worst lag and the late calls go into `counters`."""
        if count:
            lag_ms = (now - first) * 1000.0
            if lag_ms > counters.schedule_lag_ms:
                counters.schedule_lag_ms = lag_ms
            counters.calls_sent_late += late
