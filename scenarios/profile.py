"""Load plans: stages as data and their checks, the load at any elapsed time, and the clock a process follows it by."""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable
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


class PlanError(ValueError):
    """A plan that cannot run; the message names the option or file and stage at fault."""


def stage_problems(stage: Stage) -> list[tuple[str, str]]:
    """(field, message) for every value of `stage` that cannot work."""
    problems: list[tuple[str, str]] = []

    def need(ok: bool, name: str, message: str) -> None:
        if not ok:
            problems.append((name, message))

    need(stage.kind in STAGE_KINDS, "kind", f"unknown stage kind {stage.kind!r} (one of {', '.join(STAGE_KINDS)})")
    need(stage.duration_s > 0, "duration_s", f"duration must be positive, got {stage.duration_s:g} s")
    need(stage.users >= 1, "users", f"needs at least 1 user, got {stage.users}")
    need(stage.spawn_rate > 0, "spawn_rate", f"spawn rate must be positive, got {stage.spawn_rate:g}")
    need(stage.rate is None or stage.rate > 0, "rate", f"rate must be positive calls/s, got {stage.rate}")
    if stage.kind == "rate":
        need(stage.rate is not None, "rate", "a rate stage needs a target: --rate CALLS_PER_S")
    if stage.kind == "churn":
        need(
            stage.session_rate is not None and stage.session_rate > 0,
            "session_rate",
            f"a churn stage needs new sessions/s: --session-rate SESSIONS_PER_S, got {stage.session_rate}",
        )
        need(stage.rate is None, "rate", "a churn stage paces sessions, not calls: no --rate in it")
    if stage.kind == "burst":
        need(stage.height >= 1, "height", f"burst height must be at least 1 user, got {stage.height}")
        need(stage.period_s > 0, "period_s", f"burst period must be positive, got {stage.period_s:g} s")
        need(
            0 < stage.width_s < stage.period_s,
            "width_s",
            f"burst width must be positive and shorter than the period ({stage.period_s:g} s), got {stage.width_s:g} s",
        )
        lead = stage.period_s - stage.width_s
        spawn_time = (stage.users + stage.height) / stage.spawn_rate if stage.spawn_rate > 0 else float("inf")
        need(
            spawn_time < lead,
            "spawn_rate",
            f"{stage.users + stage.height} users at {stage.spawn_rate:g}/s take {spawn_time:.1f} s to connect, "
            f"longer than the {lead:g} s before the first spike: raise the spawn rate",
        )
    if stage.kind == "reconnect":
        need(stage.interval_s > 0, "interval_s", f"storm interval must be positive, got {stage.interval_s:g} s")
        need(0 < stage.fraction <= 1, "fraction", f"storm fraction must be in (0, 1], got {stage.fraction:g}")
        need(stage.mode in STORM_MODES, "mode", f"storm mode must be client or server, got {stage.mode!r}")
    if stage.kind in ("step", "ramp"):
        need(stage.step_s > 0, "step_s", f"step duration must be positive, got {stage.step_s:g} s")
        need(
            stage.step_users > 0 or (stage.rate is not None and stage.step_rate > 0),
            "step_users",
            "a step stage must add users (--step-users) or rate (--step-rate with --rate) at each step",
        )
        need(stage.knee_p99_ms > 0, "knee_p99_ms", f"knee p99 limit must be positive, got {stage.knee_p99_ms:g}")
        need(
            0 < stage.knee_error_rate <= 1,
            "knee_error_rate",
            f"knee error rate must be in (0, 1], got {stage.knee_error_rate:g}",
        )
    return problems


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


def named_plan(stages: list[Stage]) -> Plan:
    """The plan of `stages`, repeated kinds given distinct names (burst, burst-2, ...) unless named already."""
    seen: dict[str, int] = {}
    named = []
    for stage in stages:
        label = stage.label
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1 and not stage.name:
            stage = replace(stage, name=f"{label}-{seen[label]}")
        named.append(stage)
    return Plan(tuple(named))


PLAN_MESSAGE = "ws_plan"
"""Runner message carrying {"plan": Plan.to_data(), "t0": wall-clock start} from the shape to every user process."""


class PlanClock:
    """Answers "what should the load be now" in user processes; None when no plan steers the users."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._plan: Plan | None = None
        self._t0 = 0.0
        self._clock = clock

    @property
    def plan(self) -> Plan | None:
        """The plan in force, if any."""
        return self._plan

    def start(self, plan: Plan | None, t0: float) -> None:
        """Run `plan` as from wall-clock time `t0`; None stops steering."""
        self._plan = plan
        self._t0 = t0

    def stop(self) -> None:
        """No plan steers the users any more."""
        self._plan = None

    def elapsed(self) -> float:
        """Seconds since the plan started."""
        return self._clock() - self._t0

    def point(self) -> Point | None:
        """The load the plan asks for now; None without a plan. After its end, users stay connected and idle
        (never an unpaced closed loop around a rate stage) until Locust stops them."""
        plan = self._plan
        if plan is None:
            return None
        point = plan.at(self._clock() - self._t0)
        return point if point is not None else plan.ended()

    def on_message(self, environment: Any, msg: Any, **_: Any) -> None:
        """Runner message handler for PLAN_MESSAGE."""
        data = msg.data
        self.start(Plan.from_data(data["plan"]) if data.get("plan") else None, float(data["t0"]))


def plan_message(plan: Plan | None, t0: float) -> dict[str, Any]:
    """The payload of PLAN_MESSAGE."""
    return {"plan": plan.to_data() if plan is not None else None, "t0": t0}
