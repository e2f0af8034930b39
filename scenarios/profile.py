"""Pure load plans: stages as data, and what the load should be at any elapsed time (no clock, no locust)."""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

STAGE_KINDS = ("sustained", "burst", "reconnect", "step", "ramp", "soak", "rate", "churn")
STORM_MODES = ("client", "server")


@dataclass(frozen=True, slots=True)
class Point:
    """The load a plan asks for at one moment.

    `users` is what Locust should have connected; `active_users` how many of
    them send (burst users connect ahead and wait for their spike); `rate` is
    an open-model target in calls/s for the whole run, or None for closed loop;
    `storm_epoch` counts reconnect storms so far in this stage;
    `until_change_s` is how long this point stays as it is (idle users sleep that long);
    `session_rate` is a churn stage's new sessions/s for the whole run (an open model for connections).
    """

    stage: str
    stage_index: int
    users: int
    spawn_rate: float
    active_users: int
    rate: float | None = None
    storm_epoch: int = 0
    storm_fraction: float = 0.0
    storm_mode: str = "client"
    step_index: int = 0
    stage_elapsed_s: float = 0.0
    until_change_s: float = math.inf
    session_rate: float | None = None


@dataclass(frozen=True)
class Stage:
    """One stage of a plan; the fields a kind does not use keep their defaults.

    sustained/soak: `users` at `spawn_rate`, held for `duration_s` (with `rate`: paced calls).
    burst: `users` (base) plus `height` users who send only in the last `width_s` of every `period_s`.
    reconnect: every `interval_s`, `fraction` of connections drop (`mode` client or server) and reconnect.
    step/ramp: from `users` (or `rate`), add `step_users` (or `step_rate`) every `step_s` up to
      `max_users` (`max_rate`), stopping early at the knee (`knee_p99_ms`, `knee_error_rate`).
    rate: `rate` calls/s spread over `users` connections.
    churn: `session_rate` new sessions/s (connect, hello, the session's calls, close), started on schedule by
      whichever of the `users` is free; a session that cannot start on time starts late and is counted.
    """

    kind: str
    duration_s: float
    users: int
    spawn_rate: float
    name: str = ""
    rate: float | None = None
    height: int = 0
    width_s: float = 1.0
    period_s: float = 10.0
    interval_s: float = 10.0
    fraction: float = 1.0
    mode: str = "client"
    step_users: int = 0
    step_rate: float = 0.0
    step_s: float = 10.0
    max_users: int = 0
    max_rate: float = 0.0
    knee_p99_ms: float = 100.0
    knee_error_rate: float = 0.01
    session_rate: float | None = None

    @property
    def label(self) -> str:
        """The stage's display name."""
        return self.name or self.kind

    @property
    def connections(self) -> int:
        """Users Locust keeps connected during the stage (burst users included)."""
        if self.kind == "burst":
            return self.users + self.height
        return self.users

    @property
    def steps(self) -> int:
        """How many steps a step/ramp stage has in its duration."""
        return max(1, math.ceil(self.duration_s / self.step_s - 1e-9))

    def point(self, t: float, index: int) -> Point:
        """The load `t` seconds into this stage."""
        left = self.duration_s - t
        base = Point(
            self.label,
            index,
            self.users,
            self.spawn_rate,
            self.users,
            self.rate,
            stage_elapsed_s=t,
            until_change_s=left,
        )
        if self.kind == "burst":
            phase = t % self.period_s
            spike_start = self.period_s - self.width_s
            spiking = phase >= spike_start
            rate = self.rate
            if rate is not None and spiking:
                rate = rate * (self.users + self.height) / max(1, self.users)
            return replace(
                base,
                users=self.users + self.height,
                active_users=self.users + (self.height if spiking else 0),
                rate=rate,
                until_change_s=min(left, (self.period_s if spiking else spike_start) - phase),
            )
        if self.kind == "reconnect":
            return replace(
                base,
                storm_epoch=int(t // self.interval_s),
                storm_fraction=self.fraction,
                storm_mode=self.mode,
                until_change_s=min(left, self.interval_s - t % self.interval_s),
            )
        if self.kind == "churn":
            return replace(base, session_rate=self.session_rate)
        if self.kind in ("step", "ramp"):
            step = min(int(t // self.step_s), self.steps - 1)
            users = self.users + step * self.step_users
            if self.max_users:
                users = min(users, self.max_users)
            rate = self.rate
            if rate is not None:
                rate = rate + step * self.step_rate
                if self.max_rate:
                    rate = min(rate, self.max_rate)
            next_step = left if step == self.steps - 1 else self.step_s - t % self.step_s
            return replace(
                base, users=users, active_users=users, rate=rate, step_index=step, until_change_s=min(left, next_step)
            )
        return base

    def as_dict(self) -> dict[str, Any]:
        """Plain data for messages and logs."""
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """Stages run one after another; `at(t)` is the load at `t` seconds, None once the plan is over."""

    stages: tuple[Stage, ...]
    _ends: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ends: list[float] = []
        total = 0.0
        for stage in self.stages:
            total += stage.duration_s
            ends.append(total)
        object.__setattr__(self, "_ends", tuple(ends))

    @property
    def duration_s(self) -> float:
        """Total length of the plan."""
        return self._ends[-1] if self._ends else 0.0

    def stage_start(self, index: int) -> float:
        """Elapsed time at which stage `index` begins."""
        return self._ends[index - 1] if index else 0.0

    def at(self, t: float) -> Point | None:
        """The load at `t` seconds after the plan started."""
        if t < 0:
            t = 0.0
        index = bisect.bisect_right(self._ends, t)
        if index >= len(self.stages):
            return None
        return self.stages[index].point(t - self.stage_start(index), index)

    def ended(self) -> Point:
        """The load once the plan is over and Locust has not stopped the users yet: connected, none sending."""
        last = self.stages[-1] if self.stages else None
        users = last.connections if last is not None else 0
        spawn_rate = last.spawn_rate if last is not None else 1.0
        return Point("", len(self.stages), users, spawn_rate, active_users=0)

    def to_data(self) -> list[dict[str, Any]]:
        """The plan as plain data (sent to workers in distributed runs)."""
        return [stage.as_dict() for stage in self.stages]

    @classmethod
    def from_data(cls, data: list[dict[str, Any]]) -> Plan:
        """Rebuild a plan sent by `to_data`."""
        known = {f.name for f in fields(Stage)}
        return cls(tuple(Stage(**{k: v for k, v in item.items() if k in known}) for item in data))
