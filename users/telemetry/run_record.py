"""PREFIX_run.json: what ran (settings without secrets, versions, host, start) and, once it has, how it ended."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import locust
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from run_files import RUN_JSON, run_file
from users.load.config import config_state

logger = logging.getLogger(__name__)

RECORD_FORMAT = 1
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(r"secret|token|password|passwd|auth|credential|private_key_pass", re.I)
"""Option names whose values never go into the record (only whether they were set)."""
EARLY_SLACK_S = 1.5
"""A run that ended this much before its -t without a stop of its own was stopped from outside (signal, web UI)."""


def project_version() -> str:
    """The version in pyproject.toml (empty when it cannot be read)."""
    try:
        text = (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return ""
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    return match.group(1) if match else ""


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def public_options(options: Any) -> dict[str, Any]:
    """Every parsed option as JSON values; a secret's value (a text option named like one) becomes "(set)", or None
    when it was not given."""
    shown: dict[str, Any] = {}
    for name, value in sorted(vars(options).items()):
        if SECRET_NAME.search(name) and not isinstance(value, bool | int | float):
            shown[name] = "(set)" if value else None
        else:
            shown[name] = _plain(value)
    return shown


def start_record(options: Any, role: str, now_wall: float) -> dict[str, Any]:
    """The record written when a run starts (`ended` stays None until it has ended cleanly enough to say so)."""
    opts = public_options(options)
    return {
        "format": RECORD_FORMAT,
        "started_at": datetime.fromtimestamp(now_wall, UTC).isoformat(timespec="seconds"),
        "started_unix": round(now_wall, 3),
        "host": opts.get("host"),
        "protocol": opts.get("protocol"),
        "scenario": opts.get("scenario") or "",
        "plan": opts.get("plan") or "",
        "users": opts.get("num_users"),
        "run_time_s": opts.get("run_time"),
        "role": role,
        "locust_version": locust.__version__,
        "project_version": project_version(),
        "python_version": platform.python_version(),
        "options": opts,
        "ended": None,
    }


def end_reason(elapsed_s: float, run_time_s: float | None, stop_reason: str) -> str:
    """`completed`, `aborted: <why>` (the run stopped itself), or `stopped early` (ended before its -t)."""
    if stop_reason:
        return f"aborted: {stop_reason}"
    if run_time_s and elapsed_s < float(run_time_s) - EARLY_SLACK_S:
        return "stopped early"
    return "completed"


def end_record(
    record: Mapping[str, Any], now_wall: float, stop_reason: str, without_final: list[str], exit_code: int | None
) -> dict[str, Any]:
    """The record once the run's last ws.csv row is written: when and how it ended."""
    elapsed = now_wall - float(record["started_unix"])
    return {
        **record,
        "ended": {
            "at": datetime.fromtimestamp(now_wall, UTC).isoformat(timespec="seconds"),
            "elapsed_s": round(elapsed, 3),
            "reason": end_reason(elapsed, record.get("run_time_s"), stop_reason),
            "workers_without_final": sorted(without_final),
            "exit_code": exit_code,
        },
    }


def write_record(path: Path, record: Mapping[str, Any]) -> None:
    """Write `record` whole (a temporary file renamed over it: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(part, path)


class RunRecorder:
    """Writes PREFIX_run.json at test_start and again at test_stop (after the reporter's last row)."""

    def __init__(self, stop_reason: Callable[[], str], without_final: Callable[[], list[str]]) -> None:
        self._stop_reason = stop_reason
        self._without_final = without_final
        self._record: dict[str, Any] | None = None
        self._path: Path | None = None

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        config = config_state(environment).config
        prefix = config.csv_prefix if config is not None else None
        if config is None or not prefix or isinstance(environment.runner, WorkerRunner):
            return
        role = "master" if isinstance(environment.runner, MasterRunner) else "local"
        self._path = run_file(prefix, RUN_JSON)
        self._record = start_record(SimpleNamespace(**dict(config.every_option)), role, time.time())
        try:
            write_record(self._path, self._record)
        except OSError as exc:
            logger.warning("could not write %s: %s", self._path, exc.strerror or exc)
            self._path = None

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if self._path is None or self._record is None:
            return
        ended = end_record(
            self._record, time.time(), self._stop_reason(), self._without_final(), environment.process_exit_code
        )
        try:
            write_record(self._path, ended)
        except OSError as exc:
            logger.warning("could not write %s: %s", self._path, exc.strerror or exc)
        self._path = self._record = None
