"""Plans from a TOML plan file (`--plan`), every bad value named by file, stage and key."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from scenarios.durations import parse_duration
from scenarios.profile import Plan, PlanError, Stage, named_plan, stage_problems

# TOML key -> Stage field, for keys whose names differ; durations are parsed.
_TOML_KEYS = {
    "duration": "duration_s",
    "width": "width_s",
    "period": "period_s",
    "interval": "interval_s",
    "step": "step_s",
}
_DURATION_FIELDS = {"duration_s", "width_s", "period_s", "interval_s", "step_s"}
_STAGE_FIELDS = {f.name for f in fields(Stage)}
_INT_FIELDS = {"users", "height", "step_users", "max_users"}
_STR_FIELDS = {"kind", "name", "mode"}


def plan_from_toml(path: Path, defaults: dict[str, Any] | None = None) -> Plan:
    """The plan a TOML file describes: top-level keys are defaults for every `[[stage]]`."""
    where = f"--plan {path}"
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise PlanError(f"{where}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{where}: not valid TOML: {exc}") from None
    raw_stages = data.pop("stage", None)
    if not isinstance(raw_stages, list) or not raw_stages:
        raise PlanError(f"{where}: needs at least one [[stage]] table")
    base = dict(defaults or {})
    base.update(_stage_fields(data, f"{where}: top level"))
    stages = []
    for number, raw in enumerate(raw_stages, start=1):
        if not isinstance(raw, dict):
            raise PlanError(f"{where}: stage {number} is not a table")
        values = {**base, **_stage_fields(raw, f"{where}: stage {number}")}
        kind = values.get("kind", "?")
        values.setdefault("users", 10)
        values.setdefault("spawn_rate", float(values["users"]))
        if "duration_s" not in values:
            raise PlanError(f"{where}: stage {number} ({kind}): needs a duration")
        if kind == "burst":
            values.setdefault("height", values["users"])
        if kind in ("step", "ramp") and not values.get("step_users") and not values.get("step_rate"):
            values["step_users"] = values["users"]
        try:
            stage = Stage(**values)
        except TypeError as exc:
            raise PlanError(f"{where}: stage {number} ({kind}): {exc}") from None
        for name, message in stage_problems(stage):
            raise PlanError(f"{where}: stage {number} ({kind}): {name.removesuffix('_s')}: {message}")
        stages.append(stage)
    return named_plan(stages)


def _stage_fields(raw: dict[str, Any], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _TOML_KEYS.get(key, key)
        if name not in _STAGE_FIELDS:
            raise PlanError(f"{where}: unknown key {key!r}")
        if name in _DURATION_FIELDS:
            try:
                value = parse_duration(value)
            except ValueError as exc:
                raise PlanError(f"{where}: {key}: {exc}") from None
        elif name in _STR_FIELDS:
            if not isinstance(value, str):
                raise PlanError(f"{where}: {key} must be a string, got {value!r}")
        elif name in _INT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise PlanError(f"{where}: {key} must be a whole number, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PlanError(f"{where}: {key} must be a number, got {value!r}")
        else:
            value = float(value)
        values[name] = value
    return values
