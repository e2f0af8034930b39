"""Plans from TOML plan files; every bad value is one message naming the file, the stage and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.plan_file import plan_from_toml
from scenarios.profile import PlanError


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


def test_a_churn_stage_carries_its_session_rate_from_a_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text('users = 20\n[[stage]]\nkind = "churn"\nduration = "1m"\nsession_rate = 80\n')
    assert plan_from_toml(path).stages[0].session_rate == 80.0
