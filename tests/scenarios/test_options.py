"""Plans from --scenario options, read from the parsed options themselves; every bad value is one message naming
its option."""

from __future__ import annotations

import argparse

import pytest

from option_table import defaults
from scenarios.options import OPTIONS, plan_for, plan_from_options
from scenarios.profile import PlanError


def options(scenario: str, **values: object) -> argparse.Namespace:
    """Parsed options as Locust gives them: every scenario row's default, -u 10 -r 10 (Locust's own options, not
    rows of ours), `--scenario scenario`, then `values`."""
    return argparse.Namespace(
        **{**defaults(OPTIONS), "num_users": 10, "spawn_rate": 10.0, "scenario": scenario, **values}
    )


def test_scenario_list_becomes_one_stage_per_kind_with_common_values() -> None:
    plan = plan_from_options(
        options("sustained,burst,reconnect,burst", stage_duration="20s", num_users=8, spawn_rate=8, burst_period="5s")
    )
    assert [s.label for s in plan.stages] == ["sustained", "burst", "reconnect", "burst-2"]
    assert plan.duration_s == 80.0
    burst = plan.stages[1]
    assert (burst.height, burst.period_s, burst.width_s) == (8, 5.0, 1.0)  # height defaults to the user count


@pytest.mark.parametrize(
    ("parsed", "message"),
    [
        (options("sustained,wobble"), "--scenario: unknown stage 'wobble'"),
        (options(""), "--scenario: name at least one"),
        (options("rate"), "--rate: rate: a rate stage needs a target"),
        (options("rate", rate=-5), "--rate must be positive"),
        (options("burst", burst_width="10s", burst_period="5s"), "--burst-width: burst: burst width must be"),
        (options("burst", num_users=50, spawn_rate=1), "--spawn-rate: burst: 100 users at 1/s take 100.0 s"),
        (options("reconnect", storm_fraction=1.5), "--storm-fraction: reconnect: storm fraction"),
        (options("reconnect", storm_mode="maybe"), "--storm-mode: reconnect"),
        (options("sustained", stage_duration="soon"), "--stage-duration: not a duration"),
        (options("sustained", num_users=0), "--users: sustained: needs at least 1 user"),
        (options("churn"), "--session-rate: churn: a churn stage needs new sessions/s"),
        (options("churn", session_rate=50, rate=100), "--rate: churn: a churn stage paces sessions"),
    ],
)
def test_bad_options_name_the_option(parsed: argparse.Namespace, message: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_from_options(parsed)
    assert str(info.value).startswith(message), str(info.value)


def test_a_churn_stage_carries_its_session_rate_from_the_options() -> None:
    plan = plan_from_options(options("sustained,churn", num_users=20, session_rate=150))
    assert [s.session_rate for s in plan.stages] == [150, 150]  # only the churn stage uses it


def test_the_plan_checked_at_init_is_the_plan_that_runs() -> None:
    """Without -u / -r the stages get Locust's headless defaults (1 user, 1/s), as Locust sets them before the shape
    runs; a -u 0 is refused by name rather than run as 1 user."""
    plan = plan_for(options("sustained", num_users=None, spawn_rate=None))
    assert plan is not None and [(s.users, s.spawn_rate) for s in plan.stages] == [(1, 1.0)]
    with pytest.raises(PlanError, match="^--users: sustained: needs at least 1 user"):
        plan_for(options("sustained", num_users=0))
