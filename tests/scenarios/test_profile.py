"""Every stage boundary of every kind, as a pure function of elapsed time, and the plan clock that follows a plan from
the start time it is given (time passed in, no sleeping)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from scenarios.profile import Plan, PlanClock, Point, Stage, plan_message


def stage(kind: str, **kw: object) -> Stage:
    values = {"duration_s": 10.0, "users": 10, "spawn_rate": 100.0, **kw}
    return Stage(kind=kind, **values)  # type: ignore[arg-type]


def test_stages_run_back_to_back_and_the_plan_ends() -> None:
    plan = Plan((stage("sustained", users=5), stage("rate", users=4, rate=1000.0, duration_s=5.0)))
    assert plan.duration_s == 15.0
    assert plan.at(-1.0) == plan.at(0.0)
    first = plan.at(0.0)
    assert first is not None and (first.stage, first.stage_index, first.users, first.rate) == ("sustained", 0, 5, None)
    last_of_first = plan.at(9.999)
    assert last_of_first is not None and last_of_first.stage == "sustained"
    second = plan.at(10.0)
    assert second is not None and (second.stage, second.stage_index, second.users, second.rate) == (
        "rate",
        1,
        4,
        1000.0,
    )
    assert second.stage_elapsed_s == 0.0
    assert plan.at(14.999) is not None
    assert plan.at(15.0) is None


def test_burst_connects_everyone_and_activates_spikes_in_the_last_width_of_each_period() -> None:
    burst = stage("burst", users=10, height=30, width_s=0.25, period_s=2.0, duration_s=6.0)
    plan = Plan((burst,))

    def active(t: float) -> int:
        point = plan.at(t)
        assert point is not None and point.users == 40
        return point.active_users

    assert [active(t) for t in (0.0, 1.0, 1.7499)] == [10, 10, 10]
    assert [active(t) for t in (1.75, 1.9999)] == [40, 40]
    assert [active(t) for t in (2.0, 3.75, 3.9999, 4.0, 5.75)] == [10, 40, 40, 10, 40]
    waits = [plan.at(t).until_change_s for t in (0.0, 1.5, 1.75, 1.9)]  # type: ignore[union-attr]
    assert waits == pytest.approx([1.75, 0.25, 0.25, 0.1])
    assert plan.at(5.9).until_change_s == pytest.approx(0.1)  # type: ignore[union-attr]  # stage end


def test_burst_with_a_rate_spikes_the_rate_in_proportion() -> None:
    plan = Plan((stage("burst", users=10, height=10, width_s=1.0, period_s=4.0, rate=500.0),))
    assert plan.at(0.0).rate == 500.0  # type: ignore[union-attr]
    assert plan.at(3.5).rate == 1000.0  # type: ignore[union-attr]


def test_reconnect_storm_epochs_tick_at_each_interval() -> None:
    plan = Plan((stage("reconnect", interval_s=3.0, fraction=0.5, mode="server"),))
    epochs = [plan.at(t).storm_epoch for t in (0.0, 2.999, 3.0, 5.999, 6.0, 9.999)]  # type: ignore[union-attr]
    assert epochs == [0, 0, 1, 1, 2, 3]
    assert plan.at(4.0).until_change_s == pytest.approx(2.0)  # type: ignore[union-attr]
    point = plan.at(4.0)
    assert point is not None and (point.storm_fraction, point.storm_mode) == (0.5, "server")


def test_step_adds_users_each_step_and_caps() -> None:
    plan = Plan((stage("step", users=10, step_users=5, step_s=2.0, max_users=20, duration_s=8.0),))
    assert plan.stages[0].steps == 4
    seen = [(plan.at(t).step_index, plan.at(t).users) for t in (0.0, 1.999, 2.0, 4.0, 6.0, 7.999)]  # type: ignore[union-attr]
    assert seen == [(0, 10), (0, 10), (1, 15), (2, 20), (3, 20), (3, 20)]
    assert plan.at(2.5).until_change_s == pytest.approx(1.5)  # type: ignore[union-attr]


def test_step_on_rate() -> None:
    plan = Plan((stage("step", users=4, rate=100.0, step_rate=50.0, step_s=1.0, max_rate=180.0, duration_s=4.0),))
    assert [plan.at(t).rate for t in (0.5, 1.5, 2.5, 3.5)] == [100.0, 150.0, 180.0, 180.0]  # type: ignore[union-attr]
    assert plan.at(3.5).users == 4  # type: ignore[union-attr]


def test_soak_and_sustained_hold_steady() -> None:
    plan = Plan((stage("soak", users=7, duration_s=3600.0),))
    assert plan.at(1800.0) == Point("soak", 0, 7, 100.0, 7, None, stage_elapsed_s=1800.0, until_change_s=1800.0)


def test_plan_survives_a_round_trip_as_data() -> None:
    plan = Plan((stage("burst", height=3, name="spiky"), stage("reconnect", fraction=0.25)))
    assert Plan.from_data(plan.to_data()) == plan
    assert [s.label for s in plan.stages] == ["spiky", "reconnect"]


@pytest.mark.parametrize("t", [0.0, 5.0, 9.99])
def test_connections_never_fewer_than_active(t: float) -> None:
    for kind in ("sustained", "burst", "reconnect", "step", "ramp", "soak"):
        point = Plan((stage(kind, height=5, step_users=1),)).at(t)
        assert point is not None and point.active_users <= point.users


def test_a_churn_stage_asks_for_its_sessions_per_second_and_other_stages_for_none() -> None:
    plan = Plan((stage("sustained", session_rate=40.0), stage("churn", session_rate=40.0)))
    sustained, churn = plan.at(5.0), plan.at(12.0)
    assert sustained is not None and sustained.session_rate is None
    assert churn is not None and churn.session_rate == 40.0 and churn.users == churn.active_users == 10
    assert churn.until_change_s == 8.0 and churn.rate is None
    assert Plan.from_data(plan.to_data()) == plan


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
