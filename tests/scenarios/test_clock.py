"""The plan clock follows the plan from the start time it is given (time passed in)."""

from __future__ import annotations

from types import SimpleNamespace

from scenarios.clock import PlanClock, plan_message
from scenarios.profile import Plan, Stage


def test_clock_follows_the_plan_from_t0_and_survives_the_message_round_trip() -> None:
    now = [1000.0]
    clock = PlanClock(lambda: now[0])
    assert clock.point() is None
    plan = Plan((Stage("sustained", 5.0, 3, 3.0), Stage("reconnect", 5.0, 3, 3.0, interval_s=1.0)))
    clock.on_message(None, SimpleNamespace(data=plan_message(plan, t0=998.0)))
    assert clock.plan == plan
    first = clock.point()
    assert first is not None and first.stage == "sustained" and clock.elapsed() == 2.0
    now[0] = 1005.5  # 7.5 s in
    second = clock.point()
    assert second is not None and (second.stage, second.storm_epoch) == ("reconnect", 2)
    now[0] = 1010.0
    ended = clock.point()  # after the plan: users stay connected and idle until Locust stops them
    assert ended is not None and (ended.stage, ended.active_users, ended.rate, ended.users) == ("", 0, None, 3)
    clock.on_message(None, SimpleNamespace(data=plan_message(None, t0=0.0)))
    assert clock.plan is None
