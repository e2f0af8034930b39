"""Pure: did each rate stage hold its target? Achieved calls/s from 3 s after the stage starts, time passed in."""

from __future__ import annotations

from dataclasses import dataclass

SETTLE_S = 3.0
"""A rate stage is judged from this long after it starts (users connect, pacers start)."""
TOLERANCE = 0.05
"""Held: achieved calls/s within this fraction of the target."""
MIN_WINDOW_S = 1.0
"""A shorter judging window is too short to say."""


@dataclass
class StageRate:
    """One rate stage as observed: its mean target and what was sent over the judging window."""

    index: int
    label: str
    started_at: float
    window_start: tuple[float, float] | None = None
    """(time, calls sent) when judging began."""
    window_end: tuple[float, float] | None = None
    target_integral: float = 0.0
    """Target calls/s integrated over the window (the target may step within a stage)."""
    _last_t: float | None = None
    _last_target: float = 0.0

    @property
    def seconds(self) -> float:
        """Length of the judging window."""
        if self.window_start is None or self.window_end is None:
            return 0.0
        return self.window_end[0] - self.window_start[0]

    @property
    def judged(self) -> bool:
        """Whether the window was long enough to judge."""
        return self.seconds >= MIN_WINDOW_S

    @property
    def target(self) -> float:
        """Mean target calls/s over the window."""
        return self.target_integral / self.seconds if self.seconds > 0 else self._last_target

    @property
    def achieved(self) -> float:
        """Calls sent per second over the window."""
        if not self.judged:
            return 0.0
        assert self.window_start is not None and self.window_end is not None
        return (self.window_end[1] - self.window_start[1]) / self.seconds

    @property
    def held(self) -> bool:
        """Achieved within TOLERANCE of the target."""
        return self.judged and abs(self.achieved - self.target) <= TOLERANCE * self.target

    def describe(self) -> str:
        """One line: achieved vs target."""
        if not self.judged:
            return f"rate stage {self.label!r}: too short to judge (judged from {SETTLE_S:g} s after its start)"
        verdict = "held" if self.held else "NOT held"
        return (
            f"rate stage {self.label!r}: {self.achieved:,.0f} calls/s of {self.target:,.0f} target "
            f"({100.0 * self.achieved / self.target:.1f}%) over {self.seconds:.1f} s from {SETTLE_S:g} s after "
            f"its start: {verdict}"
        )


class RateHold:
    """Follows a run point by point and keeps, for each stage with a rate target, what it achieved."""

    def __init__(self) -> None:
        self.stages: dict[int, StageRate] = {}

    def observe(
        self,
        now: float,
        stage_index: int,
        label: str,
        rate_target: float,
        calls_sent: float,
        stage_elapsed_s: float | None = None,
    ) -> None:
        """The run at `now`: `stage_elapsed_s` into stage `stage_index` (None: it started at the first look) with
        `rate_target` calls/s (0: none), `calls_sent` so far."""
        if rate_target <= 0:
            return
        stage = self.stages.get(stage_index)
        if stage is None:
            started_at = now - (stage_elapsed_s or 0.0)
            stage = self.stages[stage_index] = StageRate(stage_index, label, started_at=started_at)
        if now < stage.started_at + SETTLE_S:
            stage._last_target = rate_target
            return
        if stage.window_start is None:
            stage.window_start = (now, calls_sent)
        elif stage._last_t is not None:
            stage.target_integral += stage._last_target * (now - stage._last_t)
        stage.window_end = (now, calls_sent)
        stage._last_t, stage._last_target = now, rate_target

    def results(self) -> list[StageRate]:
        """Every rate stage seen, in plan order."""
        return [self.stages[i] for i in sorted(self.stages)]
