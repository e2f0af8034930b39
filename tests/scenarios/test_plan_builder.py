"""Plans from --scenario options and TOML files; every bad value is one message naming its option."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.durations import parse_duration
from scenarios.plan_builder import PlanError, ScenarioOptions, plan_from_options, plan_from_toml


@pytest.mark.parametrize(
    ("text", "seconds"), [(30, 30.0), ("30", 30.0), ("30s", 30.0), ("500ms", 0.5), ("2m", 120.0), ("1h30m", 5400.0)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5 parsecs", "1x", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]


def test_scenario_list_becomes_one_stage_per_kind_with_common_values() -> None:
    plan = plan_from_options(
        ScenarioOptions(
            "sustained,burst,reconnect,burst", stage_duration="20s", users=8, spawn_rate=8, burst_period="5s"
        )
    )
    assert [s.label for s in plan.stages] == ["sustained", "burst", "reconnect", "burst-2"]
    assert plan.duration_s == 80.0
    burst = plan.stages[1]
    assert (burst.height, burst.period_s, burst.width_s) == (8, 5.0, 1.0)  # height defaults to the user count


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ScenarioOptions("sustained,wobble"), "--scenario: unknown stage 'wobble'"),
        (ScenarioOptions(""), "--scenario: name at least one"),
        (ScenarioOptions("rate"), "--rate: rate: a rate stage needs a target"),
        (ScenarioOptions("rate", rate=-5), "--rate must be positive"),
        (ScenarioOptions("burst", burst_width="10s", burst_period="5s"), "--burst-width: burst: burst width must be"),
        (ScenarioOptions("burst", users=50, spawn_rate=1), "--spawn-rate: burst: 100 users at 1/s take 100.0 s"),
        (ScenarioOptions("reconnect", storm_fraction=1.5), "--storm-fraction: reconnect: storm fraction"),
        (ScenarioOptions("reconnect", storm_mode="maybe"), "--storm-mode: reconnect"),
        (ScenarioOptions("sustained", stage_duration="soon"), "--stage-duration: not a duration"),
        (ScenarioOptions("sustained", users=0), "--users: sustained: needs at least 1 user"),
        (ScenarioOptions("churn"), "--session-rate: churn: a churn stage needs new sessions/s"),
        (ScenarioOptions("churn", session_rate=50, rate=100), "--rate: churn: a churn stage paces sessions"),
    ],
)
def test_bad_options_name_the_option(options: ScenarioOptions, message: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_from_options(options)
    assert str(info.value).startswith(message), str(info.value)


def test_toml_plan_with_defaults(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(
        """
users = 20
spawn_rate = 40

[[stage]]
kind = "sustained"
duration = "30s"

[[stage]]
kind = "burst"
name = "lunch-rush"
duration = "1m"
height = 60
width = "500ms"
period = "5s"

[[stage]]
kind = "rate"
duration = 45
users = 10
rate = 2000
"""
    )
    plan = plan_from_toml(plan_file)
    assert [(s.kind, s.label, s.duration_s, s.users) for s in plan.stages] == [
        ("sustained", "sustained", 30.0, 20),
        ("burst", "lunch-rush", 60.0, 20),
        ("rate", "rate", 45.0, 10),
    ]
    assert plan.stages[1].width_s == 0.5 and plan.stages[2].rate == 2000.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not = [valid", "not valid TOML"),
        ("users = 3", "needs at least one [[stage]]"),
        ('[[stage]]\nkind = "sustained"', "stage 1 (sustained): needs a duration"),
        ('[[stage]]\nkind = "sustained"\nduration = "1s"\ncolour = "red"', "stage 1: unknown key 'colour'"),
        ('[[stage]]\nkind = "sustained"\nduration = "1s"\nusers = "many"', "users must be a whole number"),
        (
            '[[stage]]\nkind = "burst"\nduration = "1s"\nwidth = "2s"\nperiod = "1s"',
            "stage 1 (burst): width: burst width",
        ),
        ('[[stage]]\nkind = "jog"\nduration = "1s"', "stage 1 (jog): kind: unknown stage kind"),
    ],
)
def test_bad_plan_files_name_file_stage_and_key(tmp_path: Path, content: str, message: str) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(content)
    with pytest.raises(PlanError) as info:
        plan_from_toml(plan_file)
    assert str(info.value).startswith(f"--plan {plan_file}"), str(info.value)
    assert message in str(info.value)


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read"):
        plan_from_toml(tmp_path / "absent.toml")


def test_a_churn_stage_carries_its_session_rate_from_the_options_and_from_a_plan_file(tmp_path: Path) -> None:
    plan = plan_from_options(ScenarioOptions("sustained,churn", users=20, session_rate=150))
    assert [s.session_rate for s in plan.stages] == [150, 150]  # only the churn stage uses it
    path = tmp_path / "plan.toml"
    path.write_text('users = 20\n[[stage]]\nkind = "churn"\nduration = "1m"\nsession_rate = 80\n')
    assert plan_from_toml(path).stages[0].session_rate == 80.0
