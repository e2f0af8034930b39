"""Pure construction and validation of plans from `--scenario` options or a TOML plan file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from scenarios.durations import parse_duration
from scenarios.profile import STAGE_KINDS, STORM_MODES, Plan, Stage


class PlanError(ValueError):
    """A plan that cannot run; the message names the option or file and stage at fault."""


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


@dataclass(frozen=True)
class ScenarioOptions:
    """The command-line values that describe a `--scenario` plan (one stage per listed kind)."""

    scenario: str
    stage_duration: str = "30s"
    users: int = 10
    spawn_rate: float = 10.0
    rate: float = 0.0
    burst_height: int = 0
    burst_width: str = "1s"
    burst_period: str = "10s"
    storm_interval: str = "10s"
    storm_fraction: float = 1.0
    storm_mode: str = "client"
    step_users: int = 0
    step_rate: float = 0.0
    step_duration: str = "10s"
    max_users: int = 0
    max_rate: float = 0.0
    knee_p99_ms: float = 100.0
    knee_error_rate: float = 0.01
    session_rate: float = 0.0


# Stage field -> the option that sets it in --scenario mode (for error messages).
_OPTION_OF_FIELD = {
    "kind": "--scenario",
    "duration_s": "--stage-duration",
    "users": "--users",
    "spawn_rate": "--spawn-rate",
    "rate": "--rate",
    "height": "--burst-height",
    "width_s": "--burst-width",
    "period_s": "--burst-period",
    "interval_s": "--storm-interval",
    "fraction": "--storm-fraction",
    "mode": "--storm-mode",
    "step_users": "--step-users",
    "step_rate": "--step-rate",
    "step_s": "--step-duration",
    "max_users": "--max-users",
    "max_rate": "--max-rate",
    "knee_p99_ms": "--knee-p99-ms",
    "knee_error_rate": "--knee-error-rate",
    "session_rate": "--session-rate",
}


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


def plan_from_options(opts: ScenarioOptions) -> Plan:
    """The plan `--scenario a,b,c` describes; PlanError names the first option at fault."""
    kinds = [k.strip() for k in opts.scenario.split(",") if k.strip()]
    if not kinds:
        raise PlanError("--scenario: name at least one stage kind, e.g. sustained,burst,reconnect")

    def seconds(option: str, value: str) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise PlanError(f"{option}: {exc}") from None

    common = {
        "duration_s": seconds("--stage-duration", opts.stage_duration),
        "users": opts.users,
        "spawn_rate": opts.spawn_rate,
        "rate": opts.rate or None,
        "height": opts.burst_height or opts.users,
        "width_s": seconds("--burst-width", opts.burst_width),
        "period_s": seconds("--burst-period", opts.burst_period),
        "interval_s": seconds("--storm-interval", opts.storm_interval),
        "fraction": opts.storm_fraction,
        "mode": opts.storm_mode,
        "step_users": opts.step_users or (opts.users if not opts.rate else 0),
        "step_rate": opts.step_rate or (opts.rate or 0.0),
        "step_s": seconds("--step-duration", opts.step_duration),
        "max_users": opts.max_users,
        "max_rate": opts.max_rate,
        "knee_p99_ms": opts.knee_p99_ms,
        "knee_error_rate": opts.knee_error_rate,
        "session_rate": opts.session_rate or None,
    }
    if opts.rate < 0:
        raise PlanError(f"--rate must be positive calls/s (or 0 for closed loop), got {opts.rate:g}")
    stages = []
    for kind in kinds:
        if kind not in STAGE_KINDS:
            raise PlanError(f"--scenario: unknown stage {kind!r} (one of {', '.join(STAGE_KINDS)})")
        stage = Stage(kind=kind, **common)
        for name, message in stage_problems(stage):
            raise PlanError(f"{_OPTION_OF_FIELD.get(name, name)}: {kind}: {message}")
        stages.append(stage)
    return _named(stages)


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
    return _named(stages)


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


def _named(stages: list[Stage]) -> Plan:
    """Give repeated kinds distinct names (burst, burst-2, ...) unless named already."""
    seen: dict[str, int] = {}
    named = []
    for stage in stages:
        label = stage.label
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1 and not stage.name:
            stage = replace(stage, name=f"{label}-{seen[label]}")
        named.append(stage)
    return Plan(tuple(named))
