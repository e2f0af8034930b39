"""The plan every process runs by: the plan and the wall-clock moment it started, set by a runner message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from scenarios.profile import Plan, Point

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
