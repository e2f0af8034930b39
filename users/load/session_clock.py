"""Pure start schedule of a churn stage's sessions: one every 1/rate seconds, each claimed by one free user."""

from __future__ import annotations


class SessionClock:
    """When the sessions of a churn stage start, for one process (its share of the plan's sessions/s).

    A free user claims the next start (`claim`) and waits for it; starts follow each other 1/rate apart from the
    stage's first claim, whatever the sessions take, so the rate is an open model for connections. With every
    user busy, claims fall behind the schedule: such a start is already past when claimed (the user counts it
    late). A rate change within the stage (the process's share recomputed) keeps the schedule's place; a new
    stage starts it over. Time is passed in.
    """

    __slots__ = ("_stage", "_next")

    def __init__(self) -> None:
        self._stage: int | None = None
        self._next = 0.0

    def claim(self, stage: int, rate: float, now: float, stage_ends_at: float) -> float | None:
        """The next start (perf_counter time, possibly past), now taken; None when it falls at or after the
        stage's end, or without a rate."""
        if stage != self._stage:
            self._stage, self._next = stage, now
        due = self._next
        if rate <= 0 or due >= stage_ends_at:
            return None
        self._next = due + 1.0 / rate
        return due
